//! EnvironmentStore: versions guard every write, the change log, removal at a version.

use blueberry::{domain::*, ports::StoreError};
use chrono::{TimeZone, Utc};

use super::{Stores, cached, contract, env, ev, firestore, sqlite};

async fn versions_guard_every_write(stores: Stores) {
    let e = env("demo", "shop", 0);
    let first = stores
        .environments
        .save_environment(&e, &[ev(EventKind::Created, "created")], &[])
        .await
        .unwrap();
    assert_eq!(first.change.environment.version, 1);
    assert!(
        matches!(
            stores.environments.save_environment(&e, &[], &[]).await,
            Err(StoreError::Conflict(_))
        ),
        "creating twice conflicts"
    );
    let mut next = first.change.environment.clone();
    next.status_message = Some("second".into());
    let second = stores
        .environments
        .save_environment(&next, &[ev(EventKind::Applied, "applied")], &[])
        .await
        .unwrap();
    assert_eq!(second.change.environment.version, 2);
    // A writer holding version 1 lost the race.
    let stale = stores.environments.save_environment(&next, &[], &[]).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let stored = stores
        .environments
        .get_environment(&e.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.version, stored.status_message.as_deref()),
        (2, Some("second"))
    );
    let mut ghost = env("ghost", "shop", 0);
    ghost.version = 3;
    assert!(matches!(
        stores.environments.save_environment(&ghost, &[], &[]).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        stores
            .environments
            .get_environment(&ghost.id)
            .await
            .unwrap()
            .is_none()
    );

    stores
        .environments
        .append_events(&e.id, &[ev(EventKind::Notification, "note")])
        .await
        .unwrap();
    let events = stores
        .environments
        .list_events(&e.id, 0, 100)
        .await
        .unwrap();
    let kinds: Vec<_> = events.iter().map(|x| (x.seq, x.kind)).collect();
    assert_eq!(
        kinds,
        [
            (1, EventKind::Created),
            (2, EventKind::Applied),
            (3, EventKind::Notification)
        ]
    );
    assert_eq!(
        stores
            .environments
            .list_events(&e.id, 2, 100)
            .await
            .unwrap()
            .len(),
        1
    );
}

contract!(versions, versions_guard_every_write);

/// SQLite numbers every environment write in its change log (the embedded default's SSE log).
async fn the_change_log_numbers_every_write(stores: Stores) {
    let e = env("logged", "shop", 0);
    let first = stores
        .environments
        .save_environment(&e, &[], &[])
        .await
        .unwrap();
    let second = stores
        .environments
        .save_environment(&first.change.environment, &[], &[])
        .await
        .unwrap();
    assert_eq!(second.change.seq, first.change.seq + 1);
    let changes = stores
        .environments
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
    assert_eq!(
        stores.environments.latest_change_seq().await.unwrap(),
        second.change.seq
    );
    assert!(
        stores
            .environments
            .changes_since(second.change.seq, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn sqlite_numbers_every_write_in_its_change_log() {
    let (stores, _dir) = sqlite().await;
    the_change_log_numbers_every_write(stores).await;
    let (stores, _dir) = cached().await;
    the_change_log_numbers_every_write(stores).await;
}

#[tokio::test]
async fn firestore_keeps_no_change_log_and_says_where_it_is() {
    let stores = firestore().await;
    let saved = stores
        .environments
        .save_environment(&env("unnumbered", "shop", 0), &[], &[])
        .await
        .unwrap();
    assert_eq!(saved.change.seq, 0, "the change stream numbers it");
    let err = stores
        .environments
        .latest_change_seq()
        .await
        .unwrap_err()
        .to_string();
    let err = format!(
        "{err} {:?}",
        stores.environments.changes_since(0, 10).await.unwrap_err()
    );
    assert!(err.contains("--bus redis"), "{err}");
}

/// Retention: a terminated environment leaves the store with its history, and only while it is
/// still terminated at the version its archive was written from.
async fn a_terminated_environment_leaves_only_at_its_version(stores: Stores) {
    let now = Utc.with_ymd_and_hms(2026, 5, 2, 12, 0, 0).unwrap();
    let live = stores
        .environments
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
        !stores
            .environments
            .remove_environment(&live.id, live.version)
            .await
            .unwrap(),
        "a live environment stays"
    );
    let mut ending = live.clone();
    ending.transition(Status::Deleting, None, now).unwrap();
    ending.transition(Status::Terminated, None, now).unwrap();
    let ended = stores
        .environments
        .save_environment(&ending, &[ev(EventKind::Terminated, "gone")], &[])
        .await
        .unwrap()
        .change
        .environment;
    assert!(
        !stores
            .environments
            .remove_environment(&ended.id, ended.version - 1)
            .await
            .unwrap(),
        "an older version is not the one archived"
    );
    assert!(
        stores
            .environments
            .get_environment(&ended.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        stores
            .environments
            .remove_environment(&ended.id, ended.version)
            .await
            .unwrap()
    );
    assert!(
        stores
            .environments
            .get_environment(&ended.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        stores
            .environments
            .list_events(&ended.id, 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !stores
            .environments
            .remove_environment(&ended.id, ended.version)
            .await
            .unwrap()
    );
    // The id can be used again; its history starts afresh.
    let again = stores
        .environments
        .save_environment(
            &env("gone", "shop", 5),
            &[ev(EventKind::Created, "again")],
            &[],
        )
        .await
        .unwrap()
        .change
        .environment;
    let history = stores
        .environments
        .list_events(&again.id, 0, 100)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].message, "again");
}

contract!(removal, a_terminated_environment_leaves_only_at_its_version);
