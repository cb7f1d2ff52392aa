//! The Leases contract, against every adapter: in memory and Firestore (emulator).

use std::{sync::Arc, time::Duration};

use blueberry::{
    adapters::{firestore::FirestoreStore, local_leases::LocalLeases},
    ports::Leases,
};

use crate::emulators;

async fn firestore() -> Arc<dyn Leases> {
    let store = FirestoreStore::connect(
        &emulators::unique("leases"),
        "(default)",
        Some(emulators::firestore()),
    )
    .await
    .unwrap();
    Arc::new(store.leases())
}

async fn contract(leases: Arc<dyn Leases>) {
    let ttl = Duration::from_secs(30);
    assert!(leases.acquire("env-a", "one", ttl).await.unwrap());
    assert!(
        !leases.acquire("env-a", "two", ttl).await.unwrap(),
        "a held lease is refused to another holder"
    );
    assert!(
        leases.acquire("env-a", "one", ttl).await.unwrap(),
        "its holder renews it"
    );
    assert!(
        leases.acquire("env-b", "two", ttl).await.unwrap(),
        "leases of other keys are independent"
    );
    leases.release("env-a", "two").await.unwrap();
    assert!(
        !leases.acquire("env-a", "two", ttl).await.unwrap(),
        "only the holder gives a lease back"
    );
    leases.release("env-a", "one").await.unwrap();
    assert!(leases.acquire("env-a", "two", ttl).await.unwrap());

    // A lease nobody gives back (its worker died) runs out.
    assert!(
        leases
            .acquire("env-c", "dead", Duration::from_millis(300))
            .await
            .unwrap()
    );
    assert!(!leases.acquire("env-c", "alive", ttl).await.unwrap());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(leases.acquire("env-c", "alive", ttl).await.unwrap());

    // Many contenders at once: exactly one wins.
    let winners = futures::future::join_all((0..8).map(|n| {
        let leases = leases.clone();
        async move {
            leases
                .acquire("env-d", &format!("w{n}"), ttl)
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(winners.iter().filter(|w| **w).count(), 1, "{winners:?}");
}

#[tokio::test]
async fn in_memory_leases_keep_the_contract() {
    contract(Arc::new(LocalLeases::default())).await;
}

#[tokio::test]
async fn firestore_leases_keep_the_contract() {
    contract(firestore().await).await;
}
