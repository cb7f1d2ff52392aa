//! The Queue contract, run against the embedded SQLite queue and Pub/Sub (emulator).

use std::{sync::Arc, time::Duration};

use blueberry::{
    adapters::{
        pubsub::{PubSubQueue, PubSubSettings},
        sqlite::{Db, queue::SqliteQueue},
    },
    clock::SystemClock,
    ports::{NewJob, Queue, QueueError},
};
use serde_json::json;

use crate::emulators;

const LEASE: Duration = Duration::from_secs(30);
const MAX_DELIVERIES: u32 = 3;

async fn embedded() -> (Arc<dyn Queue>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("q.sqlite3")).unwrap();
    (
        Arc::new(SqliteQueue::new(db, Arc::new(SystemClock), MAX_DELIVERIES)),
        dir,
    )
}

async fn pubsub() -> Arc<dyn Queue> {
    let name = emulators::unique("jobs");
    let settings = PubSubSettings {
        project: emulators::unique("p"),
        topic: name.clone(),
        subscription: format!("{name}-sub"),
        dead_letter_topic: format!("{name}-dead"),
        endpoint: Some(emulators::pubsub().to_owned()),
        create: true,
        max_deliveries: MAX_DELIVERIES,
        ack_deadline_secs: 10,
        ordering: true,
    };
    Arc::new(
        PubSubQueue::connect(settings, Arc::new(SystemClock))
            .await
            .unwrap(),
    )
}

fn job(key: &str, n: u32) -> NewJob {
    NewJob {
        ordering_key: key.into(),
        payload: json!({"n": n}),
        not_before: None,
        coalesce_key: None,
    }
}

async fn receive(q: &Arc<dyn Queue>, wait_ms: u64) -> Option<blueberry::ports::Delivery> {
    q.receive(LEASE, Duration::from_millis(wait_ms))
        .await
        .unwrap()
}

async fn jobs_of_one_key_run_one_at_a_time_in_order(q: Arc<dyn Queue>) {
    for n in 1..=3 {
        q.enqueue(job("env-a", n)).await.unwrap();
    }
    q.enqueue(job("env-b", 1)).await.unwrap();
    let mut seen_a = Vec::new();
    let first = receive(&q, 10_000).await.expect("a job");
    let second = receive(&q, 5_000)
        .await
        .expect("the other key is not blocked");
    assert_ne!(first.ordering_key, second.ordering_key);
    let (a, b) = if first.ordering_key == "env-a" {
        (first, second)
    } else {
        (second, first)
    };
    assert!(
        receive(&q, 500).await.is_none(),
        "env-a is in flight, env-b is done after ack"
    );
    seen_a.push(a.payload["n"].as_u64().unwrap());
    q.ack(&b).await.unwrap();
    q.ack(&a).await.unwrap();
    for _ in 0..2 {
        let d = receive(&q, 5_000).await.expect("next env-a job");
        assert_eq!(d.ordering_key, "env-a");
        assert!(receive(&q, 200).await.is_none(), "one at a time");
        seen_a.push(d.payload["n"].as_u64().unwrap());
        q.ack(&d).await.unwrap();
    }
    assert_eq!(seen_a, [1, 2, 3]);
    assert!(receive(&q, 300).await.is_none());
}

async fn delayed_jobs_wait_and_nacked_jobs_come_back(q: Arc<dyn Queue>) {
    let later = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    q.enqueue(NewJob {
        not_before: Some(later),
        ..job("env-d", 1)
    })
    .await
    .unwrap();
    assert!(receive(&q, 700).await.is_none(), "not before its time");
    let d = receive(&q, 10_000).await.expect("delivered once due");
    assert!(chrono::Utc::now() >= later);
    assert_eq!(d.delivery_attempt, 1);
    q.extend_lease(&d, LEASE).await.unwrap();
    q.nack(&d, Duration::from_millis(800)).await.unwrap();
    assert!(
        matches!(q.ack(&d).await, Err(QueueError::LeaseLost)),
        "a released lease cannot ack"
    );
    assert!(receive(&q, 300).await.is_none(), "nack delay respected");
    let again = receive(&q, 10_000).await.expect("redelivered");
    assert_eq!(again.delivery_attempt, 2);
    assert_eq!(again.payload, d.payload);
    q.ack(&again).await.unwrap();
}

async fn a_job_that_keeps_failing_is_dead_lettered(q: Arc<dyn Queue>) {
    q.enqueue(job("env-x", 1)).await.unwrap();
    for attempt in 1..=MAX_DELIVERIES {
        let d = receive(&q, 10_000)
            .await
            .unwrap_or_else(|| panic!("delivery {attempt}"));
        assert_eq!(d.delivery_attempt, attempt);
        q.nack(&d, Duration::ZERO).await.unwrap();
    }
    assert!(
        receive(&q, 1_500).await.is_none(),
        "dead-lettered after {MAX_DELIVERIES} deliveries"
    );
    q.enqueue(job("env-x", 2)).await.unwrap();
    let next = receive(&q, 10_000)
        .await
        .expect("the key is not blocked by the dead job");
    assert_eq!(next.payload["n"], 2);
    q.ack(&next).await.unwrap();
}

async fn waiting_is_not_failing(q: Arc<dyn Queue>) {
    q.enqueue(job("env-w", 1)).await.unwrap();
    for _ in 0..MAX_DELIVERIES + 2 {
        let d = receive(&q, 10_000).await.expect("deferred jobs come back");
        assert_eq!(d.delivery_attempt, 1, "a deferral is not a failed delivery");
        q.defer(&d, Duration::ZERO).await.unwrap();
    }
    let d = receive(&q, 10_000)
        .await
        .expect("still there, not dead-lettered");
    q.ack(&d).await.unwrap();
}

macro_rules! contract {
    ($name:ident, $check:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn on_the_embedded_queue() {
                let (q, _dir) = embedded().await;
                $check(q).await;
            }

            #[tokio::test]
            async fn on_pubsub() {
                $check(pubsub().await).await;
            }
        }
    };
}

contract!(ordering, jobs_of_one_key_run_one_at_a_time_in_order);
contract!(deferral, waiting_is_not_failing);

fn coalescing(key: &str, n: u32) -> NewJob {
    NewJob {
        coalesce_key: Some(format!("look:{key}")),
        ..job(key, n)
    }
}

#[tokio::test]
async fn on_the_embedded_queue_reasons_to_look_again_merge_while_they_wait_without_reordering() {
    let (q, _dir) = embedded().await;
    for n in 1..=3 {
        q.enqueue(coalescing("env-c", n)).await.unwrap();
    }
    let d = receive(&q, 5_000).await.expect("one job");
    assert_eq!(d.payload["n"], 1);
    // While one runs, the next reason to look again is kept (it came after the run started).
    q.enqueue(coalescing("env-c", 4)).await.unwrap();
    q.ack(&d).await.unwrap();
    let d = receive(&q, 5_000).await.expect("the one that waited");
    assert_eq!(d.payload["n"], 4);
    q.ack(&d).await.unwrap();
    assert!(
        receive(&q, 300).await.is_none(),
        "three waiting triggers were one"
    );
    // A job behind the waiting one: merging into it would reorder them, so it is not merged.
    q.enqueue(coalescing("env-c", 5)).await.unwrap();
    q.enqueue(job("env-c", 6)).await.unwrap();
    q.enqueue(coalescing("env-c", 7)).await.unwrap();
    let mut seen = vec![];
    while let Some(d) = receive(&q, 500).await {
        seen.push(d.payload["n"].as_u64().unwrap());
        q.ack(&d).await.unwrap();
    }
    assert_eq!(seen, [5, 6, 7]);
}

#[tokio::test]
async fn on_the_embedded_queue_a_job_waiting_for_redelivery_holds_the_jobs_behind_it() {
    let (q, _dir) = embedded().await;
    q.enqueue(job("env-f", 1)).await.unwrap();
    q.enqueue(job("env-f", 2)).await.unwrap();
    let first = receive(&q, 5_000).await.expect("the first");
    assert_eq!(first.payload["n"], 1);
    q.defer(&first, Duration::from_millis(700)).await.unwrap();
    assert!(
        receive(&q, 400).await.is_none(),
        "the second must not overtake the first"
    );
    let again = receive(&q, 5_000).await.expect("the first again");
    assert_eq!(again.payload["n"], 1);
    q.ack(&again).await.unwrap();
    assert_eq!(receive(&q, 5_000).await.unwrap().payload["n"], 2);
}
contract!(delays, delayed_jobs_wait_and_nacked_jobs_come_back);
contract!(dead_letters, a_job_that_keeps_failing_is_dead_lettered);

#[tokio::test]
async fn an_expired_lease_makes_an_embedded_job_deliverable_again() {
    let (q, _dir) = embedded().await;
    q.enqueue(job("env-l", 1)).await.unwrap();
    let d = q
        .receive(Duration::from_millis(300), Duration::from_secs(2))
        .await
        .unwrap()
        .unwrap();
    let again = q
        .receive(LEASE, Duration::from_secs(3))
        .await
        .unwrap()
        .expect("redelivered after the lease lapsed");
    assert_eq!(again.delivery_attempt, 2);
    assert!(matches!(q.ack(&d).await, Err(QueueError::LeaseLost)));
    q.ack(&again).await.unwrap();
}
