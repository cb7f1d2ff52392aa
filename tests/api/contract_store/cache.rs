//! The Redis cache in front of SQLite's environments: a missed write costs one conflict, and
//! every replica reads what another wrote.

use blueberry::{
    adapters::redis_cache::CachedStore,
    domain::*,
    ports::{EnvironmentStore, StoreError},
};

use super::{env, sqlite};
use crate::emulators;

#[tokio::test]
async fn a_write_the_cache_missed_costs_one_conflict_not_a_livelock() {
    let (stores, _dir) = sqlite().await;
    let inner = stores.environments;
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
    let (stores, _dir) = sqlite().await;
    let inner = stores.environments;
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
