//! Webhook deliveries and the outbox: what came in (each delivery once, each merge request's
//! newest event) and the jobs written with a change, waiting to go out to the queue.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreResult;
use crate::ports::queue::NewJob;

/// A job written in the same transaction as a change, waiting to be published to the queue
/// (the transactional outbox). Published, then deleted; a publish lost to a crash is found
/// again by `outbox_pending`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub id: String,
    pub job: NewJob,
}

/// Where a merge request event stands in its merge request's order: GitLab's
/// `object_attributes.updated_at`, then the head commit's timestamp, as sortable text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequestMark {
    /// `{repository_id}:{iid}`.
    pub key: String,
    pub order: String,
    /// The event (`domain::gitlab::MergeRequestEvent`) to apply, as JSON.
    pub event: String,
}

/// One webhook delivery, recorded in one transaction: its id (so a redelivery is a
/// duplicate), for merge request events the newest event of the merge request (so an older
/// one is stale), and the job it queues.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookIngest {
    pub delivery_key: Option<String>,
    /// Until when the delivery id is remembered.
    pub expires_at: DateTime<Utc>,
    pub merge_request: Option<MergeRequestMark>,
    pub job: NewJob,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Recorded and queued.
    Queued,
    /// This delivery id was recorded before: nothing done.
    Duplicate,
    /// An event newer than this one was recorded for its merge request: nothing queued.
    Stale,
}

#[async_trait]
pub trait DeliveryLog: Send + Sync + 'static {
    /// Records a webhook delivery and queues its job, atomically (see [`WebhookIngest`]).
    async fn ingest_webhook(
        &self,
        ingest: &WebhookIngest,
    ) -> StoreResult<(IngestOutcome, Vec<OutboxEntry>)>;
    /// The newest recorded event of a merge request (`{repository_id}:{iid}`).
    async fn merge_request_event(&self, key: &str) -> StoreResult<Option<String>>;
    /// Keys (`{repository_id}:{iid}`) of merge requests with a recorded event, after `after`
    /// in key order (the resync pages through them).
    async fn merge_request_keys(&self, after: &str, limit: u32) -> StoreResult<Vec<String>>;
}

/// Jobs written in the same transaction as a change or a delivery, until published. The relay
/// publishes what a crash left behind.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Outbox entries written before `before` (their fast-path publish may have been lost).
    async fn outbox_pending(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxEntry>>;
    /// Removes published outbox entries.
    async fn outbox_delete(&self, ids: &[String]) -> StoreResult<()>;
}
