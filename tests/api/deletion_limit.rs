//! At most `--max-deletions-per-minute` teardowns on Blueberry's own initiative: a mass expiry
//! stops at the limit, says so (API, banner, metric) and waits for an admin; a teardown a person
//! asks for is never held.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_mass_expiry_stops_at_the_limit_until_an_admin_confirms() {
    let app = TestApp::spawn_with(|c| c.max_deletions_per_minute = 3).await;
    let repo = app.seed().await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let env = app.create_environment(&format!("mass-{n}"), &repo).await;
        ids.push(env["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        app.wait_for_status(id, "ready", Duration::from_secs(15))
            .await;
    }
    // All six expire at once.
    app.clock.advance(chrono::Duration::hours(73));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        let s: Value = app.get("/api/deletions").await.json().await.unwrap();
        if s["held"].as_array().unwrap().len() == 3 {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "never paused: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status["paused_since"].is_string(), "{status}");
    assert_eq!(status["max_per_minute"], 3);
    let mut still_ready = Vec::new();
    for id in &ids {
        let env = app.environment(id).await;
        if env["status"] == "ready" {
            still_ready.push(id.clone());
        }
    }
    assert_eq!(still_ready.len(), 3, "three held, three torn down");
    let page = app.get("/environments").await.text().await.unwrap();
    assert!(page.contains("id=\"deletions-banner\""), "the UI says so");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("blueberry_deletions_held_total"),
        "{metrics}"
    );

    // A person's teardown is never held.
    let asked = &still_ready[0];
    assert_eq!(
        app.delete(&format!("/api/environments/{asked}"))
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    app.wait_for_status(asked, "terminated", Duration::from_secs(15))
        .await;

    // Only an admin lets the rest go.
    let viewer = crate::helpers::client_with(&app.token("viewer").await);
    let refused = viewer
        .post(format!("{}/api/deletions/confirm", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let confirmed: Value = app
        .post("/api/deletions/confirm", &Value::Null)
        .await
        .json()
        .await
        .unwrap();
    assert!(confirmed["paused_since"].is_null(), "{confirmed}");
    for id in &ids {
        app.wait_for_status(id, "terminated", Duration::from_secs(20))
            .await;
    }
}
