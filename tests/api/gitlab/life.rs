//! One merge request's whole life through GitLab, and GitLab away or not configured.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path_regex},
};

use super::{SHA1, SHA2, SHA3, fixture, hooked};
use crate::helpers::TestApp;

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
