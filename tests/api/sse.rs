//! Server-Sent Events: every change, in order, resumable with Last-Event-ID.

use std::{collections::HashMap, time::Duration};

use futures::future::join_all;
use serde_json::json;

use crate::helpers::{SseClient, SseEvent, TestApp};

async fn read_until_all_ready(
    client: &mut SseClient,
    count: usize,
    within: Duration,
) -> Vec<SseEvent> {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = Vec::new();
    let mut ready = std::collections::HashSet::new();
    while ready.len() < count {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let event = client
            .next(left)
            .await
            .unwrap_or_else(|| panic!("only {} of {count} ready before the deadline", ready.len()));
        assert_eq!(event.event, "environment");
        if event.data["status"] == "ready" {
            ready.insert(event.data["id"].as_str().unwrap().to_owned());
        }
        seen.push(event);
    }
    seen
}

fn ids(events: &[SseEvent]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn two_hundred_environments_reach_ready_and_every_transition_streams_in_order() {
    let app = TestApp::spawn_with(|c| {
        c.workers = 16;
        c.sim_ready_delay_ms = 100;
    })
    .await;
    let repo = app.seed().await;
    let mut watcher = SseClient::connect(&app, "", None).await;
    let mut early = SseClient::connect(&app, "", None).await;

    let bodies: Vec<_> = (0..200)
        .map(|i| json!({"name": format!("load-{i}"), "repository_id": repo}))
        .collect();
    let creates = bodies.iter().map(|b| app.post("/api/environments", b));
    for r in join_all(creates).await {
        assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    }
    let all = read_until_all_ready(&mut watcher, 200, Duration::from_secs(90)).await;

    // Every change, none skipped: ids are consecutive.
    let seqs = ids(&all);
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "change ids must be consecutive"
    );

    // Per environment: versions strictly increase; pending comes before ready; nothing after ready.
    let mut per_env: HashMap<String, Vec<(u64, String)>> = HashMap::new();
    for e in &all {
        per_env
            .entry(e.data["id"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                e.data["version"].as_u64().unwrap(),
                e.data["status"].as_str().unwrap().to_owned(),
            ));
    }
    assert_eq!(per_env.len(), 200);
    for (id, history) in &per_env {
        assert!(
            history.windows(2).all(|w| w[1].0 > w[0].0),
            "{id}: versions out of order {history:?}"
        );
        assert_eq!(history.first().unwrap().1, "pending", "{id}");
        assert_eq!(history.last().unwrap().1, "ready", "{id}");
        assert_eq!(
            history.iter().filter(|(_, s)| s == "ready").count(),
            1,
            "{id}"
        );
    }

    // A client that drops after 150 events and resumes with Last-Event-ID misses nothing.
    let mut first_part = Vec::new();
    for _ in 0..150 {
        first_part.push(early.next(Duration::from_secs(10)).await.unwrap());
    }
    drop(early);
    let last = first_part.last().unwrap().id.clone().unwrap();
    let mut resumed = SseClient::connect(&app, "", Some(&last)).await;
    let mut rest = Vec::new();
    while rest.len() + first_part.len() < all.len() {
        rest.push(
            resumed
                .next(Duration::from_secs(10))
                .await
                .expect("resumed stream ended early"),
        );
    }
    let mut joined = ids(&first_part);
    joined.extend(ids(&rest));
    assert_eq!(joined, seqs);
}

#[tokio::test]
async fn the_stream_filters_by_environment_and_repository() {
    let app = TestApp::spawn().await;
    let cs = app.create_config_set("web").await;
    let cs = cs["id"].as_str().unwrap();
    let shop = app.create_repository("shop", 1, cs).await;
    let billing = app.create_repository("billing", 2, cs).await;
    let mut only_one = SseClient::connect(&app, "?environment_id=a-shop", None).await;
    let mut only_billing = SseClient::connect(
        &app,
        &format!("?repository_id={}", billing["id"].as_str().unwrap()),
        None,
    )
    .await;
    app.create_environment("a", shop["id"].as_str().unwrap())
        .await;
    app.create_environment("b", shop["id"].as_str().unwrap())
        .await;
    app.create_environment("c", billing["id"].as_str().unwrap())
        .await;
    app.wait_for_status("c-billing", "ready", Duration::from_secs(10))
        .await;
    app.wait_for_status("a-shop", "ready", Duration::from_secs(10))
        .await;
    while let Some(e) = only_one.next(Duration::from_millis(500)).await {
        assert_eq!(e.data["id"], "a-shop");
    }
    let mut saw = 0;
    while let Some(e) = only_billing.next(Duration::from_millis(500)).await {
        assert_eq!(e.data["id"], "c-billing");
        saw += 1;
    }
    assert!(saw >= 2, "pending and ready at least");
}

#[tokio::test]
async fn a_bad_last_event_id_is_refused() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(format!("{}/api/events/environments", app.url))
        .header("last-event-id", "abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
}
