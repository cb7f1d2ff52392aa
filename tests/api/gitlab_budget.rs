//! GitLab's API budget from the app's side: the changes of one second are one note update, and
//! every call is counted by endpoint and outcome on `/metrics`.

use std::time::Duration;

use crate::hooks::{Project, merge_request_event, sha};

#[tokio::test]
async fn the_changes_of_one_second_are_one_note_update() {
    let p = Project::start(|_| {}).await;
    p.accept(&merge_request_event("open", 8, &sha(1), 10), "mr-8-open")
        .await;
    // Created (pending) and ready within the same second: one note, saying ready.
    p.wait_at("pr-8-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    p.wait_for_note(8, "is **ready**", Duration::from_secs(15))
        .await;
    let note_calls: Vec<String> = p
        .gitlab
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().contains("/merge_requests/8/notes") && r.method.as_str() != "GET")
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(note_calls.len(), 1, "{note_calls:?}");

    let metrics = p.app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .contains(r#"blueberry_gitlab_requests_total{endpoint="create_note",outcome="ok"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("blueberry_gitlab_rate_limited_total 0"),
        "{metrics}"
    );
}
