//! The Store port: environments, their events and change log, repositories, config sets, audit
//! events and webhook dedupe records.
//!
//! Shaped for both adapters: a document store with preconditions and cursors (Firestore) and an
//! embedded SQL file (SQLite). Writes of an environment carry its `version`; the adapter refuses a
//! stale one with [`StoreError::Conflict`] (a Firestore transaction, a SQL `WHERE version = ?`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::queue::NewJob;
use crate::domain::{
    ConfigSet, Environment, EnvironmentEvent, EnvironmentId, NewEvent, Repository, Status,
    auth::ApiToken, notification::Subscription,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The request cannot be answered as asked (e.g. a cursor this store did not issue).
    #[error("{0}")]
    Invalid(String),
    #[error("store unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Filters for listing environments; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvironmentFilter {
    pub status: Option<Status>,
    pub repository_id: Option<String>,
    pub name_prefix: Option<String>,
    /// Only kept (`true`) or only not kept (`false`) environments.
    pub kept: Option<bool>,
    /// Only sleeping (`true`) or only awake (`false`) environments.
    pub sleeping: Option<bool>,
    /// Only environments holding a slot, or only those in line for one (quotas).
    pub occupancy: Option<Occupancy>,
}

/// Where an environment stands with respect to quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occupancy {
    /// Live (not terminated) and admitted: it holds a slot.
    Running,
    /// In line for a slot.
    Waiting,
}

impl Occupancy {
    pub fn as_str(self) -> &'static str {
        match self {
            Occupancy::Running => "running",
            Occupancy::Waiting => "waiting",
        }
    }

    /// The environment's occupancy; none when terminated.
    pub fn of(env: &Environment) -> Option<Self> {
        match (env.status, &env.waiting) {
            (Status::Terminated, _) => None,
            (_, Some(_)) => Some(Occupancy::Waiting),
            (_, None) => Some(Occupancy::Running),
        }
    }
}

/// A page request: at most `limit` items after the opaque `cursor`.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: Option<String>,
}

/// A listing cursor names a position in the listing order (newest first): the creation time,
/// in microseconds since the Unix epoch as 16 digits, and the id of the last item seen,
/// `{micros}~{id}`. Every value of that shape is a position, so every one is answered.
pub fn encode_cursor(created_at: DateTime<Utc>, id: &str) -> String {
    format!("{:016}~{id}", created_at.timestamp_micros().max(0))
}

/// The position a cursor names.
pub fn decode_cursor(cursor: &str) -> StoreResult<(DateTime<Utc>, String)> {
    let bad = || {
        StoreError::Invalid(
            "cursor: not a cursor (pass the `next` value of the previous page)".into(),
        )
    };
    let (micros, id) = cursor.split_once('~').ok_or_else(bad)?;
    let well_formed = micros.len() == 16
        && micros.bytes().all(|b| b.is_ascii_digit())
        && id.len() <= 63
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !well_formed {
        return Err(bad());
    }
    let at = micros
        .parse()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.to_owned()))
}

/// A page of results and the cursor of the next page, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// One entry of the global change log: the environment as it was after write number `seq`.
/// SSE clients resume from it with `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentChange {
    pub seq: u64,
    pub environment: Environment,
}

/// What a write stored, and the jobs it left in the store's outbox for the caller to publish
/// (empty when the store and the queue share a transaction, as SQLite's do).
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub change: EnvironmentChange,
    pub outbox: Vec<OutboxEntry>,
}

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

/// Something an operator or user did, kept for audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    /// Writes `env` with `events`, a change-log entry and `jobs`, atomically. `env.version == 0`
    /// creates (conflict if the id exists); otherwise the stored version must equal
    /// `env.version`. Returns the environment as stored (version bumped), its change, and the
    /// jobs the caller must publish (the outbox; empty when the jobs went to the queue).
    async fn save_environment(
        &self,
        env: &Environment,
        events: &[NewEvent],
        jobs: &[NewJob],
    ) -> StoreResult<Saved>;
    async fn get_environment(&self, id: &EnvironmentId) -> StoreResult<Option<Environment>>;
    /// Newest first.
    async fn list_environments(
        &self,
        filter: &EnvironmentFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Environment>>;
    /// Live environments whose `expires_at` is at or before `now`, not already deleting.
    async fn list_expired(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Environment>>;
    /// The environment's history after `after_seq`, oldest first.
    async fn list_events(
        &self,
        id: &EnvironmentId,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<EnvironmentEvent>>;
    /// Removes a terminated environment with its history, only while it is still terminated at
    /// `version` (one revived meanwhile stays). Whether it was removed. Its archive is written
    /// first (`service::archive`).
    async fn remove_environment(&self, id: &EnvironmentId, version: u64) -> StoreResult<bool>;
    /// Records events without changing the environment (e.g. notifications).
    async fn append_events(&self, id: &EnvironmentId, events: &[NewEvent]) -> StoreResult<()>;
    /// Change-log entries after `after_seq`, oldest first.
    async fn changes_since(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<EnvironmentChange>>;
    /// The newest change-log sequence number (0 when empty).
    async fn latest_change_seq(&self) -> StoreResult<u64>;

    /// Conflict when the name or GitLab project is already connected.
    async fn create_repository(&self, repo: &Repository) -> StoreResult<()>;
    async fn get_repository(&self, id: &str) -> StoreResult<Option<Repository>>;
    async fn find_repository_by_project(&self, project_id: u64) -> StoreResult<Option<Repository>>;
    async fn list_repositories(&self) -> StoreResult<Vec<Repository>>;
    async fn update_repository(&self, repo: &Repository) -> StoreResult<()>;
    /// Conflict while live environments belong to it.
    async fn delete_repository(&self, id: &str) -> StoreResult<()>;

    /// Conflict when the name is taken.
    async fn create_config_set(&self, set: &ConfigSet) -> StoreResult<()>;
    async fn get_config_set(&self, id: &str) -> StoreResult<Option<ConfigSet>>;
    async fn list_config_sets(&self) -> StoreResult<Vec<ConfigSet>>;
    async fn update_config_set(&self, set: &ConfigSet) -> StoreResult<()>;
    /// Conflict while a repository or live environment refers to it.
    async fn delete_config_set(&self, id: &str) -> StoreResult<()>;

    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    async fn list_audit(&self, limit: u32) -> StoreResult<Vec<AuditEntry>>;

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
    /// Outbox entries written before `before` (their fast-path publish may have been lost).
    async fn outbox_pending(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxEntry>>;
    /// Removes published outbox entries.
    async fn outbox_delete(&self, ids: &[String]) -> StoreResult<()>;
    /// Conflict if the hash exists (practically impossible for random secrets).
    async fn create_token(&self, token: &ApiToken) -> StoreResult<()>;
    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>>;
    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>>;
    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>>;
    /// Replaces a token's record (revocation, last use).
    async fn update_token(&self, token: &ApiToken) -> StoreResult<()>;

    // Notification subscriptions, each with its delivery log. Conflict if the id exists.
    async fn create_subscription(&self, s: &Subscription) -> StoreResult<()>;
    async fn get_subscription(&self, id: &str) -> StoreResult<Option<Subscription>>;
    /// Every subscription, by id.
    async fn list_subscriptions(&self) -> StoreResult<Vec<Subscription>>;
    /// Replaces its record (a delivery logged); NotFound once deleted.
    async fn update_subscription(&self, s: &Subscription) -> StoreResult<()>;
    /// NotFound if there is none.
    async fn delete_subscription(&self, id: &str) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_name_the_position_they_were_made_from(
            micros in 0i64..9_999_999_999_999_999,
            id in "[a-z0-9-]{0,63}",
        ) {
            let at = DateTime::from_timestamp_micros(micros).unwrap();
            let cursor = encode_cursor(at, &id);
            prop_assert_eq!(decode_cursor(&cursor).unwrap(), (at, id));
        }
    }

    #[test]
    fn anything_else_is_not_a_cursor() {
        for bad in [
            "",
            "garbage",
            "123~a",
            "00000000000000001~a",
            "0000000000000001~A",
            "0000000000000001",
        ] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
