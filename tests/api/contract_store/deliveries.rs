//! DeliveryLog and Outbox: each delivery once, older events stale, the outbox drained.

use blueberry::ports::{IngestOutcome, MergeRequestMark, NewJob, WebhookIngest};
use chrono::{Duration, Utc};

use super::{Stores, contract};

async fn deliveries_are_recorded_once_and_older_events_are_stale(stores: Stores) {
    let until = Utc::now() + Duration::hours(1);
    let job = |n: u64| NewJob {
        ordering_key: "pr-1-shop".into(),
        payload: serde_json::json!({"n": n}),
        not_before: None,
        coalesce_key: None,
    };
    let mark = |order: &str, n: u64| MergeRequestMark {
        key: "r1:1".into(),
        order: order.into(),
        event: serde_json::json!({"n": n}).to_string(),
    };
    let ingest = |key: &str, order: &str, n: u64| WebhookIngest {
        delivery_key: Some(key.into()),
        expires_at: until,
        merge_request: Some(mark(order, n)),
        job: job(n),
    };
    let (outcome, outbox) = stores
        .metadata
        .ingest_webhook(&ingest("uuid-1", "b", 1))
        .await
        .unwrap();
    assert_eq!(outcome, IngestOutcome::Queued);
    // The job went to the queue in the same transaction, or waits in the outbox.
    assert!(outbox.is_empty() || outbox[0].job == job(1), "{outbox:?}");
    stores
        .metadata
        .outbox_delete(&outbox.iter().map(|o| o.id.clone()).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(
        stores
            .metadata
            .ingest_webhook(&ingest("uuid-1", "b", 1))
            .await
            .unwrap()
            .0,
        IngestOutcome::Duplicate,
        "a redelivery is recognised"
    );
    assert_eq!(
        stores
            .metadata
            .ingest_webhook(&ingest("uuid-2", "a", 2))
            .await
            .unwrap()
            .0,
        IngestOutcome::Stale,
        "an older event of the same merge request changes nothing"
    );
    assert_eq!(
        stores.metadata.merge_request_event("r1:1").await.unwrap(),
        Some(serde_json::json!({"n": 1}).to_string())
    );
    assert_eq!(
        stores
            .metadata
            .ingest_webhook(&ingest("uuid-2", "a", 2))
            .await
            .unwrap()
            .0,
        IngestOutcome::Duplicate,
        "the stale delivery was recorded too"
    );
    assert_eq!(
        stores
            .metadata
            .ingest_webhook(&ingest("uuid-3", "b", 3))
            .await
            .unwrap()
            .0,
        IngestOutcome::Queued,
        "the same order again is not older"
    );
    let (newer, outbox) = stores
        .metadata
        .ingest_webhook(&ingest("uuid-4", "c", 4))
        .await
        .unwrap();
    assert_eq!(newer, IngestOutcome::Queued);
    assert_eq!(
        stores.metadata.merge_request_event("r1:1").await.unwrap(),
        Some(serde_json::json!({"n": 4}).to_string())
    );
    assert_eq!(
        stores.metadata.merge_request_event("r1:2").await.unwrap(),
        None
    );
    assert_eq!(
        stores.metadata.merge_request_keys("", 10).await.unwrap(),
        ["r1:1"],
        "merge requests with an event are listed for the resync"
    );
    assert!(
        stores
            .metadata
            .merge_request_keys("r1:1", 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Left in the outbox (a lost publish): found again by the relay's query.
    if !outbox.is_empty() {
        let later = Utc::now() + Duration::minutes(1);
        let pending = stores.metadata.outbox_pending(later, 100).await.unwrap();
        assert!(pending.iter().any(|p| p.job == job(4)), "{pending:?}");
        let ids: Vec<String> = pending.iter().map(|p| p.id.clone()).collect();
        stores.metadata.outbox_delete(&ids).await.unwrap();
        assert!(
            stores
                .metadata
                .outbox_pending(later, 100)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

contract!(
    deliveries,
    deliveries_are_recorded_once_and_older_events_are_stale
);
