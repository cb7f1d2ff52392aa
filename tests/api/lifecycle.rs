//! The lifecycle engine end to end: workers, retries, teardown, the reaper.

use std::time::Duration;

use blueberry::sim::FaultMode;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_environment_goes_pending_to_ready_and_deleting_to_terminated() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let env = app.create_environment("demo", &repo).await;
    assert_eq!(env["status"], "pending");
    let ready = app
        .wait_for_status("demo-shop", "ready", Duration::from_secs(10))
        .await;
    assert_eq!(ready["kubernetes"]["health"], "Healthy");
    assert_eq!(ready["kubernetes"]["sync"], "Synced");
    assert_eq!(app.applications(), ["env-demo-shop"]);

    assert_eq!(
        app.delete("/api/environments/demo-shop").await.status(),
        StatusCode::ACCEPTED
    );
    let gone = app
        .wait_for_status("demo-shop", "terminated", Duration::from_secs(10))
        .await;
    assert!(gone["terminated_at"].is_string());
    assert!(
        app.applications().is_empty(),
        "the Application is gone from the cluster"
    );
    let history = kinds(&app.events("demo-shop").await);
    assert_eq!(history.first().map(String::as_str), Some("created"));
    for expected in [
        "applied",
        "progressing",
        "healthy",
        "teardown_requested",
        "terminated",
    ] {
        assert!(
            history.iter().any(|k| k == expected),
            "{expected} missing from {history:?}"
        );
    }
}

#[tokio::test]
async fn the_rendered_application_carries_the_environment_and_overrides() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    app.post(
        "/api/environments",
        &json!({"name": "demo", "repository_id": repo, "branch": "feature/x",
                                           "helm_values_override": {"backend": {"replicas": 3}}}),
    )
    .await;
    app.wait_for_status("demo-shop", "ready", Duration::from_secs(10))
        .await;
    let obj = app.sim.get("argocd", "env-demo-shop").unwrap();
    assert_eq!(obj["spec"]["destination"]["namespace"], "bb-demo-shop");
    assert_eq!(obj["spec"]["source"]["targetRevision"], "feature/x");
    assert_eq!(
        obj["spec"]["source"]["helm"]["valuesObject"]["backend"]["replicas"],
        3
    );
    assert_eq!(
        obj["spec"]["source"]["helm"]["valuesObject"]["blueberry"]["hostname"],
        "demo-shop.preview.localhost"
    );
    assert_eq!(
        obj["metadata"]["labels"]["blueberry.io/environment"],
        "demo-shop"
    );
    assert_eq!(
        obj["metadata"]["finalizers"],
        json!(["resources-finalizer.argocd.argoproj.io"])
    );
}

#[tokio::test]
async fn a_degraded_application_is_retried_with_growing_delays_then_fails_and_retry_recovers() {
    let app = TestApp::spawn_with(|c| {
        c.max_attempts = 3;
        c.retry_base_delay_ms = 200;
    })
    .await;
    let repo = app.seed().await;
    app.sim
        .set_fault("env-demo-shop", Some(FaultMode::Degraded));
    app.create_environment("demo", &repo).await;
    let failed = app
        .wait_for_status("demo-shop", "failed", Duration::from_secs(20))
        .await;
    let message = failed["status_message"].as_str().unwrap();
    assert!(
        message.contains("failed after 3 attempts") && message.contains("progress deadline"),
        "{message}"
    );
    assert_eq!(failed["attempt"], 3);

    let events = app.events("demo-shop").await;
    let scheduled: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "retry_scheduled")
        .collect();
    assert_eq!(scheduled.len(), 2, "{:?}", kinds(&events));
    let when = |e: &Value| {
        let msg = e["message"].as_str().unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(msg.rsplit(' ').next().unwrap()).unwrap();
        let recorded = chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap();
        (at - recorded).num_milliseconds()
    };
    let (first, second) = (when(scheduled[0]), when(scheduled[1]));
    assert!(second > first, "delays grow: {first} ms then {second} ms");
    assert_eq!(events.iter().filter(|e| e["kind"] == "degraded").count(), 3);
    assert_eq!(events.last().unwrap()["kind"], "failed");

    // Retrying a failed environment that is still broken is allowed; retrying a ready one is not.
    app.sim.set_fault("env-demo-shop", None);
    let r = app
        .post("/api/environments/demo-shop/retry", &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["status"].as_str(), body["attempt"].as_u64()),
        (Some("pending"), Some(1))
    );
    app.wait_for_status("demo-shop", "ready", Duration::from_secs(10))
        .await;
    let r = app
        .post("/api/environments/demo-shop/retry", &json!({}))
        .await;
    assert_problem(r, StatusCode::CONFLICT, "only failed environments").await;
}

#[tokio::test]
async fn redeploy_starts_a_new_deployment_and_reaches_ready_again() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    app.create_environment("demo", &repo).await;
    app.wait_for_status("demo-shop", "ready", Duration::from_secs(10))
        .await;
    let before = app.sim.get("argocd", "env-demo-shop").unwrap();
    let r = app
        .post("/api/environments/demo-shop/redeploy", &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    app.wait_for_status("demo-shop", "ready", Duration::from_secs(10))
        .await;
    let after = app.sim.get("argocd", "env-demo-shop").unwrap();
    assert_eq!(
        before["metadata"]["annotations"]["blueberry.io/deployment"],
        "1.1"
    );
    assert_eq!(
        after["metadata"]["annotations"]["blueberry.io/deployment"],
        "2.1"
    );
    assert!(kinds(&app.events("demo-shop").await).contains(&"redeploy_requested".to_owned()));
}

#[tokio::test]
async fn extending_pushes_expiry_but_never_past_a_week() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let env = app
        .post(
            "/api/environments",
            &json!({"name": "demo", "repository_id": repo, "ttl_hours": 2}),
        )
        .await;
    let env: Value = env.json().await.unwrap();
    let expires = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v["expires_at"].as_str().unwrap()).unwrap()
    };
    let r = app
        .post("/api/environments/demo-shop/extend", &json!({"hours": 24}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let extended: Value = r.json().await.unwrap();
    assert_eq!(
        expires(&extended) - expires(&env),
        chrono::Duration::hours(24)
    );
    let r = app
        .post("/api/environments/demo-shop/extend", &json!({"hours": 168}))
        .await;
    let capped: Value = r.json().await.unwrap();
    let week = chrono::Utc::now() + chrono::Duration::hours(168);
    assert!(
        (expires(&capped).with_timezone(&chrono::Utc) - week)
            .num_seconds()
            .abs()
            < 30
    );
    assert_problem(
        app.post("/api/environments/demo-shop/extend", &json!({"hours": 0}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "hours",
    )
    .await;
    assert_problem(
        app.post("/api/environments/demo-shop/extend", &json!({}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "hours",
    )
    .await;
}

#[tokio::test]
async fn the_reaper_tears_down_expired_environments() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    app.post(
        "/api/environments",
        &json!({"name": "short", "repository_id": repo, "ttl_hours": 1}),
    )
    .await;
    app.post(
        "/api/environments",
        &json!({"name": "long", "repository_id": repo, "ttl_hours": 48}),
    )
    .await;
    app.wait_for_status("short-shop", "ready", Duration::from_secs(10))
        .await;
    app.wait_for_status("long-shop", "ready", Duration::from_secs(10))
        .await;
    app.clock.advance(chrono::Duration::hours(2));
    app.wait_for_status("short-shop", "terminated", Duration::from_secs(15))
        .await;
    let teardown = app
        .events("short-shop")
        .await
        .into_iter()
        .find(|e| e["kind"] == "teardown_requested")
        .unwrap();
    assert_eq!(teardown["actor"], "reaper");
    assert!(teardown["message"].as_str().unwrap().contains("expired"));
    assert_eq!(app.environment("long-shop").await["status"], "ready");
    assert_eq!(app.applications(), ["env-long-shop"]);
}

#[tokio::test]
async fn a_terminated_name_can_be_used_again() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    app.create_environment("demo", &repo).await;
    app.delete("/api/environments/demo-shop").await;
    app.wait_for_status("demo-shop", "terminated", Duration::from_secs(10))
        .await;
    assert_problem(
        app.delete("/api/environments/demo-shop").await,
        StatusCode::CONFLICT,
        "already terminated",
    )
    .await;
    let again = app.create_environment("demo", &repo).await;
    assert_eq!(again["status"], "pending");
    assert_eq!(again["terminated_at"], json!(null));
    app.wait_for_status("demo-shop", "ready", Duration::from_secs(10))
        .await;
}

#[tokio::test]
async fn transient_cluster_errors_are_retried_without_using_attempts() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    // Every call fails for a while, then half of them.
    app.sim.update_settings(|s| s.error_rate = 1.0);
    for i in 0..5 {
        app.create_environment(&format!("flaky-{i}"), &repo).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.sim.update_settings(|s| s.error_rate = 0.5);
    // Then the cluster recovers. Each key backs off exponentially (up to minutes) while its
    // calls fail, so a long unlucky streak at 50 % may take a while to come back: the wait
    // allows for the longest back-off a few seconds of failures can build.
    tokio::time::sleep(Duration::from_secs(2)).await;
    app.sim.update_settings(|s| s.error_rate = 0.0);
    for i in 0..5 {
        let env = app
            .wait_for_status(&format!("flaky-{i}-shop"), "ready", Duration::from_secs(60))
            .await;
        assert_eq!(env["attempt"], 1, "503s are not Argo CD's verdicts");
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("blueberry_retries_total{kind=\"reconcile\",outcome=\"transient\"}"),
        "{text}"
    );
}
