//! A leaked webhook secret cannot enqueue work at full speed: each repository's deliveries go
//! through a token bucket (`--webhook-rate` per second, bursts of ten times that); over it, GitLab
//! gets 429 with `Retry-After` (which it honours), counted in the metrics.

use reqwest::StatusCode;

use crate::hooks::{Project, merge_request_event, sha};

#[tokio::test]
async fn a_repository_over_its_webhook_rate_gets_429_with_retry_after() {
    let p = Project::start(|c| c.webhook_rate = 2).await;
    let mut accepted = 0;
    let mut limited = Vec::new();
    for n in 0..30u64 {
        let r = p
            .deliver(
                &merge_request_event("update", 1, &sha(n + 1), n),
                &format!("flood-{n}"),
            )
            .await;
        match r.status() {
            StatusCode::ACCEPTED | StatusCode::OK => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let retry: u64 = r.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=2).contains(&retry), "Retry-After: {retry}");
                let body: serde_json::Value = r.json().await.unwrap();
                assert!(body["detail"].as_str().unwrap().contains("over the limit"));
                limited.push(n);
            }
            other => panic!("unexpected {other}"),
        }
    }
    // A burst of 20 goes through (plus what the bucket refills meanwhile); the rest waits.
    assert!((20..=25).contains(&accepted), "{accepted} accepted");
    assert!(!limited.is_empty());
    let metrics = p.app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(&format!(
            "blueberry_webhooks_rate_limited_total {}",
            limited.len()
        )),
        "{metrics}"
    );
}
