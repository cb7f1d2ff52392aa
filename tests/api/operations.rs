//! Health, readiness, metrics and the OpenAPI contract.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::TestApp;

#[tokio::test]
async fn health_and_readiness_report_the_simulated_cluster() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["cluster_simulated"], true);
    assert!(body["cluster"].as_str().unwrap().contains("simulated"));
}

#[tokio::test]
async fn readiness_fails_when_the_cluster_does_not_answer() {
    let app = TestApp::spawn().await;
    app.sim.update_settings(|s| s.error_rate = 1.0);
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "not ready");
    assert!(
        body["cluster"].as_str().unwrap().contains("unavailable"),
        "{body}"
    );
}

#[tokio::test]
async fn metrics_are_prometheus_text_named_blueberry() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    app.create_environment("demo", &repo).await;
    app.wait_for_status("demo-shop", "ready", std::time::Duration::from_secs(10))
        .await;
    let text = app.get("/metrics").await.text().await.unwrap();
    for needle in [
        "blueberry_jobs_total{kind=\"reconcile\",outcome=\"done\"}",
        "blueberry_reconcile_duration_seconds_count",
        "blueberry_queue_depth{state=\"ready\"}",
        "blueberry_create_to_ready_seconds_count 1",
        "blueberry_environments_created_total 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

fn sample_path(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "sample" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, _) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let url = format!("{}{}", app.url, sample_path(path));
            let mut req = app.client.request(method.clone(), &url);
            if path.contains("/events/") {
                req = req.timeout(std::time::Duration::from_millis(300));
            }
            if let Ok(r) = req
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
            {
                assert_ne!(
                    r.status(),
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}"
                );
                if r.status() == StatusCode::NOT_FOUND {
                    let body: Value = r.json().await.unwrap();
                    assert_ne!(
                        body["type"], "/problems/no-such-route",
                        "{method} {path} is documented but not routed"
                    );
                }
            }
            operations += 1;
        }
    }
    assert!(operations >= 20, "only {operations} operations documented");
    for expected in [
        "/api/environments",
        "/api/environments/{id}",
        "/api/environments/{id}/retry",
        "/api/events/environments",
        "/api/repositories/{id}",
        "/api/config-sets/{id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            paths.contains_key(expected),
            "{expected} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["EnvironmentResponse"].is_object());
}
