//! Streams and slow requests cannot exhaust a replica: SSE streams are capped per process and
//! per caller (503 with `Retry-After`, counted), and a request not answered within
//! `--request-timeout-secs` gets 503.

use std::{sync::Arc, time::Duration};

use reqwest::StatusCode;

use crate::{
    faults::{FaultyStore, StoreFaults},
    helpers::{SseClient, TestApp, client_with},
};

async fn open(app: &TestApp, token: &str) -> reqwest::Response {
    client_with(token)
        .get(format!("{}/api/events/environments", app.url))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sse_streams_are_capped_per_process_and_per_caller() {
    let app = TestApp::spawn_with(|c| {
        c.max_sse_clients = 3;
        c.max_sse_clients_per_caller = 2;
    })
    .await;
    let developer = app.token("developer").await;
    let first = SseClient::connect(&app, "", None).await;
    let _second = SseClient::connect(&app, "", None).await;
    let third = open(&app, crate::helpers::ADMIN_TOKEN).await;
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(third.headers()["retry-after"], "5");
    let body: serde_json::Value = third.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("--max-sse-clients-per-caller"),
        "{body}"
    );
    // Another caller still gets one, up to the process's cap.
    let theirs = open(&app, &developer).await;
    assert_eq!(theirs.status(), StatusCode::OK);
    let over = open(&app, &developer).await;
    assert_eq!(over.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        over.text().await.unwrap().contains("--max-sse-clients"),
        "the process cap is named"
    );
    // A closed stream gives its place back.
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        let r = open(&app, crate::helpers::ADMIN_TOKEN).await;
        if r.status() == StatusCode::OK {
            again = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "the slot came back");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("blueberry_sse_clients 3"), "{metrics}");
    assert!(metrics.contains("blueberry_sse_refused_total"), "{metrics}");
}

#[tokio::test]
async fn a_request_not_answered_in_time_gets_503() {
    let faults = Arc::new(StoreFaults::default());
    let adapt = FaultyStore::adapt(&faults);
    let app = TestApp::spawn_adapted(|c| c.request_timeout_secs = 1, adapt).await;
    let repo = app.seed().await;
    app.create_environment("slow", &repo).await;
    // Settled first, so the next read of the record is the request's.
    app.wait_for_status("slow-shop", "ready", Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    faults.after_read.lock().unwrap().insert(
        "slow-shop".into(),
        Box::new(|| Box::pin(tokio::time::sleep(Duration::from_secs(5)))),
    );
    let started = std::time::Instant::now();
    let r = app.get("/api/environments/slow-shop").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}
