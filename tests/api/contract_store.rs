//! The Store contract, run against every adapter: SQLite, Firestore (emulator), and the Redis
//! cache in front of SQLite.

use std::sync::Arc;

use blueberry::{
    adapters::{
        firestore::FirestoreStore,
        redis_cache::CachedStore,
        sqlite::{Db, SqliteStore},
    },
    domain::*,
    ports::{
        EnvironmentFilter, IngestOutcome, MergeRequestMark, NewJob, Occupancy, PageRequest, Store,
        StoreError, WebhookIngest, store::AuditEntry,
    },
};
use chrono::{Duration, TimeZone, Utc};

use crate::emulators;

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("s.sqlite3")).unwrap();
    (Arc::new(SqliteStore::new(db)), dir)
}

async fn firestore() -> Arc<dyn Store> {
    let host = emulators::firestore();
    Arc::new(
        FirestoreStore::connect(&emulators::unique("contract"), "(default)", Some(host))
            .await
            .unwrap(),
    )
}

async fn cached() -> (Arc<dyn Store>, tempfile::TempDir) {
    let (inner, dir) = sqlite().await;
    let store = CachedStore::connect(
        inner,
        emulators::redis(),
        &format!("{}:", emulators::unique("test")),
    )
    .await
    .unwrap();
    (Arc::new(store), dir)
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

async fn versions_guard_every_write(store: Arc<dyn Store>) {
    let e = env("demo", "shop", 0);
    let first = store
        .save_environment(&e, &[ev(EventKind::Created, "created")], &[])
        .await
        .unwrap();
    assert_eq!(first.change.environment.version, 1);
    assert!(
        matches!(
            store.save_environment(&e, &[], &[]).await,
            Err(StoreError::Conflict(_))
        ),
        "creating twice conflicts"
    );
    let mut next = first.change.environment.clone();
    next.status_message = Some("second".into());
    let second = store
        .save_environment(&next, &[ev(EventKind::Applied, "applied")], &[])
        .await
        .unwrap();
    assert_eq!(second.change.environment.version, 2);
    // A writer holding version 1 lost the race.
    let stale = store.save_environment(&next, &[], &[]).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let stored = store.get_environment(&e.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.version, stored.status_message.as_deref()),
        (2, Some("second"))
    );
    let mut ghost = env("ghost", "shop", 0);
    ghost.version = 3;
    assert!(matches!(
        store.save_environment(&ghost, &[], &[]).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.get_environment(&ghost.id).await.unwrap().is_none());

    store
        .append_events(&e.id, &[ev(EventKind::Notification, "note")])
        .await
        .unwrap();
    let events = store.list_events(&e.id, 0, 100).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|x| (x.seq, x.kind)).collect();
    assert_eq!(
        kinds,
        [
            (1, EventKind::Created),
            (2, EventKind::Applied),
            (3, EventKind::Notification)
        ]
    );
    assert_eq!(store.list_events(&e.id, 2, 100).await.unwrap().len(), 1);
}

async fn lists_page_and_filter(store: Arc<dyn Store>) {
    for (i, name) in ["a-1", "a-2", "b-1", "a-3", "c-1"].iter().enumerate() {
        let mut e = env(
            name,
            if *name == "c-1" { "other" } else { "shop" },
            i as i64,
        );
        if *name == "b-1" {
            e.status = Status::Ready;
        }
        store.save_environment(&e, &[], &[]).await.unwrap();
    }
    let all = |f: EnvironmentFilter| {
        let store = store.clone();
        async move {
            let mut names = Vec::new();
            let mut cursor = None;
            loop {
                let page = store
                    .list_environments(&f, &PageRequest { limit: 2, cursor })
                    .await
                    .unwrap();
                assert!(page.items.len() <= 2);
                names.extend(page.items.iter().map(|e| e.name.to_string()));
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => return names,
                }
            }
        }
    };
    assert_eq!(
        all(EnvironmentFilter::default()).await,
        ["c-1", "a-3", "b-1", "a-2", "a-1"]
    );
    assert_eq!(
        all(EnvironmentFilter {
            name_prefix: Some("a-".into()),
            ..Default::default()
        })
        .await,
        ["a-3", "a-2", "a-1"]
    );
    assert_eq!(
        all(EnvironmentFilter {
            status: Some(Status::Ready),
            ..Default::default()
        })
        .await,
        ["b-1"]
    );
    assert_eq!(
        all(EnvironmentFilter {
            repository_id: Some("other".into()),
            ..Default::default()
        })
        .await,
        ["c-1"]
    );
    let bad = store
        .list_environments(
            &Default::default(),
            &PageRequest {
                limit: 2,
                cursor: Some("nonsense".into()),
            },
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))));

    let later = Utc.with_ymd_and_hms(2026, 5, 1, 13, 2, 30).unwrap();
    let expired: Vec<_> = store
        .list_expired(later, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(expired, ["a-1", "a-2", "b-1"], "expires_at = created + 1 h");
}

async fn the_catalog_keeps_names_unique_and_references_intact(store: Arc<dyn Store>) {
    store
        .create_config_set(&config_set("cs", "web"))
        .await
        .unwrap();
    assert!(matches!(
        store.create_config_set(&config_set("cs2", "web")).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_repository(&repo("r1", "shop", 10, Some("cs")))
        .await
        .unwrap();
    assert!(matches!(
        store.create_repository(&repo("r2", "shop", 11, None)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .create_repository(&repo("r3", "other", 10, None))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .find_repository_by_project(10)
            .await
            .unwrap()
            .unwrap()
            .id,
        "r1"
    );
    assert!(
        store
            .find_repository_by_project(99)
            .await
            .unwrap()
            .is_none()
    );
    let mut updated = repo("r1", "shop", 12, Some("cs"));
    updated.path_with_namespace = "acme/renamed".into();
    store.update_repository(&updated).await.unwrap();
    assert_eq!(
        store
            .get_repository("r1")
            .await
            .unwrap()
            .unwrap()
            .path_with_namespace,
        "acme/renamed"
    );
    assert!(matches!(
        store
            .update_repository(&repo("nope", "nope", 13, None))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let in_use = store.delete_config_set("cs").await;
    assert!(
        matches!(in_use, Err(StoreError::Conflict(_))),
        "in use by r1: {in_use:?}"
    );

    let mut e = env("live", "shop", 0);
    e.repository_id = "r1".into();
    store.save_environment(&e, &[], &[]).await.unwrap();
    assert!(matches!(
        store.delete_repository("r1").await,
        Err(StoreError::Conflict(_))
    ));
    let mut done = store.get_environment(&e.id).await.unwrap().unwrap();
    done.status = Status::Terminated;
    store.save_environment(&done, &[], &[]).await.unwrap();
    store.delete_repository("r1").await.unwrap();
    assert!(store.get_repository("r1").await.unwrap().is_none());
    assert!(matches!(
        store.delete_repository("r1").await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_config_set("cs").await.unwrap();
    assert!(store.list_config_sets().await.unwrap().is_empty());

    let entry = AuditEntry {
        at: Utc::now(),
        actor: "alice".into(),
        action: "repository.delete".into(),
        target: "r1".into(),
        detail: String::new(),
    };
    store.append_audit(&entry).await.unwrap();
    assert_eq!(store.list_audit(10).await.unwrap()[0].actor, "alice");

    deliveries_are_recorded_once_and_older_events_are_stale(&store).await;
}

async fn deliveries_are_recorded_once_and_older_events_are_stale(store: &Arc<dyn Store>) {
    let until = Utc::now() + Duration::hours(1);
    let job = |n: u64| NewJob {
        ordering_key: "pr-1-shop".into(),
        payload: serde_json::json!({"n": n}),
        not_before: None,
        coalesce_key: None,
    };
    let mark = |order: &str, n: u64| MergeRequestMark {
        key: "r1:1".into(),
        order: order.into(),
        event: serde_json::json!({"n": n}).to_string(),
    };
    let ingest = |key: &str, order: &str, n: u64| WebhookIngest {
        delivery_key: Some(key.into()),
        expires_at: until,
        merge_request: Some(mark(order, n)),
        job: job(n),
    };
    let (outcome, outbox) = store
        .ingest_webhook(&ingest("uuid-1", "b", 1))
        .await
        .unwrap();
    assert_eq!(outcome, IngestOutcome::Queued);
    // The job went to the queue in the same transaction, or waits in the outbox.
    assert!(outbox.is_empty() || outbox[0].job == job(1), "{outbox:?}");
    store
        .outbox_delete(&outbox.iter().map(|o| o.id.clone()).collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(
        store
            .ingest_webhook(&ingest("uuid-1", "b", 1))
            .await
            .unwrap()
            .0,
        IngestOutcome::Duplicate,
        "a redelivery is recognised"
    );
    assert_eq!(
        store
            .ingest_webhook(&ingest("uuid-2", "a", 2))
            .await
            .unwrap()
            .0,
        IngestOutcome::Stale,
        "an older event of the same merge request changes nothing"
    );
    assert_eq!(
        store.merge_request_event("r1:1").await.unwrap(),
        Some(serde_json::json!({"n": 1}).to_string())
    );
    assert_eq!(
        store
            .ingest_webhook(&ingest("uuid-2", "a", 2))
            .await
            .unwrap()
            .0,
        IngestOutcome::Duplicate,
        "the stale delivery was recorded too"
    );
    assert_eq!(
        store
            .ingest_webhook(&ingest("uuid-3", "b", 3))
            .await
            .unwrap()
            .0,
        IngestOutcome::Queued,
        "the same order again is not older"
    );
    let (newer, outbox) = store
        .ingest_webhook(&ingest("uuid-4", "c", 4))
        .await
        .unwrap();
    assert_eq!(newer, IngestOutcome::Queued);
    assert_eq!(
        store.merge_request_event("r1:1").await.unwrap(),
        Some(serde_json::json!({"n": 4}).to_string())
    );
    assert_eq!(store.merge_request_event("r1:2").await.unwrap(), None);
    assert_eq!(
        store.merge_request_keys("", 10).await.unwrap(),
        ["r1:1"],
        "merge requests with an event are listed for the resync"
    );
    assert!(
        store
            .merge_request_keys("r1:1", 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Left in the outbox (a lost publish): found again by the relay's query.
    if !outbox.is_empty() {
        let later = Utc::now() + Duration::minutes(1);
        let pending = store.outbox_pending(later, 100).await.unwrap();
        assert!(pending.iter().any(|p| p.job == job(4)), "{pending:?}");
        let ids: Vec<String> = pending.iter().map(|p| p.id.clone()).collect();
        store.outbox_delete(&ids).await.unwrap();
        assert!(store.outbox_pending(later, 100).await.unwrap().is_empty());
    }
}

macro_rules! contract {
    ($name:ident, $check:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn on_sqlite() {
                let (store, _dir) = sqlite().await;
                $check(store).await;
            }

            #[tokio::test]
            async fn on_firestore() {
                $check(firestore().await).await;
            }

            #[tokio::test]
            async fn on_sqlite_behind_the_redis_cache() {
                let (store, _dir) = cached().await;
                $check(store).await;
            }
        }
    };
}

contract!(versions, versions_guard_every_write);

/// SQLite numbers every environment write in its change log (the embedded default's SSE log).
async fn the_change_log_numbers_every_write(store: Arc<dyn Store>) {
    let e = env("logged", "shop", 0);
    let first = store.save_environment(&e, &[], &[]).await.unwrap();
    let second = store
        .save_environment(&first.change.environment, &[], &[])
        .await
        .unwrap();
    assert_eq!(second.change.seq, first.change.seq + 1);
    let changes = store
        .changes_since(first.change.seq - 1, 100)
        .await
        .unwrap();
    assert_eq!(
        changes
            .iter()
            .map(|c| c.environment.version)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(store.latest_change_seq().await.unwrap(), second.change.seq);
    assert!(
        store
            .changes_since(second.change.seq, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn sqlite_numbers_every_write_in_its_change_log() {
    let (store, _dir) = sqlite().await;
    the_change_log_numbers_every_write(store).await;
    let (store, _dir) = cached().await;
    the_change_log_numbers_every_write(store).await;
}

#[tokio::test]
async fn firestore_keeps_no_change_log_and_says_where_it_is() {
    let store = firestore().await;
    let saved = store
        .save_environment(&env("unnumbered", "shop", 0), &[], &[])
        .await
        .unwrap();
    assert_eq!(saved.change.seq, 0, "the change stream numbers it");
    let err = store.latest_change_seq().await.unwrap_err().to_string();
    let err = format!("{err} {:?}", store.changes_since(0, 10).await.unwrap_err());
    assert!(err.contains("--bus redis"), "{err}");
}
contract!(listing, lists_page_and_filter);
contract!(
    catalog,
    the_catalog_keeps_names_unique_and_references_intact
);

#[tokio::test]
async fn a_write_the_cache_missed_costs_one_conflict_not_a_livelock() {
    let (inner, _dir) = sqlite().await;
    let prefix = format!("{}:", emulators::unique("t"));
    let cached = CachedStore::connect(inner.clone(), emulators::redis(), &prefix)
        .await
        .unwrap();
    let e = env("demo", "shop", 0);
    let v1 = cached
        .save_environment(&e, &[], &[])
        .await
        .unwrap()
        .change
        .environment;
    // Another writer reaches the store without the cache seeing it (a commit reported as a
    // failure, a Redis hiccup while refreshing): the cache still says v1.
    let mut behind = v1.clone();
    behind.status = Status::Ready;
    inner.save_environment(&behind, &[], &[]).await.unwrap();
    assert_eq!(
        cached
            .get_environment(&e.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    let mut mine = v1.clone();
    mine.status_message = Some("from the stale read".into());
    assert!(matches!(
        cached.save_environment(&mine, &[], &[]).await,
        Err(StoreError::Conflict(_))
    ));
    let fresh = cached.get_environment(&e.id).await.unwrap().unwrap();
    assert_eq!(
        (fresh.version, fresh.status),
        (2, Status::Ready),
        "after a conflict the next read goes to the store"
    );
    let mut retry = fresh.clone();
    retry.status_message = Some("retried".into());
    assert_eq!(
        cached
            .save_environment(&retry, &[], &[])
            .await
            .unwrap()
            .change
            .environment
            .version,
        3
    );
}

#[tokio::test]
async fn a_write_on_one_replica_is_what_the_others_read_from_the_cache() {
    let (inner, _dir) = sqlite().await;
    let prefix = format!("{}:", emulators::unique("t"));
    let a = CachedStore::connect(inner.clone(), emulators::redis(), &prefix)
        .await
        .unwrap();
    let b = CachedStore::connect(inner.clone(), emulators::redis(), &prefix)
        .await
        .unwrap();
    let e = env("demo", "shop", 0);
    let v1 = a
        .save_environment(&e, &[], &[])
        .await
        .unwrap()
        .change
        .environment;
    assert_eq!(
        b.get_environment(&e.id).await.unwrap().unwrap().version,
        1,
        "b reads (and caches) v1"
    );
    let mut next = v1.clone();
    next.status = Status::Ready;
    a.save_environment(&next, &[], &[]).await.unwrap();
    let seen = b.get_environment(&e.id).await.unwrap().unwrap();
    assert_eq!(
        (seen.version, seen.status),
        (2, Status::Ready),
        "no stale v1 from the cache"
    );
    let mut gone = seen.clone();
    gone.status = Status::Terminated;
    a.save_environment(&gone, &[], &[]).await.unwrap();
    assert_eq!(
        b.get_environment(&e.id).await.unwrap().unwrap().status,
        Status::Terminated,
        "evicted, then read through"
    );
}

/// Retention: a terminated environment leaves the store with its history, and only while it is
/// still terminated at the version its archive was written from.
async fn a_terminated_environment_leaves_only_at_its_version(store: Arc<dyn Store>) {
    let now = Utc.with_ymd_and_hms(2026, 5, 2, 12, 0, 0).unwrap();
    let live = store
        .save_environment(
            &env("gone", "shop", 0),
            &[ev(EventKind::Created, "made")],
            &[],
        )
        .await
        .unwrap()
        .change
        .environment;
    assert!(
        !store
            .remove_environment(&live.id, live.version)
            .await
            .unwrap(),
        "a live environment stays"
    );
    let mut ending = live.clone();
    ending.transition(Status::Deleting, None, now).unwrap();
    ending.transition(Status::Terminated, None, now).unwrap();
    let ended = store
        .save_environment(&ending, &[ev(EventKind::Terminated, "gone")], &[])
        .await
        .unwrap()
        .change
        .environment;
    assert!(
        !store
            .remove_environment(&ended.id, ended.version - 1)
            .await
            .unwrap(),
        "an older version is not the one archived"
    );
    assert!(store.get_environment(&ended.id).await.unwrap().is_some());
    assert!(
        store
            .remove_environment(&ended.id, ended.version)
            .await
            .unwrap()
    );
    assert!(store.get_environment(&ended.id).await.unwrap().is_none());
    assert!(
        store
            .list_events(&ended.id, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .remove_environment(&ended.id, ended.version)
            .await
            .unwrap()
    );
    // The id can be used again; its history starts afresh.
    let again = store
        .save_environment(
            &env("gone", "shop", 5),
            &[ev(EventKind::Created, "again")],
            &[],
        )
        .await
        .unwrap()
        .change
        .environment;
    let history = store.list_events(&again.id, 0, 100).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].message, "again");
}

contract!(removal, a_terminated_environment_leaves_only_at_its_version);

/// The `kept` listing filter.
async fn kept_environments_are_listed_apart(store: Arc<dyn Store>) {
    let now = Utc.with_ymd_and_hms(2026, 5, 2, 12, 0, 0).unwrap();
    let mut pinned = env("pinned", "shop", 0);
    pinned.kept = Some(environment::Kept {
        by: "alice".into(),
        at: now,
        by_label: false,
    });
    store.save_environment(&pinned, &[], &[]).await.unwrap();
    store
        .save_environment(&env("loose", "shop", 1), &[], &[])
        .await
        .unwrap();
    let names = |kept| {
        let store = store.clone();
        async move {
            store
                .list_environments(
                    &EnvironmentFilter {
                        kept,
                        ..Default::default()
                    },
                    &PageRequest {
                        limit: 10,
                        cursor: None,
                    },
                )
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| e.name.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names(Some(true)).await, ["pinned"]);
    assert_eq!(names(Some(false)).await, ["loose"]);
    assert_eq!(names(None).await, ["loose", "pinned"]);
}

contract!(kept, kept_environments_are_listed_apart);

/// The quota's listings: environments holding a slot, and those in line for one.
async fn running_and_waiting_environments_are_listed_apart(store: Arc<dyn Store>) {
    let now = Utc.with_ymd_and_hms(2026, 5, 2, 12, 0, 0).unwrap();
    let mut waiting = env("waiting", "shop", 0);
    waiting.waiting = Some(blueberry::domain::quota::Waiting::new(now));
    store.save_environment(&waiting, &[], &[]).await.unwrap();
    store
        .save_environment(&env("running", "shop", 1), &[], &[])
        .await
        .unwrap();
    let mut gone = env("gone", "shop", 2);
    gone.status = Status::Terminated;
    store.save_environment(&gone, &[], &[]).await.unwrap();
    store
        .save_environment(&env("elsewhere", "other", 3), &[], &[])
        .await
        .unwrap();
    let names = |occupancy, repository_id: Option<&str>| {
        let store = store.clone();
        let repository_id = repository_id.map(str::to_owned);
        async move {
            store
                .list_environments(
                    &EnvironmentFilter {
                        occupancy,
                        repository_id,
                        ..Default::default()
                    },
                    &PageRequest {
                        limit: 10,
                        cursor: None,
                    },
                )
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| e.name.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names(Some(Occupancy::Running), Some("shop")).await,
        ["running"]
    );
    assert_eq!(
        names(Some(Occupancy::Running), None).await,
        ["elsewhere", "running"]
    );
    assert_eq!(names(Some(Occupancy::Waiting), None).await, ["waiting"]);
    assert_eq!(
        names(None, Some("shop")).await,
        ["gone", "running", "waiting"]
    );
}

contract!(occupancy, running_and_waiting_environments_are_listed_apart);

async fn subscriptions_round_trip_with_their_delivery_log(store: Arc<dyn Store>) {
    use blueberry::domain::notification::{
        DeliveryAttempt, Format, Subscription, Topic, new_secret,
    };
    let id = emulators::unique("sub");
    let mut sub = Subscription {
        id: id.clone(),
        repository_id: None,
        url: "https://hooks.example.com/x".into(),
        topics: vec![Topic::Ready, Topic::Failed],
        format: Format::StandardWebhooks,
        secret: new_secret(),
        created_by: "admin".into(),
        created_at: Utc::now(),
        deliveries: vec![],
    };
    store.create_subscription(&sub).await.unwrap();
    assert!(matches!(
        store.create_subscription(&sub).await,
        Err(StoreError::Conflict(_))
    ));
    sub.record(DeliveryAttempt {
        message_id: "msg_1".into(),
        topic: Topic::Ready,
        environment_id: "pr-1-shop".into(),
        at: Utc::now(),
        attempt: 1,
        status: Some(204),
        error: None,
        delivered: true,
        last: true,
    });
    store.update_subscription(&sub).await.unwrap();
    let read = store.get_subscription(&id).await.unwrap().unwrap();
    assert_eq!(read.deliveries.len(), 1);
    assert_eq!(read.secret, sub.secret);
    assert!(
        store
            .list_subscriptions()
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == id)
    );
    store.delete_subscription(&id).await.unwrap();
    assert!(store.get_subscription(&id).await.unwrap().is_none());
    assert!(matches!(
        store.delete_subscription(&id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.update_subscription(&sub).await,
        Err(StoreError::NotFound(_))
    ));
}
contract!(
    subscriptions,
    subscriptions_round_trip_with_their_delivery_log
);

async fn sleeping_environments_are_listed_apart(store: Arc<dyn Store>) {
    let mut dozing = env("dozing", "shop", 0);
    dozing.asleep = Some(environment::Asleep {
        since: Utc::now(),
        by: "idle".into(),
    });
    store.save_environment(&dozing, &[], &[]).await.unwrap();
    store
        .save_environment(&env("awake", "shop", 1), &[], &[])
        .await
        .unwrap();
    for (sleeping, want) in [(Some(true), "dozing"), (Some(false), "awake")] {
        let page = store
            .list_environments(
                &EnvironmentFilter {
                    sleeping,
                    ..Default::default()
                },
                &PageRequest {
                    limit: 10,
                    cursor: None,
                },
            )
            .await
            .unwrap();
        let names: Vec<String> = page.items.iter().map(|e| e.name.to_string()).collect();
        assert_eq!(names, [want]);
    }
}

contract!(sleeping, sleeping_environments_are_listed_apart);
