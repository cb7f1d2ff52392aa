//! The embedded adapters on one SQLite file: every metadata port (environments here, the
//! catalog and audit log in `catalog`, deliveries in `webhooks`, tokens and subscriptions in
//! `records`) and the durable job queue (`queue`). WAL mode, schema migrations in code; writes
//! group-committed by one writer thread, reads on a pool of read-only connections (`db`).

mod catalog;
mod db;
mod environments;
pub mod queue;
mod records;
mod schema;
mod sessions;
mod shared;
mod webhooks;

pub use db::Db;
pub use sessions::SqliteSessions;
pub use shared::SqliteShared;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::{
    domain::{Environment, EnvironmentEvent, EnvironmentId, NewEvent},
    ports::{
        queue::NewJob,
        store::{
            EnvironmentChange, EnvironmentFilter, EnvironmentStore, Page, PageRequest, Saved,
            StoreError, StoreResult,
        },
    },
};

/// Maps driver errors; constraint violations are reported by the callers that expect them.
/// Runs `sql`, prepared once per connection (parsing SQL costs more than running it).
pub(crate) fn run(
    c: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(params)
}

/// The one row `sql` selects, prepared once per connection.
pub(crate) fn one_row<T>(
    c: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    c.prepare_cached(sql)?.query_row(params, f)
}

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(anyhow::Error::new(e).context("SQLite"))
}

pub(crate) fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// Timestamps are stored as fixed-width RFC 3339 UTC strings, so text order is time order.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    crate::domain::timestamp::parse(s)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

pub(crate) fn to_doc<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn from_doc<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Every metadata port on SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    db: Db,
    /// Deliveries recorded; expired delivery ids are purged every [`PURGE_EVERY`] of them.
    ingested: Arc<std::sync::atomic::AtomicU64>,
}

/// How many webhook deliveries pass between purges of expired delivery ids.
const PURGE_EVERY: u64 = 1024;

impl SqliteStore {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            ingested: Arc::default(),
        }
    }
}

#[async_trait]
impl EnvironmentStore for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.db
            .read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db_err))
            .await
    }

    async fn save_environment(
        &self,
        env: &Environment,
        events: &[NewEvent],
        jobs: &[NewJob],
    ) -> StoreResult<Saved> {
        let (env, events, jobs) = (env.clone(), events.to_vec(), jobs.to_vec());
        let with_jobs = !jobs.is_empty();
        let change = self
            .db
            .write(move |c| environments::save(c, env, &events, &jobs))
            .await?;
        if with_jobs {
            self.db.jobs_added().notify_waiters();
        }
        Ok(Saved {
            change,
            outbox: vec![],
        })
    }

    async fn get_environment(&self, id: &EnvironmentId) -> StoreResult<Option<Environment>> {
        let id = id.to_string();
        self.db.read(move |c| environments::get(c, &id)).await
    }

    async fn list_environments(
        &self,
        filter: &EnvironmentFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Environment>> {
        let (filter, page) = (filter.clone(), page.clone());
        self.db
            .read(move |c| environments::list(c, &filter, &page))
            .await
    }

    async fn list_expired(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Environment>> {
        self.db
            .read(move |c| environments::expired(c, now, limit))
            .await
    }

    async fn list_events(
        &self,
        id: &EnvironmentId,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<EnvironmentEvent>> {
        let id = id.clone();
        self.db
            .read(move |c| environments::events(c, &id, after_seq, limit))
            .await
    }

    async fn remove_environment(&self, id: &EnvironmentId, version: u64) -> StoreResult<bool> {
        let id = id.to_string();
        self.db
            .write(move |c| environments::remove(c, &id, version))
            .await
    }

    async fn append_events(&self, id: &EnvironmentId, events: &[NewEvent]) -> StoreResult<()> {
        let (id, events) = (id.to_string(), events.to_vec());
        self.db
            .write(move |c| environments::append_events(c, &id, &events, Utc::now()))
            .await
    }

    async fn changes_since(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<EnvironmentChange>> {
        self.db
            .read(move |c| environments::changes_since(c, after_seq, limit))
            .await
    }

    async fn latest_change_seq(&self) -> StoreResult<u64> {
        self.db
            .read(|c| {
                c.query_row(
                    "SELECT COALESCE(MAX(seq), 0) FROM environment_changes",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n as u64)
                .map_err(db_err)
            })
            .await
    }
}
