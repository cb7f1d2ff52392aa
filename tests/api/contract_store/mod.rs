//! The metadata ports' contracts, each run against every adapter: SQLite, Firestore
//! (emulator), and SQLite with the Redis cache in front of its environments.

mod cache;
mod catalog;
mod deliveries;
mod environments;
mod listing;
mod records;

use std::sync::Arc;

use blueberry::{
    adapters::{
        firestore::FirestoreStore,
        redis_cache::CachedStore,
        sqlite::{Db, SqliteStore},
    },
    domain::*,
    ports::{EnvironmentStore, MetadataStore},
};
use chrono::{Duration, TimeZone, Utc};

use crate::emulators;

/// One adapter's ports, as `app::Stores` hands them out: the adapter, and its environments
/// (behind the cache in `cached`).
#[derive(Clone)]
pub struct Stores {
    pub metadata: Arc<dyn MetadataStore>,
    pub environments: Arc<dyn EnvironmentStore>,
}

impl Stores {
    fn of(store: impl MetadataStore) -> Self {
        let store = Arc::new(store);
        Self {
            metadata: store.clone(),
            environments: store,
        }
    }
}

async fn sqlite() -> (Stores, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("s.sqlite3")).unwrap();
    (Stores::of(SqliteStore::new(db)), dir)
}

async fn firestore() -> Stores {
    let host = emulators::firestore();
    Stores::of(
        FirestoreStore::connect(&emulators::unique("contract"), "(default)", Some(host))
            .await
            .unwrap(),
    )
}

/// SQLite, its environments behind the Redis cache (the only port the cache decorates).
async fn cached() -> (Stores, tempfile::TempDir) {
    let (mut stores, dir) = sqlite().await;
    stores.environments = Arc::new(
        CachedStore::connect(
            stores.environments,
            emulators::redis(),
            &format!("{}:", emulators::unique("test")),
        )
        .await
        .unwrap(),
    );
    (stores, dir)
}

fn env(name: &str, repo: &str, minutes: i64) -> Environment {
    let name = EnvironmentName::parse(name).unwrap();
    let created = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap() + Duration::minutes(minutes);
    Environment::create(
        EnvironmentId::derive(&name, &RepositoryName::parse(repo).unwrap()),
        NewEnvironment {
            name,
            repository_id: repo.into(),
            config_set_id: Some("cs".into()),
            branch: BranchName::parse("main").unwrap(),
            sha: None,
            merge_request: None,
            ttl_hours: TtlHours::new(1).unwrap(),
            helm_values_override: None,
        },
        created,
    )
}

fn ev(kind: EventKind, msg: &str) -> NewEvent {
    NewEvent::new(kind, "test", msg)
}

fn repo(id: &str, name: &str, project: u64, cs: Option<&str>) -> Repository {
    let now = Utc::now();
    Repository {
        id: id.into(),
        name: RepositoryName::parse(name).unwrap(),
        gitlab_project_id: project,
        path_with_namespace: format!("acme/{name}"),
        config_set_id: cs.map(Into::into),
        filters: RepositoryFilters::default(),
        webhook_secret_hash: "00".repeat(32),
        webhook_signing_key: None,
        lifetime: Default::default(),
        max_environments: None,
        sleep_after_idle_minutes: None,
        sleep_schedule: None,
        created_at: now,
        updated_at: now,
    }
}

fn config_set(id: &str, name: &str) -> ConfigSet {
    let now = Utc::now();
    ConfigSet {
        id: id.into(),
        name: name.into(),
        repo_url: "https://e.com/r.git".into(),
        source: ChartSource::Path("p".into()),
        target_revision: "main".into(),
        values: Default::default(),
        created_at: now,
        updated_at: now,
    }
}

/// A module running `$check` on each adapter.
macro_rules! contract {
    ($name:ident, $check:ident) => {
        mod $name {
            #[tokio::test]
            async fn on_sqlite() {
                let (stores, _dir) = crate::contract_store::sqlite().await;
                super::$check(stores).await;
            }

            #[tokio::test]
            async fn on_firestore() {
                super::$check(crate::contract_store::firestore().await).await;
            }

            #[tokio::test]
            async fn on_sqlite_behind_the_redis_cache() {
                let (stores, _dir) = crate::contract_store::cached().await;
                super::$check(stores).await;
            }
        }
    };
}
use contract;
