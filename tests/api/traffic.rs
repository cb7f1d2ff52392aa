//! Ingress traffic as activity: with `--prometheus-url`, hosts that got requests (ingress-nginx's
//! `nginx_ingress_controller_requests`, summed by host) mark their environments used, so a
//! visited environment does not sleep for being idle. Prometheus is faked with wiremock.

use std::time::Duration;

use blueberry::clock::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

use crate::helpers::TestApp;

const WITHIN: Duration = Duration::from_secs(15);

/// Waits until Prometheus has been asked `more` more times than `before`.
async fn asked(prometheus: &MockServer, before: usize, more: usize) -> usize {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let n = prometheus
            .received_requests()
            .await
            .unwrap_or_default()
            .len();
        if n >= before + more {
            return n;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Prometheus asked {n} times"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn requests_to_an_environments_host_keep_it_from_idle_sleep() {
    let prometheus = MockServer::start().await;
    let sample = |host: &str, n: &str| json!({"metric": {"host": host}, "value": [1.78e9, n]});
    Mock::given(method("GET"))
        .and(path("/api/v1/query"))
        .and(query_param(
            "query",
            r#"sum by (host) (increase(nginx_ingress_controller_requests{host=~".+\\.preview\\.localhost"}[60s]))"#,
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success",
            "data": {"resultType": "vector", "result": [
                sample("busy-shop.preview.localhost", "12"),
                sample("idle-shop.preview.localhost", "0"),
                sample("gone-shop.preview.localhost", "3"),
                sample("elsewhere.example.com", "7"),
            ]}
        })))
        .mount(&prometheus)
        .await;
    let url = prometheus.uri();
    let app = TestApp::spawn_with(move |c| {
        c.resync_secs = 1;
        c.prometheus_url = Some(url);
        c.prometheus_interval_secs = 1;
    })
    .await;
    let cs = app.create_config_set("web").await;
    let r = app
        .post(
            "/api/repositories",
            &json!({"name": "shop", "gitlab_project_id": 15, "path_with_namespace": "acme/shop",
                    "config_set_id": cs["id"], "sleep_after_idle_minutes": 30}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let repo: Value = r.json().await.unwrap();
    let repo = repo["id"].as_str().unwrap();
    app.create_environment("busy", repo).await;
    app.create_environment("idle", repo).await;
    app.wait_for_status("busy-shop", "ready", WITHIN).await;
    app.wait_for_status("idle-shop", "ready", WITHIN).await;

    // 20 minutes on, two looks at Prometheus later (the second began after the first's
    // touches): `busy` was used then, `idle` was not.
    app.clock.advance(chrono::Duration::minutes(20));
    let seen = asked(&prometheus, 0, 0).await;
    asked(&prometheus, seen, 2).await;
    let busy = app.environment("busy-shop").await;
    let used: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(busy["last_active_at"].clone()).unwrap();
    assert!(
        app.clock.now() - used < chrono::Duration::minutes(1),
        "busy was used just now: {busy}"
    );
    // 11 minutes more: `idle` has been idle 31 minutes and sleeps; `busy`, used 11 minutes
    // ago, does not.
    app.clock.advance(chrono::Duration::minutes(11));
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let idle = app.environment("idle-shop").await;
        if idle["sleeping"] == true {
            assert_eq!(idle["asleep_by"], "idle");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never slept: {idle}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.environment("busy-shop").await["sleeping"], false);
}

#[tokio::test]
async fn prometheus_trouble_is_logged_and_changes_nothing() {
    let prometheus = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/query"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "errorType": "bad_data", "error": "parse error"
        })))
        .mount(&prometheus)
        .await;
    let url = prometheus.uri();
    let app = TestApp::spawn_with(move |c| {
        c.prometheus_url = Some(url);
        c.prometheus_interval_secs = 1;
    })
    .await;
    let cs = app.create_config_set("web").await;
    let repo = app
        .create_repository("shop", 15, cs["id"].as_str().unwrap())
        .await;
    app.create_environment("calm", repo["id"].as_str().unwrap())
        .await;
    app.wait_for_status("calm-shop", "ready", WITHIN).await;
    asked(&prometheus, 0, 2).await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    assert_eq!(app.environment("calm-shop").await["status"], "ready");
}
