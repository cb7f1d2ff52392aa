//! GitLab's API budget from the app's side: the note updates of one window are one call, while
//! commit statuses go at once; every call is counted by endpoint and outcome on `/metrics` (the
//! budget itself is tested on the adapter, `contract_githost.rs`).

use std::time::Duration;

use crate::{
    helpers::wait_until,
    hooks::{PROJECT, Project, merge_request_event, sha},
};

#[tokio::test]
async fn every_gitlab_call_is_counted_by_endpoint_and_outcome() {
    let p = Project::start(|_| {}).await;
    p.accept(&merge_request_event("open", 8, &sha(1), 10), "mr-8-open")
        .await;
    p.wait_at("pr-8-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    p.wait_for_note(8, "is **ready**", Duration::from_secs(15))
        .await;
    let metrics = p.app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"blueberry_gitlab_requests_total{endpoint="create_note",outcome="ok"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"blueberry_gitlab_requests_total{endpoint="set_commit_status",outcome="ok"}"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("blueberry_gitlab_rate_limited_total 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_note_updates_of_one_window_are_one_call_and_commit_statuses_are_not_held() {
    // A window long enough that created (pending) and ready fall in it even on a loaded machine.
    let p = Project::start(|c| c.gitlab_note_window_ms = 4_000).await;
    p.accept(&merge_request_event("open", 8, &sha(1), 10), "mr-8-open")
        .await;
    p.wait_at("pr-8-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    // The commit heard "success" while the note still waited for its window.
    wait_until(Duration::from_secs(10), || {
        p.gitlab
            .state()
            .statuses
            .get(&(PROJECT, sha(1)))
            .is_some_and(|s| s.iter().any(|s| s["state"] == "success"))
    })
    .await
    .expect("the commit status says success");
    assert!(
        p.gitlab
            .state()
            .notes
            .get(&(PROJECT, 8))
            .is_none_or(|n| n.is_empty()),
        "the note was written before its window closed"
    );
    // One note, written once, saying ready.
    p.wait_for_note(8, "is **ready**", Duration::from_secs(15))
        .await;
    let note_writes: Vec<String> = p
        .gitlab
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().contains("/merge_requests/8/notes") && r.method.as_str() != "GET")
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(note_writes.len(), 1, "{note_writes:?}");
}
