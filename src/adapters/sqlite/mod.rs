//! The embedded adapters on one SQLite file: the Store (this module) and the durable job queue
//! (`queue`). WAL mode, schema migrations in code; writes group-committed by one writer
//! thread, reads on a pool of read-only connections (`db`).

mod catalog;
mod db;
mod environments;
pub mod queue;
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
    domain::{
        ConfigSet, Environment, EnvironmentEvent, EnvironmentId, NewEvent, Repository,
        auth::ApiToken, notification::Subscription,
    },
    ports::{
        queue::NewJob,
        store::{
            AuditEntry, EnvironmentChange, EnvironmentFilter, IngestOutcome, OutboxEntry, Page,
            PageRequest, Saved, Store, StoreError, StoreResult, WebhookIngest,
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
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("timestamp {s:?}: {e}")))
}

pub(crate) fn to_doc<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn from_doc<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The Store on SQLite.
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
impl Store for SqliteStore {
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

    async fn create_repository(&self, repo: &Repository) -> StoreResult<()> {
        let repo = repo.clone();
        self.db
            .write(move |c| catalog::create_repository(c, &repo))
            .await
    }

    async fn get_repository(&self, id: &str) -> StoreResult<Option<Repository>> {
        let id = id.to_owned();
        self.db
            .read(move |c| catalog::get_doc(c, "repositories", "id", &id))
            .await
    }

    async fn find_repository_by_project(&self, project_id: u64) -> StoreResult<Option<Repository>> {
        self.db
            .read(move |c| {
                catalog::get_doc(c, "repositories", "gitlab_project_id", &(project_id as i64))
            })
            .await
    }

    async fn list_repositories(&self) -> StoreResult<Vec<Repository>> {
        self.db
            .read(|c| catalog::list_docs(c, "repositories", "name"))
            .await
    }

    async fn update_repository(&self, repo: &Repository) -> StoreResult<()> {
        let repo = repo.clone();
        self.db
            .write(move |c| catalog::update_repository(c, &repo))
            .await
    }

    async fn delete_repository(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.db
            .write(move |c| catalog::delete_repository(c, &id))
            .await
    }

    async fn create_config_set(&self, set: &ConfigSet) -> StoreResult<()> {
        let set = set.clone();
        self.db
            .write(move |c| catalog::create_config_set(c, &set))
            .await
    }

    async fn get_config_set(&self, id: &str) -> StoreResult<Option<ConfigSet>> {
        let id = id.to_owned();
        self.db
            .read(move |c| catalog::get_doc(c, "config_sets", "id", &id))
            .await
    }

    async fn list_config_sets(&self) -> StoreResult<Vec<ConfigSet>> {
        self.db
            .read(|c| catalog::list_docs(c, "config_sets", "name"))
            .await
    }

    async fn update_config_set(&self, set: &ConfigSet) -> StoreResult<()> {
        let set = set.clone();
        self.db
            .write(move |c| catalog::update_config_set(c, &set))
            .await
    }

    async fn delete_config_set(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.db
            .write(move |c| catalog::delete_config_set(c, &id))
            .await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let e = entry.clone();
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO audit_events (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                    (ts(e.at), &e.actor, &e.action, &e.target, &e.detail),
                )
                .map(|_| ())
                .map_err(db_err)
            })
            .await
    }

    async fn list_audit(&self, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.db.read(move |c| catalog::list_audit(c, limit)).await
    }

    async fn ingest_webhook(
        &self,
        ingest: &WebhookIngest,
    ) -> StoreResult<(IngestOutcome, Vec<OutboxEntry>)> {
        let ingest = ingest.clone();
        let purge = self
            .ingested
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .is_multiple_of(PURGE_EVERY);
        let outcome = self
            .db
            .write(move |c| {
                if purge {
                    webhooks::forget_expired(c, Utc::now())?;
                }
                webhooks::ingest(c, &ingest, Utc::now())
            })
            .await?;
        if outcome == IngestOutcome::Queued {
            self.db.jobs_added().notify_waiters();
        }
        Ok((outcome, vec![]))
    }

    async fn merge_request_keys(&self, after: &str, limit: u32) -> StoreResult<Vec<String>> {
        let after = after.to_owned();
        self.db
            .read(move |c| webhooks::merge_request_keys(c, &after, limit))
            .await
    }

    async fn merge_request_event(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.db
            .read(move |c| webhooks::merge_request_event(c, &key))
            .await
    }

    async fn outbox_pending(
        &self,
        _before: DateTime<Utc>,
        _limit: u32,
    ) -> StoreResult<Vec<OutboxEntry>> {
        // Jobs are written straight into the queue's table, in the same transaction.
        Ok(vec![])
    }

    async fn outbox_delete(&self, _ids: &[String]) -> StoreResult<()> {
        Ok(())
    }

    async fn create_token(&self, token: &ApiToken) -> StoreResult<()> {
        let token = token.clone();
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO api_tokens (id, hash, doc) VALUES (?1, ?2, ?3)",
                    (&token.id, &token.hash, to_doc(&token)?),
                )
                .map(|_| ())
                .map_err(|e| {
                    if is_constraint(&e) {
                        StoreError::Conflict("token exists".into())
                    } else {
                        db_err(e)
                    }
                })
            })
            .await
    }

    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        let hash = hash.to_owned();
        self.db
            .read(move |c| catalog::get_doc(c, "api_tokens", "hash", &hash))
            .await
    }

    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        let id = id.to_owned();
        self.db
            .read(move |c| catalog::get_doc(c, "api_tokens", "id", &id))
            .await
    }

    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        self.db
            .read(|c| catalog::list_docs(c, "api_tokens", "id"))
            .await
    }

    async fn update_token(&self, token: &ApiToken) -> StoreResult<()> {
        let token = token.clone();
        self.db
            .write(move |c| {
                catalog::update_doc(c, "api_tokens", &token.id, to_doc(&token)?, "token")
            })
            .await
    }

    async fn create_subscription(&self, sub: &Subscription) -> StoreResult<()> {
        let sub = sub.clone();
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO subscriptions (id, doc) VALUES (?1, ?2)",
                    (&sub.id, to_doc(&sub)?),
                )
                .map(|_| ())
                .map_err(|e| {
                    if is_constraint(&e) {
                        StoreError::Conflict(format!("subscription `{}` exists", sub.id))
                    } else {
                        db_err(e)
                    }
                })
            })
            .await
    }

    async fn get_subscription(&self, id: &str) -> StoreResult<Option<Subscription>> {
        let id = id.to_owned();
        self.db
            .read(move |c| catalog::get_doc(c, "subscriptions", "id", &id))
            .await
    }

    async fn list_subscriptions(&self) -> StoreResult<Vec<Subscription>> {
        self.db
            .read(|c| catalog::list_docs(c, "subscriptions", "id"))
            .await
    }

    async fn update_subscription(&self, sub: &Subscription) -> StoreResult<()> {
        let sub = sub.clone();
        self.db
            .write(move |c| {
                catalog::update_doc(c, "subscriptions", &sub.id, to_doc(&sub)?, "subscription")
            })
            .await
    }

    async fn delete_subscription(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.db
            .write(move |c| {
                let n = c
                    .execute("DELETE FROM subscriptions WHERE id = ?1", [&id])
                    .map_err(db_err)?;
                if n == 0 {
                    Err(StoreError::NotFound(format!("subscription `{id}`")))
                } else {
                    Ok(())
                }
            })
            .await
    }
}
