//! Retry policies: transient failures inside a step (backon, exponential with jitter), and
//! the delay before a job is delivered again after it failed as a whole.

use std::{future::Future, time::Duration};

use backon::{ExponentialBuilder, Retryable};

use crate::{
    metrics::Metrics,
    ports::cluster::{ClusterError, ClusterResult},
};

/// Retries `op` while it fails with a retriable cluster error: 5 more tries, 100 ms growing to
/// at most 3 s, jittered. Other errors and the last failure are returned.
pub async fn retry_transient<T, F, Fut>(
    metrics: &Metrics,
    what: &'static str,
    op: F,
) -> ClusterResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ClusterResult<T>>,
{
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(3))
        .with_max_times(5)
        .with_jitter();
    op.retry(policy)
        .when(ClusterError::is_retriable)
        .notify(|e, after| {
            metrics.retry(what, "transient");
            tracing::warn!(step = what, error = %e, retry_in = ?after, "transient cluster error; retrying");
        })
        .await
}

/// Redelivery delay for a job that failed as a whole on delivery `n` (1, 2, …): 1 s doubling
/// up to 60 s.
pub fn redelivery_delay(delivery_attempt: u32) -> Duration {
    Duration::from_secs(1u64 << delivery_attempt.saturating_sub(1).min(6))
        .min(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn redelivery_delays_grow_to_a_minute() {
        assert_eq!(redelivery_delay(1), Duration::from_secs(1));
        assert_eq!(redelivery_delay(2), Duration::from_secs(2));
        assert_eq!(redelivery_delay(7), Duration::from_secs(60));
        assert_eq!(redelivery_delay(100), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_and_invalid_ones_are_not() {
        let metrics = Metrics::default();
        let calls = AtomicU32::new(0);
        let r = retry_transient(&metrics, "test", || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(ClusterError::Retriable("503".into()))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(r, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let r: ClusterResult<()> = retry_transient(&metrics, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ClusterError::Invalid("bad".into()))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let r: ClusterResult<()> = retry_transient(&metrics, "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ClusterError::Retriable("down".into()))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 6, "one try plus five retries");
    }
}
