//! Every metadata port on Google Cloud Firestore (`firestore` crate): environments here, the
//! catalog in `catalog`, tokens, subscriptions and audit in `records`, deliveries and the outbox
//! in `outbox`.
//!
//! Collections: `environments` (one document per environment, with the fields queries filter
//! and order on, plus the whole record as JSON), `environment_events`, `repositories`,
//! `config_sets`, `audit_events`, `webhook_deliveries` and `reconcile_leases` (TTL policies on
//! `expires_at`), `merge_request_events`, `outbox`; `login_codes` and `session_ends` (`sessions`).
//! Every environment write is a transaction that checks the stored `version` and adds the
//! events and outbox jobs: it touches only that environment's documents, so writes of different
//! environments never contend (Firestore sustains about one write per second per document; a
//! shared counter capped the whole platform at that). The change log SSE resumes from is the
//! Redis stream (`adapters::redis_bus`). The composite indexes these queries need are in
//! `terraform/firestore.indexes.json`.

mod catalog;
mod environments;
mod leases;
mod outbox;
mod records;
mod removal;
mod sessions;
mod shared;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use firestore::{FirestoreDb, FirestoreDbOptions, errors::FirestoreError};

use crate::{
    domain::{ConfigSet, Environment, EnvironmentEvent, EnvironmentId, NewEvent, Repository},
    ports::{
        queue::NewJob,
        store::{
            CatalogStore, EnvironmentChange, EnvironmentFilter, EnvironmentStore, Page,
            PageRequest, Saved, StoreError, StoreResult,
        },
    },
};

pub(crate) const ENVIRONMENTS: &str = "environments";
pub(crate) const EVENTS: &str = "environment_events";
pub(crate) const REPOSITORIES: &str = "repositories";
pub(crate) const CONFIG_SETS: &str = "config_sets";
pub(crate) const AUDIT: &str = "audit_events";
pub(crate) const DELIVERIES: &str = "webhook_deliveries";
pub(crate) const TOKENS: &str = "api_tokens";
pub(crate) const SUBSCRIPTIONS: &str = "subscriptions";
pub(crate) const MERGE_REQUEST_EVENTS: &str = "merge_request_events";
pub(crate) const OUTBOX: &str = "outbox";
pub(crate) const LEASES: &str = "reconcile_leases";
pub(crate) const LOGIN_CODES: &str = "login_codes";
pub(crate) const SESSION_ENDS: &str = "session_ends";
pub(crate) const SHARED_STATE: &str = "shared_state";

pub use leases::FirestoreLeases;
pub use sessions::FirestoreSessions;
pub use shared::FirestoreShared;

#[derive(Clone)]
pub struct FirestoreStore {
    db: FirestoreDb,
}

/// Transactions retry contention aborts (ABORTED, lock timeouts) more than the default: writers
/// of one environment (the API and a worker) do collide now and then.
/// The document `id` of `collection`, if there is one.
pub(crate) async fn read<D>(
    db: &FirestoreDb,
    collection: &str,
    id: &str,
) -> firestore::FirestoreResult<Option<D>>
where
    D: for<'de> serde::Deserialize<'de> + Send,
{
    db.fluent()
        .select()
        .by_id_in(collection)
        .obj()
        .one(id)
        .await
}

/// Runs `body` as one Firestore transaction, retried (up to 12 times, 30 s) while it contends.
pub(crate) async fn transaction<T, F, E>(db: &FirestoreDb, body: F) -> StoreResult<T>
where
    for<'b> F: Fn(
        FirestoreDb,
        &'b mut firestore::FirestoreTransaction,
    )
        -> futures::future::BoxFuture<'b, Result<T, firestore::errors::BackoffError<E>>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let options = firestore::FirestoreTransactionOptions::new()
        .with_max_retries(12)
        .with_retry_max_elapsed_time(std::time::Duration::from_secs(30));
    db.run_transaction_with_options(body, options)
        .await
        .map_err(fs_err)
}

fn no_change_log() -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!(
        "Firestore keeps no change log; the Redis change stream does (--bus redis)"
    ))
}

/// A stored document that does not decode.
fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Ends a transaction with `e`, without retrying it.
fn permanent(
    tx: &firestore::FirestoreTransaction,
    e: StoreError,
) -> firestore::errors::BackoffError<FirestoreError> {
    firestore::errors::FirestoreErrorInTransaction::permanent(tx, e)
}

/// A time as fixed-width RFC 3339 UTC, so string order is time order.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Maps Firestore errors onto the port's classes.
pub(crate) fn fs_err(e: FirestoreError) -> StoreError {
    match e {
        FirestoreError::DataNotFoundError(e) => StoreError::NotFound(e.to_string()),
        FirestoreError::DataConflictError(e) => StoreError::Conflict(e.to_string()),
        // `run_transaction` wraps the callback's error again: unwrap until ours appears.
        FirestoreError::ErrorInTransaction(inner) => match inner.source.downcast::<StoreError>() {
            Ok(store_error) => *store_error,
            Err(other) => match other.downcast::<FirestoreError>() {
                Ok(firestore_error) => fs_err(*firestore_error),
                Err(other) => {
                    StoreError::Unavailable(anyhow::anyhow!("Firestore transaction: {other}"))
                }
            },
        },
        FirestoreError::DeserializeError(e) => StoreError::Corrupt(e.to_string()),
        other => StoreError::Unavailable(anyhow::Error::new(other).context("Firestore")),
    }
}

impl FirestoreStore {
    /// Connects to `project`/`database`. With `emulator_host` (`FIRESTORE_EMULATOR_HOST`), talks
    /// to the emulator without credentials; otherwise uses Application Default Credentials
    /// (Workload Identity on GKE).
    pub async fn connect(
        project: &str,
        database: &str,
        emulator_host: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut options =
            FirestoreDbOptions::new(project.to_owned()).with_database_id(database.to_owned());
        let db = match emulator_host {
            Some(host) => {
                let url = if host.starts_with("http") {
                    host.to_owned()
                } else {
                    format!("http://{host}")
                };
                options = options.with_firebase_api_url(url);
                let anonymous =
                    firestore::gcloud_sdk::google_cloud_auth::credentials::anonymous::Builder::new(
                    )
                    .build();
                FirestoreDb::with_options_auth(options, anonymous).await?
            }
            None => FirestoreDb::with_options(options).await?,
        };
        Ok(Self { db })
    }

    /// Reconcile leases in the same database.
    pub fn leases(&self) -> FirestoreLeases {
        FirestoreLeases::new(self.db.clone())
    }

    /// Login links and ended sessions in the same database.
    pub fn sessions(&self) -> FirestoreSessions {
        FirestoreSessions::new(self.db.clone())
    }

    /// State every replica shares, in the same database.
    pub fn shared(&self) -> FirestoreShared {
        FirestoreShared::new(self.db.clone())
    }
}

#[async_trait]
impl EnvironmentStore for FirestoreStore {
    async fn ping(&self) -> StoreResult<()> {
        read::<environments::EnvDoc>(&self.db, ENVIRONMENTS, "-ping")
            .await
            .map(|_| ())
            .map_err(fs_err)
    }

    async fn save_environment(
        &self,
        env: &Environment,
        events: &[NewEvent],
        jobs: &[NewJob],
    ) -> StoreResult<Saved> {
        environments::save(&self.db, env, events, jobs).await
    }

    async fn get_environment(&self, id: &EnvironmentId) -> StoreResult<Option<Environment>> {
        environments::get(&self.db, id.as_str()).await
    }

    async fn list_environments(
        &self,
        filter: &EnvironmentFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Environment>> {
        environments::list(&self.db, filter, page).await
    }

    async fn list_expired(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Environment>> {
        environments::expired(&self.db, now, limit).await
    }

    async fn list_events(
        &self,
        id: &EnvironmentId,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<EnvironmentEvent>> {
        environments::events(&self.db, id, after, limit).await
    }

    async fn remove_environment(&self, id: &EnvironmentId, version: u64) -> StoreResult<bool> {
        removal::remove(&self.db, id, version).await
    }

    async fn append_events(&self, id: &EnvironmentId, events: &[NewEvent]) -> StoreResult<()> {
        environments::append_events(&self.db, id, events).await
    }

    /// Firestore keeps no change log: the Redis stream is it (`--bus redis`, which
    /// `--store firestore` requires).
    async fn changes_since(&self, _after: u64, _limit: u32) -> StoreResult<Vec<EnvironmentChange>> {
        Err(no_change_log())
    }

    async fn latest_change_seq(&self) -> StoreResult<u64> {
        Err(no_change_log())
    }
}

#[async_trait]
impl CatalogStore for FirestoreStore {
    async fn create_repository(&self, r: &Repository) -> StoreResult<()> {
        catalog::create_repository(&self.db, r).await
    }

    async fn get_repository(&self, id: &str) -> StoreResult<Option<Repository>> {
        catalog::get_doc(&self.db, REPOSITORIES, id).await
    }

    async fn find_repository_by_project(&self, project_id: u64) -> StoreResult<Option<Repository>> {
        catalog::find_repository_by_project(&self.db, project_id).await
    }

    async fn list_repositories(&self) -> StoreResult<Vec<Repository>> {
        catalog::list_docs(&self.db, REPOSITORIES).await
    }

    async fn update_repository(&self, r: &Repository) -> StoreResult<()> {
        catalog::update_repository(&self.db, r).await
    }

    async fn delete_repository(&self, id: &str) -> StoreResult<()> {
        catalog::delete_repository(&self.db, id).await
    }

    async fn create_config_set(&self, s: &ConfigSet) -> StoreResult<()> {
        catalog::create_config_set(&self.db, s).await
    }

    async fn get_config_set(&self, id: &str) -> StoreResult<Option<ConfigSet>> {
        catalog::get_doc(&self.db, CONFIG_SETS, id).await
    }

    async fn list_config_sets(&self) -> StoreResult<Vec<ConfigSet>> {
        catalog::list_docs(&self.db, CONFIG_SETS).await
    }

    async fn update_config_set(&self, s: &ConfigSet) -> StoreResult<()> {
        catalog::update_config_set(&self.db, s).await
    }

    async fn delete_config_set(&self, id: &str) -> StoreResult<()> {
        catalog::delete_config_set(&self.db, id).await
    }
}
