//! The Queue port: lifecycle jobs, delivered at least once, in order per ordering key.
//!
//! Mirrors Pub/Sub's model so both adapters fit: publish with an ordering key, pull a message
//! under a lease (ack deadline), ack, nack with a delay (redelivery), extend the lease while a
//! job runs, and dead-letter after too many deliveries. The embedded adapter keeps the same
//! contract in a SQLite table.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("lease lost: the job was redelivered elsewhere")]
    LeaseLost,
}

pub type QueueResult<T> = Result<T, QueueError>;

/// A job to publish.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewJob {
    /// Jobs with the same key are delivered one at a time, in publish order (the environment id).
    pub ordering_key: String,
    /// The serialized job.
    pub payload: Value,
    /// Not delivered before this time (delayed retry).
    pub not_before: Option<DateTime<Utc>>,
    /// Jobs with the same coalescing key are one job while waiting: publishing another while
    /// one waits (not leased) adds nothing (the waiting one becomes due at the earlier time).
    /// A reason to look again, not a recipe, so it can merge; None for jobs that carry
    /// something unique (a comment command).
    #[serde(default)]
    pub coalesce_key: Option<String>,
}

/// A leased job. Ack it when done, nack it to have it redelivered later.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub ordering_key: String,
    pub payload: Value,
    /// 1 on first delivery.
    pub delivery_attempt: u32,
    /// Identifies this lease; a stale lease cannot ack.
    pub lease_token: String,
}

/// Counts for metrics and `/readyz`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub ready: u64,
    pub delayed: u64,
    pub in_flight: u64,
    pub dead: u64,
}

#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Durably enqueues; returns only once the job survives a crash.
    async fn enqueue(&self, job: NewJob) -> QueueResult<String>;
    /// Leases the next deliverable job for `lease`, waiting at most `max_wait` for one.
    async fn receive(&self, lease: Duration, max_wait: Duration) -> QueueResult<Option<Delivery>>;
    async fn ack(&self, delivery: &Delivery) -> QueueResult<()>;
    /// Releases the job for redelivery after `delay`; the delivery counts as failed.
    async fn nack(&self, delivery: &Delivery, delay: Duration) -> QueueResult<()>;
    /// Releases the job for redelivery after `delay` without counting a failed delivery: the
    /// job is waiting on the lifecycle (e.g. for a teardown to finish), not failing.
    async fn defer(&self, delivery: &Delivery, delay: Duration) -> QueueResult<()>;
    async fn extend_lease(&self, delivery: &Delivery, lease: Duration) -> QueueResult<()>;
    async fn depth(&self) -> QueueResult<QueueDepth>;
}
