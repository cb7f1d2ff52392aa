//! The status page in Chromium: the rollout wave by wave, updating live over SSE, and the cause
//! of a failure up front. Screenshots of a progressing, a ready and a failed environment land in
//! `target/tmp/screenshots/`.

use std::time::Duration;

use blueberry::sim::FaultMode;

use crate::{
    browser::Browser,
    helpers::{TestApp, heavy_turn},
};

/// Logs the browser in through a one-time login link for the admin token.
pub async fn log_in(b: &Browser, app: &TestApp, next: &str) {
    let tokens: serde_json::Value = app.get("/api/tokens").await.json().await.unwrap();
    let admin = tokens[0]["id"].as_str().unwrap();
    let code = app.ctx.sessions.login_code(admin).await.unwrap();
    b.client
        .goto(&format!("{}/login?code={code}&next={next}", app.url))
        .await
        .unwrap();
    b.find("#login-link button").await.click().await.unwrap();
    b.find("main h1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_waves_completing_live_and_the_cause_of_a_failure() {
    let _turn = heavy_turn().await;
    let app = TestApp::spawn_with(|c| {
        c.sim_ready_delay_ms = 6000;
        c.max_attempts = 2;
        c.retry_base_delay_ms = 300;
    })
    .await;
    let repo = app.seed().await;
    app.sim
        .set_fault("env-broken-shop", Some(FaultMode::Degraded));
    let browser = Browser::start().await;
    let b = &browser;
    log_in(b, &app, "/environments").await;

    app.create_environment("demo", &repo).await;
    b.client
        .goto(&format!("{}/environments/demo-shop", app.url))
        .await
        .unwrap();
    let progressing = b
        .wait_text(
            "#rollout-progress",
            "resources healthy",
            Duration::from_secs(15),
        )
        .await;
    assert!(
        progressing.starts_with("wave "),
        "a rollout under way says which wave: {progressing}"
    );
    assert!(b.text("#rollout").await.contains("Wave 2 · frontends"));
    b.screenshot("status-progressing").await;
    // No reload: the page follows the stream until every wave is done.
    b.wait_text(
        "#rollout-progress",
        "all 4 waves done",
        Duration::from_secs(30),
    )
    .await;
    b.wait_text("#env-status", "ready", Duration::from_secs(5))
        .await;
    b.screenshot("status-ready").await;

    app.create_environment("broken", &repo).await;
    b.client
        .goto(&format!("{}/environments/broken-shop", app.url))
        .await
        .unwrap();
    let cause = b
        .wait_text("#cause", "progress deadline", Duration::from_secs(40))
        .await;
    assert!(
        cause.contains("Deployment"),
        "the degraded resource is named: {cause}"
    );
    b.wait_text("#env-status", "failed", Duration::from_secs(40))
        .await;
    let cause = b.text("#cause").await;
    assert!(cause.starts_with("Why it failed"), "{cause}");
    assert!(
        !cause.contains("scheduled for"),
        "the cause, not the retry bookkeeping: {cause}"
    );
    b.find(".wave-failed").await;
    b.screenshot("status-failed").await;
    browser.client.close().await.unwrap();
    app.stop().await;
}
