//! Environments: their records, history and change log, the aggregate the reconciles and the
//! pages read and write. The one port the Redis cache decorates.
//!
//! Writes of an environment carry its `version`; the adapter refuses a stale one with
//! [`StoreError::Conflict`] (a Firestore transaction, a SQL `WHERE version = ?`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{OutboxEntry, StoreError, StoreResult};
use crate::{
    domain::{Environment, EnvironmentEvent, EnvironmentId, NewEvent, Status},
    ports::queue::NewJob,
};

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

impl Page<Environment> {
    /// The page of a listing read with one environment more than `limit`, in listing order:
    /// that extra one only says there is a next page, which starts after the last item kept.
    pub fn overfetched(mut items: Vec<Environment>, limit: u32) -> Self {
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|e| encode_cursor(e.created_at, e.id.as_str()))
        } else {
            None
        };
        Self { items, next }
    }
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

#[async_trait]
pub trait EnvironmentStore: Send + Sync + 'static {
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
