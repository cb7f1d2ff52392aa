use std::sync::Arc;

use super::*;

async fn next_within(q: &WorkQueue, d: Duration) -> Option<String> {
    tokio::time::timeout(d, q.next()).await.ok().flatten()
}

#[tokio::test(start_paused = true)]
async fn triggers_while_queued_coalesce_into_one_reconcile() {
    let q = WorkQueue::default();
    for _ in 0..5 {
        q.trigger("a");
    }
    q.trigger("b");
    assert_eq!(q.next().await.as_deref(), Some("a"));
    assert_eq!(q.next().await.as_deref(), Some("b"));
    assert_eq!(next_within(&q, Duration::from_secs(1)).await, None);
}

#[tokio::test(start_paused = true)]
async fn a_key_never_runs_twice_at_once_and_triggers_while_running_give_exactly_one_more() {
    let q = WorkQueue::default();
    q.trigger("a");
    assert_eq!(q.next().await.as_deref(), Some("a"));
    q.trigger("a");
    q.trigger("a");
    assert_eq!(
        next_within(&q, Duration::from_secs(1)).await,
        None,
        "not while it runs"
    );
    q.done("a", true);
    assert_eq!(q.next().await.as_deref(), Some("a"), "once more after it");
    q.done("a", true);
    assert_eq!(next_within(&q, Duration::from_secs(1)).await, None);
}

#[tokio::test(start_paused = true)]
async fn delayed_triggers_come_due_and_the_earliest_wins() {
    let q = WorkQueue::default();
    let start = Instant::now();
    q.trigger_after("a", Duration::from_secs(10));
    q.trigger_after("a", Duration::from_secs(3));
    q.trigger_after("a", Duration::from_secs(60));
    assert_eq!(q.next().await.as_deref(), Some("a"));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    q.done("a", true);
    assert_eq!(
        next_within(&q, Duration::from_secs(100)).await,
        None,
        "the later timers were superseded"
    );
    q.trigger_after("b", Duration::from_secs(30));
    q.trigger("b");
    assert_eq!(
        q.next().await.as_deref(),
        Some("b"),
        "a trigger does not wait for the timer"
    );
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_per_key_and_success_resets() {
    let backoff = FailureBackoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(8),
    };
    let q = WorkQueue::new(backoff);
    q.trigger("a");
    assert_eq!(q.next().await.as_deref(), Some("a"));
    let mut waits = vec![];
    for _ in 0..5 {
        let t = Instant::now();
        q.done("a", false);
        assert_eq!(q.next().await.as_deref(), Some("a"));
        waits.push(t.elapsed().as_secs_f64());
    }
    for (wait, expected) in waits.iter().zip([1.0, 2.0, 4.0, 8.0, 8.0]) {
        assert!(
            (expected * 0.8..=expected * 1.2).contains(wait),
            "{waits:?}"
        );
    }
    q.done("a", true);
    assert!(q.lock().failures.is_empty());
}

#[tokio::test(start_paused = true)]
async fn trigger_and_wait_resolves_after_a_reconcile_that_started_after_it() {
    let q = Arc::new(WorkQueue::default());
    q.trigger("a");
    assert_eq!(q.next().await.as_deref(), Some("a"));
    // "a" is running; a waiter must see the next run finish, not this one.
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move { q.trigger_and_wait("a").await })
    };
    tokio::task::yield_now().await;
    q.done("a", true);
    tokio::task::yield_now().await;
    assert!(
        !waiter.is_finished(),
        "the run that was going on does not count"
    );
    assert_eq!(q.next().await.as_deref(), Some("a"));
    assert!(!waiter.is_finished());
    q.done("a", false);
    waiter.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn workers_share_the_keys_and_stop_on_shutdown() {
    let q = Arc::new(WorkQueue::default());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut workers = vec![];
    for _ in 0..3 {
        let (q, seen) = (q.clone(), seen.clone());
        workers.push(tokio::spawn(async move {
            while let Some(k) = q.next().await {
                seen.lock().unwrap().push(k.clone());
                tokio::time::sleep(Duration::from_millis(10)).await;
                q.done(&k, true);
            }
        }));
    }
    for i in 0..30 {
        q.trigger(&format!("k{i}"));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    q.shut_down();
    for w in workers {
        w.await.unwrap();
    }
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 30);
}
