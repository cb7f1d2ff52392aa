//! GitLab's API budget from the app's side: every call is counted by endpoint and outcome on
//! `/metrics` (the budget itself is tested on the adapter, `contract_githost.rs`).

use std::time::Duration;

use crate::hooks::{Project, merge_request_event, sha};

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
        metrics
            .contains(r#"blueberry_gitlab_requests_total{endpoint="create_note",outcome="ok"} 1"#),
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
