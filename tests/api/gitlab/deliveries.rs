//! Deliveries: redelivered, irrelevant, malformed, signed, from members below Developer,
//! drafts and forks.

use std::time::Duration;

use blueberry::domain::webhook::sign;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{SIGNING_KEY, fixture, hooked};
use crate::helpers::assert_problem;

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
