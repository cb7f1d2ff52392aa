//! Notifications beyond the merge request: subscriptions (global or per repository) receive an
//! environment's moments as signed Standard Webhooks or Slack messages, retried with back-off
//! and logged per subscription; a receiver that is down never holds the lifecycle back.
//!
//! Long on purpose: five scenarios sharing the signed-webhook and Slack receivers set up here.

use std::time::Duration;

use blueberry::{domain::webhook::verify_signature, sim::FaultMode};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, ResponseTemplate,
    matchers::{method, path},
};

use crate::helpers::{TestApp, assert_problem, client_with};

const WITHIN: Duration = Duration::from_secs(15);

async fn subscribe(app: &TestApp, body: Value) -> Value {
    let r = app.post("/api/subscriptions", &body).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    r.json().await.unwrap()
}

/// The requests `server` got on `at`, once there are at least `n`.
async fn received(server: &MockServer, at: &str, n: usize) -> Vec<Request> {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let got: Vec<Request> = server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == at)
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{at} got {} requests, not {n}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn header<'a>(r: &'a Request, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Polls the subscription until its log holds a try matching `check`.
async fn logged(app: &TestApp, id: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let sub: Value = app
            .get(&format!("/api/subscriptions/{id}"))
            .await
            .json()
            .await
            .unwrap();
        let log = sub["deliveries"].as_array().cloned().unwrap_or_default();
        if check(&log) {
            return log;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the log never showed it: {sub}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn subscribers_get_signed_moments_and_the_log_shows_every_try() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let receiver = MockServer::start().await;
    // The first try is refused: it is tried again, with the same message id.
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let created = subscribe(
        &app,
        json!({"url": format!("{}/hook?token=abc", receiver.uri()),
               "events": ["ready", "terminated"], "repository_id": repo}),
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert!(
        !created["receiver"].as_str().unwrap().contains("token"),
        "{created}"
    );
    let id = created["id"].as_str().unwrap().to_owned();
    // Another repository's subscription hears nothing of this one.
    let cs = app.create_config_set("other").await;
    let other_repo = app
        .create_repository("blog", 16, cs["id"].as_str().unwrap())
        .await;
    let other = subscribe(
        &app,
        json!({"url": format!("{}/other", receiver.uri()), "events": ["ready", "terminated"],
               "repository_id": other_repo["id"]}),
    )
    .await;

    app.create_environment("demo", &repo).await;
    app.wait_for_status("demo-shop", "ready", WITHIN).await;
    let tries = received(&receiver, "/hook", 2).await;
    let (first, second) = (&tries[0], &tries[1]);
    assert_eq!(header(first, "webhook-id"), header(second, "webhook-id"));
    let body: Value = serde_json::from_slice(&second.body).unwrap();
    assert_eq!(body["type"], "environment.ready");
    assert_eq!(body["data"]["environment_id"], "demo-shop");
    assert_eq!(body["data"]["status"], "ready");
    verify_signature(
        &secret,
        header(second, "webhook-id"),
        header(second, "webhook-timestamp"),
        &second.body,
        header(second, "webhook-signature"),
        chrono::Utc::now().timestamp(),
    )
    .expect("signed with the subscription's secret");

    let log = logged(&app, &id, |log| log.iter().any(|d| d["delivered"] == true)).await;
    let refused = log.iter().find(|d| d["attempt"] == 1).unwrap();
    assert_eq!(refused["status"], 503);
    assert_eq!(refused["delivered"], false);
    assert!(refused["error"].as_str().unwrap().contains("503"));
    let ok = log.iter().find(|d| d["attempt"] == 2).unwrap();
    assert_eq!(
        (ok["status"].clone(), ok["last"].clone()),
        (json!(204), json!(true))
    );

    app.delete("/api/environments/demo-shop").await;
    app.wait_for_status("demo-shop", "terminated", WITHIN).await;
    let tries = received(&receiver, "/hook", 3).await;
    let last: Value = serde_json::from_slice(&tries[2].body).unwrap();
    assert_eq!(last["type"], "environment.terminated");
    logged(&app, &id, |log| {
        log.iter()
            .any(|d| d["topic"] == "terminated" && d["delivered"] == true)
    })
    .await;
    let quiet: Value = app
        .get(&format!(
            "/api/subscriptions/{}",
            other["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(quiet["deliveries"], json!([]), "{quiet}");
    assert!(received(&receiver, "/other", 0).await.is_empty());

    // The secret is shown once: never in the listing or the subscription.
    let listing = app.get("/api/subscriptions").await.text().await.unwrap();
    assert!(!listing.contains(&secret) && !listing.contains("token=abc"));
    let r = app.delete(&format!("/api/subscriptions/{id}")).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app.get(&format!("/api/subscriptions/{id}")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_dead_receiver_is_given_up_on_without_holding_anything_back() {
    let app = TestApp::spawn_with(|c| c.max_attempts = 1).await;
    let repo = app.seed().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&receiver)
        .await;
    let slack = subscribe(
        &app,
        json!({"url": format!("{}/services/T0/B0/secret", receiver.uri()),
               "events": ["ready", "failed"], "format": "slack"}),
    )
    .await;
    assert!(slack["secret"].is_null(), "{slack}");
    assert_eq!(slack["receiver"], format!("{}/…", receiver.uri()));
    let id = slack["id"].as_str().unwrap().to_owned();

    // Environments go on while every delivery fails.
    app.sim
        .set_fault("env-broken-shop", Some(FaultMode::Degraded));
    app.create_environment("fine", &repo).await;
    app.wait_for_status("fine-shop", "ready", WITHIN).await;
    app.create_environment("broken", &repo).await;
    app.wait_for_status("broken-shop", "failed", WITHIN).await;
    app.create_environment("also", &repo).await;
    app.wait_for_status("also-shop", "ready", WITHIN).await;
    logged(&app, &id, |log| {
        log.iter()
            .any(|d| d["environment_id"] == "broken-shop" && d["topic"] == "failed")
    })
    .await;

    // Six tries (100 ms doubling between them), then it is given up and logged so.
    let log = logged(&app, &id, |log| {
        log.iter()
            .any(|d| d["environment_id"] == "fine-shop" && d["last"] == true)
    })
    .await;
    let fine: Vec<&Value> = log
        .iter()
        .filter(|d| d["environment_id"] == "fine-shop")
        .collect();
    assert_eq!(fine.len(), 6, "{log:?}");
    assert!(
        fine.iter()
            .all(|d| d["delivered"] == false && d["status"] == 500)
    );
    let slack_text: Value =
        serde_json::from_slice(&received(&receiver, "/services/T0/B0/secret", 1).await[0].body)
            .unwrap();
    assert!(
        slack_text["text"]
            .as_str()
            .unwrap()
            .contains("Environment `fine-shop` is ready"),
        "{slack_text}"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("blueberry_notifications_total{outcome=\"gave_up\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn bad_subscriptions_are_refused_naming_the_field_and_only_admins_subscribe() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (
            json!({"url": "ftp://example.com/x", "events": ["ready"]}),
            "url",
        ),
        (json!({"url": "not a url", "events": ["ready"]}), "url"),
        (
            json!({"url": "https://example.com/x", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://example.com/x", "events": ["exploded"]}),
            "events",
        ),
        (
            json!({"url": "https://example.com/x", "events": ["ready"], "format": "teams"}),
            "format",
        ),
    ] {
        let r = app.post("/api/subscriptions", &body).await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, field).await;
    }
    let r = app
        .post(
            "/api/subscriptions",
            &json!({"url": "https://example.com/x", "events": ["ready"], "repository_id": "nope"}),
        )
        .await;
    assert_problem(r, StatusCode::NOT_FOUND, "repository_id").await;
    let developer = client_with(&app.token("developer").await);
    let r = developer
        .get(format!("{}/api/subscriptions", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let listed: Value = app.get("/api/subscriptions").await.json().await.unwrap();
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn admins_subscribe_and_see_every_try_in_the_ui() {
    use crate::{
        helpers::ADMIN_TOKEN,
        ui::{Session, location},
    };
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let s = Session::login(&app, ADMIN_TOKEN).await;
    // No event ticked: the form says so at its field and keeps what was typed.
    let hook = format!("{}/ui-hook", receiver.uri());
    let r = s.post("/subscriptions", &[("url", hook.as_str())]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"events-error\""), "{page}");
    assert!(page.contains(&hook));

    let r = s
        .post(
            "/subscriptions",
            &[
                ("url", hook.as_str()),
                ("ready", "on"),
                ("repository_id", repo.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let page = r.text().await.unwrap();
    let at = page
        .find("value=\"whsec_")
        .expect("the secret is shown once");
    let secret = &page[at + 7..at + 7 + page[at + 7..].find('"').unwrap()];

    app.create_environment("demo", &repo).await;
    app.wait_for_status("demo-shop", "ready", WITHIN).await;
    received(&receiver, "/ui-hook", 1).await;
    let deadline = tokio::time::Instant::now() + WITHIN;
    let page = loop {
        let page = s.get("/subscriptions").await.text().await.unwrap();
        if page.contains("delivery-ok") {
            break page;
        }
        assert!(tokio::time::Instant::now() < deadline, "no delivery shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(page.contains("href=\"/environments/demo-shop\""));
    assert!(!page.contains(secret), "the secret is not shown again");
    assert!(!page.contains("/ui-hook"), "nor the receiver's path");

    let sub: Value = app.get("/api/subscriptions").await.json().await.unwrap();
    let id = sub[0]["id"].as_str().unwrap();
    let r = s.post(&format!("/subscriptions/{id}/delete"), &[]).await;
    assert_eq!(r.status(), StatusCode::OK, "asks first");
    let r = s
        .post(
            &format!("/subscriptions/{id}/delete"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(location(&r), "/subscriptions?done=deleted");
    let left: Value = app.get("/api/subscriptions").await.json().await.unwrap();
    assert_eq!(left, json!([]));
}

#[tokio::test]
async fn environments_made_by_hand_announce_their_expiry_too() {
    // The test clock jumps; the resync notices within a second.
    let app = TestApp::spawn_with(|c| c.resync_secs = 1).await;
    let repo = app.seed().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&receiver)
        .await;
    subscribe(
        &app,
        json!({"url": format!("{}/expiring", receiver.uri()), "events": ["expiring"]}),
    )
    .await;
    app.create_environment("manual", &repo).await;
    app.wait_for_status("manual-shop", "ready", WITHIN).await;
    // 72 hours to live; the day before, it is announced once.
    app.clock.advance(chrono::Duration::hours(49));
    let got = received(&receiver, "/expiring", 1).await;
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], "environment.expiring");
    assert_eq!(body["data"]["environment_id"], "manual-shop");
    let events = app.events("manual-shop").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["kind"] == "expiry_warned")
            .count(),
        1
    );
}
