//! The Shared contract, against every adapter (SQLite and Firestore on its emulator): a
//! document is written only at the version it was read at, so racing writers lose no update.
//! And what it is for: the deletion brake of one replica is the brake of all.

use std::sync::Arc;

use blueberry::{
    adapters::{
        firestore::FirestoreStore,
        sqlite::{Db, SqliteShared},
    },
    ports::Shared,
    service::deletions::{DeletionGuard, Permit},
};
use chrono::Utc;
use serde_json::json;

use crate::emulators;

async fn contract(shared: Arc<dyn Shared>) {
    assert_eq!(shared.read("counter").await.unwrap(), (None, 0));
    assert!(shared.write("counter", &json!({"n": 0}), 0).await.unwrap());
    // The first write is version 1; writing at a stale version changes nothing.
    assert!(!shared.write("counter", &json!({"n": 99}), 0).await.unwrap());
    assert_eq!(
        shared.read("counter").await.unwrap(),
        (Some(json!({"n": 0})), 1)
    );
    // Twelve racing increments, each retried when it loses: none is lost.
    let increments = (0..12).map(|_| {
        let shared = shared.clone();
        async move {
            loop {
                let (doc, version) = shared.read("counter").await.unwrap();
                let n = doc.unwrap()["n"].as_u64().unwrap();
                if shared
                    .write("counter", &json!({ "n": n + 1 }), version)
                    .await
                    .unwrap()
                {
                    break;
                }
            }
        }
    });
    futures::future::join_all(increments).await;
    assert_eq!(
        shared.read("counter").await.unwrap(),
        (Some(json!({"n": 12})), 13)
    );
    // Documents are apart.
    assert_eq!(shared.read("other").await.unwrap(), (None, 0));

    // Two replicas' guards over one shared brake: the worker's pause is what the API shows, and
    // the API's confirmation is what lets the worker go.
    let worker = DeletionGuard::new(1, shared.clone());
    let api = DeletionGuard::new(1, shared.clone());
    let now = Utc::now();
    assert_eq!(worker.permit("a", now).await.unwrap(), Permit::Go);
    assert_eq!(api.permit("b", now).await.unwrap(), Permit::PausedNow);
    assert_eq!(worker.permit("c", now).await.unwrap(), Permit::Held);
    let status = api.status(now).await.unwrap();
    assert_eq!(status.held, ["b", "c"]);
    assert_eq!(status.in_last_minute, 1);
    assert_eq!(api.confirm().await.unwrap(), ["b", "c"]);
    assert_eq!(worker.permit("c", now).await.unwrap(), Permit::Go);
    assert!(worker.status(now).await.unwrap().paused_since.is_none());
}

#[tokio::test]
async fn sqlite_shared_state_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("db.sqlite3")).unwrap();
    contract(Arc::new(SqliteShared::new(db))).await;
}

#[tokio::test]
async fn firestore_shared_state_keeps_the_contract() {
    let store = FirestoreStore::connect(
        &emulators::unique("shared"),
        "(default)",
        Some(emulators::firestore()),
    )
    .await
    .unwrap();
    contract(Arc::new(store.shared())).await;
}
