//! GitLab: webhooks replayed from `fixtures/gitlab`, wiremock standing in for GitLab's API.

use std::time::Duration;

use blueberry::domain::webhook::sign;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, path_regex},
};

use crate::helpers::{TestApp, assert_problem};

const SHA1: &str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";
const SHA2: &str = "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327";
const SHA3: &str = "562e173be03b8ff2efb05345d12df18815438a4b";
const SIGNING_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/fixtures/gitlab/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A GitLab that accepts everything Blueberry sends; `member_level` is alice's access.
async fn gitlab(member_level: u64) -> MockServer {
    let server = MockServer::start().await;
    let p = "/api/v4/projects/15";
    Mock::given(method("GET"))
        .and(path("/api/v4/user"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": 1, "username": "blueberry"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{p}/merge_requests/42/notes")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 501})))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{p}/merge_requests/42/notes/501")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 501})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!("^{p}/statuses/[0-9a-f]+$")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{p}/environments")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"id": 7, "name": "review/pr-42"}])),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{p}/environments/7")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{p}/deployments")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{p}/environments/7/stop")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{p}/members/all/7")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 7, "username": "alice", "access_level": member_level})),
        )
        .mount(&server)
        .await;
    server
}

struct Hooked {
    app: TestApp,
    gitlab: MockServer,
    secret: String,
}

async fn hooked(member_level: u64) -> Hooked {
    let gitlab = gitlab(member_level).await;
    let uri = gitlab.uri();
    let app = TestApp::spawn_with(|c| {
        c.gitlab_url = Some(uri);
        c.gitlab_token = Some("glpat-test-token".to_owned().into());
        c.webhook_body_limit = 256 * 1024;
    })
    .await;
    let cs = app.create_config_set("web").await;
    let repo = app
        .create_repository("shop", 15, cs["id"].as_str().unwrap())
        .await;
    let secret = repo["webhook_secret"].as_str().unwrap().to_owned();
    Hooked {
        app,
        gitlab,
        secret,
    }
}

impl Hooked {
    async fn deliver(&self, fixture_name: &str, event: &str, uuid: &str) -> reqwest::Response {
        self.app
            .client
            .post(format!("{}/webhooks/gitlab", self.app.url))
            .header("content-type", "application/json")
            .header("x-gitlab-event", event)
            .header("x-gitlab-token", &self.secret)
            .header("x-gitlab-event-uuid", uuid)
            .body(fixture(fixture_name))
            .send()
            .await
            .unwrap()
    }

    async fn requests(&self, verb: &str, path_part: &str) -> Vec<Value> {
        self.gitlab
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == verb && r.url.path().contains(path_part))
            .map(|r| crate::fake_gitlab::body(&r))
            .collect()
    }

    async fn wait_ready_at(&self, sha: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.app.get("/api/environments/pr-42-shop").await;
            let env: Value = if r.status() == StatusCode::OK {
                r.json().await.unwrap()
            } else {
                Value::Null
            };
            if env["status"] == "ready" && env["git"]["sha"] == sha {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not ready at {sha}: {env}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_for_request(&self, verb: &str, path_part: &str, body_part: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !self
            .requests(verb, path_part)
            .await
            .iter()
            .any(|b| b.to_string().contains(body_part))
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "GitLab never got {verb} {path_part} with {body_part}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn one_merge_requests_life_yields_one_environment_one_sticky_note_and_a_stopped_gitlab_environment()
 {
    let h = hooked(30).await;
    assert_eq!(
        h.deliver("merge_request_open.json", "Merge Request Hook", "u-1")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    h.wait_ready_at(SHA1).await;
    let env = h.app.environment("pr-42-shop").await;
    assert_eq!(env["git"]["branch"], "feature/checkout");
    assert_eq!(env["git"]["merge_request"]["iid"], 42);
    assert_eq!(env["git"]["merge_request"]["author"], "root");

    assert_eq!(
        h.deliver(
            "merge_request_update_new_commits.json",
            "Merge Request Hook",
            "u-2"
        )
        .await
        .status(),
        StatusCode::ACCEPTED
    );
    h.wait_ready_at(SHA2).await;
    assert_eq!(
        h.deliver(
            "merge_request_update_second_push.json",
            "Merge Request Hook",
            "u-3"
        )
        .await
        .status(),
        StatusCode::ACCEPTED
    );
    h.wait_ready_at(SHA3).await;

    let before = h.app.environment("pr-42-shop").await;
    assert_eq!(
        h.deliver("note_extend_24.json", "Note Hook", "u-4")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    h.wait_for_request("POST", "/merge_requests/42/notes", "now expires")
        .await;
    let after = h.app.environment("pr-42-shop").await;
    assert_ne!(before["expires_at"], after["expires_at"], "extended");

    assert_eq!(
        h.deliver("note_redeploy.json", "Note Hook", "u-5")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    h.wait_for_request("POST", "/merge_requests/42/notes", "Redeploying")
        .await;
    h.wait_ready_at(SHA3).await;

    assert_eq!(
        h.deliver("merge_request_merge.json", "Merge Request Hook", "u-6")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    h.app
        .wait_for_status("pr-42-shop", "terminated", Duration::from_secs(20))
        .await;
    h.wait_for_request("POST", "/environments/7/stop", "force")
        .await;

    // Exactly one environment, and no Application left.
    let all: Value = h
        .app
        .get("/api/environments?limit=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    assert!(h.app.applications().is_empty());
    // One sticky note created, then edited in place.
    let created = h.requests("POST", "/merge_requests/42/notes").await;
    let sticky: Vec<_> = created
        .iter()
        .filter(|b| {
            b["body"]
                .as_str()
                .unwrap()
                .contains("Blueberry environment `pr-42-shop`")
        })
        .collect();
    assert_eq!(sticky.len(), 1, "one sticky note: {created:?}");
    // The note says terminated at the end (a moment after the change, with whatever else
    // changed in that moment).
    h.wait_for_request("PUT", "/merge_requests/42/notes/501", "**terminated**")
        .await;
    // A commit status on each sha, with the status page as target.
    for sha in [SHA1, SHA2, SHA3] {
        let statuses = h.requests("POST", &format!("/statuses/{sha}")).await;
        assert!(
            statuses
                .iter()
                .any(|b| b["state"] == "success" && b["name"] == "blueberry/environment"),
            "{sha}: {statuses:?}"
        );
        assert!(statuses.iter().all(|b| {
            b["target_url"]
                .as_str()
                .unwrap()
                .ends_with("/environments/pr-42-shop")
        }));
    }
    let deployments = h.requests("POST", "/projects/15/deployments").await;
    assert!(deployments.iter().any(|d| d["sha"] == SHA3
        && d["environment"] == "review/pr-42"
        && d["ref"] == "feature/checkout"));
    // Everything sent is in the environment's history.
    let events = h.app.events("pr-42-shop").await;
    assert!(events.iter().any(|e| e["kind"] == "notification"
        && e["message"].as_str().unwrap().contains("sent sticky note")));
}

#[tokio::test]
async fn redeliveries_change_nothing_and_bad_credentials_queue_nothing() {
    let h = hooked(30).await;
    assert_eq!(
        h.deliver("merge_request_open.json", "Merge Request Hook", "same")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let again = h
        .deliver("merge_request_open.json", "Merge Request Hook", "same")
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap()["status"], "duplicate");
    h.app
        .wait_for_status("pr-42-shop", "ready", Duration::from_secs(10))
        .await;

    let wrong = h
        .app
        .client
        .post(format!("{}/webhooks/gitlab", h.app.url))
        .header("content-type", "application/json")
        .header("x-gitlab-token", "bbwh_not-the-secret")
        .body(fixture("merge_request_close.json"))
        .send()
        .await
        .unwrap();
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "X-Gitlab-Token").await;
    let missing = h
        .app
        .post_raw(
            "/webhooks/gitlab",
            "application/json",
            &fixture("merge_request_close.json"),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let unknown = fixture("merge_request_close.json").replace("\"id\": 15,", "\"id\": 999,");
    assert_eq!(
        h.app
            .post_raw("/webhooks/gitlab", "application/json", &unknown)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Had any of them been queued, the close would have torn the environment down.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(h.app.environment("pr-42-shop").await["status"], "ready");
    let events = h.app.events("pr-42-shop").await;
    assert!(
        !events.iter().any(|e| e["kind"] == "teardown_requested"),
        "nothing acted on: {events:?}"
    );
    assert_eq!(
        events.iter().filter(|e| e["kind"] == "created").count(),
        1,
        "the redelivered open did nothing"
    );
}

#[tokio::test]
async fn events_that_do_not_matter_are_acknowledged_with_a_reason() {
    let h = hooked(30).await;
    for (file, event, reason) in [
        ("push.json", "Push Hook", "`push` events"),
        ("pipeline.json", "Pipeline Hook", "`pipeline` events"),
        (
            "note_merge_request.json",
            "Note Hook",
            "no /blueberry command",
        ),
        ("note_system.json", "Note Hook", "system notes"),
    ] {
        let r = h
            .deliver(file, event, &uuid::Uuid::new_v4().to_string())
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "ignored");
        assert!(
            body["reason"].as_str().unwrap().contains(reason),
            "{file}: {body}"
        );
    }
    let own = fixture("note_redeploy.json").replace(
        "/Blueberry redeploy",
        "<!-- blueberry -->\\n/blueberry redeploy",
    );
    let r = h
        .app
        .client
        .post(format!("{}/webhooks/gitlab", h.app.url))
        .header("content-type", "application/json")
        .header("x-gitlab-token", &h.secret)
        .body(own)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["reason"],
        "Blueberry's own note"
    );
}

#[tokio::test]
async fn malformed_oversized_and_non_json_deliveries_are_refused() {
    let h = hooked(30).await;
    assert_problem(
        h.app
            .post_raw("/webhooks/gitlab", "application/json", "{not json")
            .await,
        StatusCode::BAD_REQUEST,
        "not valid JSON",
    )
    .await;
    assert_problem(
        h.app.post_raw("/webhooks/gitlab", "text/plain", "{}").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "JSON",
    )
    .await;
    let big = format!(
        "{{\"object_kind\":\"push\",\"pad\":\"{}\"}}",
        "x".repeat(300 * 1024)
    );
    assert_problem(
        h.app
            .post_raw("/webhooks/gitlab", "application/json", &big)
            .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit",
    )
    .await;
    assert_problem(
        h.app
            .post_raw(
                "/webhooks/gitlab",
                "application/json",
                "{\"object_kind\":\"push\"}",
            )
            .await,
        StatusCode::BAD_REQUEST,
        "project",
    )
    .await;
}

#[tokio::test]
async fn signed_webhooks_are_verified() {
    let h = hooked(30).await;
    let repo: Value = h
        .app
        .get("/api/repositories")
        .await
        .json::<Value>()
        .await
        .unwrap()[0]
        .clone();
    let r = h
        .app
        .put(
            &format!("/api/repositories/{}", repo["id"].as_str().unwrap()),
            &json!({
        "name": "shop", "gitlab_project_id": 15, "path_with_namespace": "acme/shop",
        "config_set_id": repo["config_set_id"], "webhook_signing_key": SIGNING_KEY}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["webhook_signing"], true);
    let body = fixture("merge_request_open.json");
    let send = |ts: i64, sig: String| {
        h.app
            .client
            .post(format!("{}/webhooks/gitlab", h.app.url))
            .header("content-type", "application/json")
            .header("webhook-id", "msg_1")
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body.clone())
            .send()
    };
    let now = chrono::Utc::now().timestamp();
    let stale = send(
        now - 600,
        sign(SIGNING_KEY, "msg_1", now - 600, body.as_bytes()),
    )
    .await
    .unwrap();
    assert_problem(stale, StatusCode::UNAUTHORIZED, "5 minutes").await;
    let forged = send(
        now,
        sign(
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "msg_1",
            now,
            body.as_bytes(),
        ),
    )
    .await
    .unwrap();
    assert_problem(forged, StatusCode::UNAUTHORIZED, "does not match").await;
    let good = send(now, sign(SIGNING_KEY, "msg_1", now, body.as_bytes()))
        .await
        .unwrap();
    assert_eq!(good.status(), StatusCode::ACCEPTED);
    h.app
        .wait_for_status("pr-42-shop", "ready", Duration::from_secs(10))
        .await;
    let bad_key = h.app.put(&format!("/api/repositories/{}", repo["id"].as_str().unwrap()), &json!({
        "name": "shop", "gitlab_project_id": 15, "path_with_namespace": "acme/shop", "webhook_signing_key": "not-a-key"})).await;
    assert_problem(
        bad_key,
        StatusCode::UNPROCESSABLE_ENTITY,
        "webhook_signing_key",
    )
    .await;
}

#[tokio::test]
async fn members_below_developer_get_a_polite_no() {
    let h = hooked(20).await;
    h.deliver("merge_request_open.json", "Merge Request Hook", "o")
        .await;
    h.app
        .wait_for_status("pr-42-shop", "ready", Duration::from_secs(10))
        .await;
    let before = h.app.environment("pr-42-shop").await;
    assert_eq!(
        h.deliver("note_extend_24.json", "Note Hook", "n")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    h.wait_for_request(
        "POST",
        "/merge_requests/42/notes",
        "need at least Developer access",
    )
    .await;
    assert_eq!(
        h.app.environment("pr-42-shop").await["expires_at"],
        before["expires_at"]
    );
}

#[tokio::test]
async fn drafts_and_forks_get_no_environment_until_allowed() {
    let h = hooked(30).await;
    h.deliver(
        "merge_request_update_marked_draft.json",
        "Merge Request Hook",
        "d1",
    )
    .await;
    let fork = fixture("merge_request_open.json")
        .replace("\"source_project_id\": 15", "\"source_project_id\": 99");
    let r = h
        .app
        .client
        .post(format!("{}/webhooks/gitlab", h.app.url))
        .header("content-type", "application/json")
        .header("x-gitlab-token", &h.secret)
        .body(fork)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    h.wait_for_request("POST", "/merge_requests/42/notes", "from forks")
        .await;
    assert_eq!(
        h.app.get("/api/environments/pr-42-shop").await.status(),
        StatusCode::NOT_FOUND
    );
    h.deliver(
        "merge_request_update_marked_ready.json",
        "Merge Request Hook",
        "d2",
    )
    .await;
    h.app
        .wait_for_status("pr-42-shop", "ready", Duration::from_secs(10))
        .await;
    h.deliver(
        "merge_request_update_marked_draft.json",
        "Merge Request Hook",
        "d3",
    )
    .await;
    h.app
        .wait_for_status("pr-42-shop", "terminated", Duration::from_secs(10))
        .await;
}

#[tokio::test]
async fn a_gitlab_outage_delays_the_notes_but_not_the_environment() {
    let gitlab = MockServer::start().await;
    // GitLab answers 500 to the first 15 calls, then recovers.
    Mock::given(path_regex("^/api/v4/"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(15)
        .with_priority(1)
        .mount(&gitlab)
        .await;
    let uri = gitlab.uri();
    let app = TestApp::spawn_with(|c| {
        c.gitlab_url = Some(uri);
        c.gitlab_token = Some("glpat-test-token".to_owned().into());
    })
    .await;
    // Lists are empty (no notes, no GitLab environments yet).
    Mock::given(method("GET"))
        .and(path_regex(
            "^/api/v4/projects/15/(merge_requests/42/notes|environments)$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .with_priority(2)
        .mount(&gitlab)
        .await;
    for m in [method("POST"), method("PUT")] {
        Mock::given(m)
            .and(path_regex("^/api/v4/projects/15/merge_requests/42/notes"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 501})))
            .with_priority(2)
            .mount(&gitlab)
            .await;
    }
    Mock::given(path_regex("^/api/v4/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1})))
        .with_priority(3)
        .mount(&gitlab)
        .await;
    let cs = app.create_config_set("web").await;
    let repo = app
        .create_repository("shop", 15, cs["id"].as_str().unwrap())
        .await;
    let started = std::time::Instant::now();
    let r = app
        .client
        .post(format!("{}/webhooks/gitlab", app.url))
        .header("content-type", "application/json")
        .header("x-gitlab-token", repo["webhook_secret"].as_str().unwrap())
        .body(fixture("merge_request_open.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    app.wait_for_status("pr-42-shop", "ready", Duration::from_secs(10))
        .await;
    let ready_after = started.elapsed();
    assert!(
        ready_after < Duration::from_secs(5),
        "the environment did not wait for GitLab ({ready_after:?})"
    );
    // The note arrives once GitLab recovers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let reqs = gitlab.received_requests().await.unwrap_or_default();
        let failed = reqs.len();
        let noted = app
            .events("pr-42-shop")
            .await
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("sent sticky note"));
        if noted {
            assert!(failed > 15, "GitLab saw the failed calls first");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the note never arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn without_gitlab_settings_what_would_be_sent_is_recorded() {
    let app = TestApp::spawn().await;
    let cs = app.create_config_set("web").await;
    let repo = app
        .create_repository("shop", 15, cs["id"].as_str().unwrap())
        .await;
    let r = app
        .client
        .post(format!("{}/webhooks/gitlab", app.url))
        .header("content-type", "application/json")
        .header("x-gitlab-token", repo["webhook_secret"].as_str().unwrap())
        .body(fixture("merge_request_open.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    app.wait_for_status("pr-42-shop", "ready", Duration::from_secs(10))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let events = app.events("pr-42-shop").await;
        let would: Vec<_> = events
            .iter()
            .filter_map(|e| e["message"].as_str())
            .filter(|m| m.starts_with("GitLab is not configured; would have sent"))
            .collect();
        if would
            .iter()
            .any(|m| m.contains("commit status blueberry/environment = success"))
        {
            assert!(would.iter().any(|m| m.contains("deployment of")));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{events:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
