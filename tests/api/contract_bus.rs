//! The Bus contract, run against the in-process bus and Redis pub/sub.

use std::{sync::Arc, time::Duration};

use blueberry::{
    adapters::{local_bus::LocalBus, redis_bus::RedisBus},
    domain::*,
    ports::{Bus, BusMessage, EnvironmentChange},
};
use futures::StreamExt;

use crate::emulators;

fn change(seq: u64) -> EnvironmentChange {
    let name = EnvironmentName::parse("demo").unwrap();
    let environment = Environment::create(
        EnvironmentId::derive(&name, &RepositoryName::parse("shop").unwrap()),
        NewEnvironment {
            name,
            repository_id: "r".into(),
            config_set_id: None,
            branch: BranchName::parse("main").unwrap(),
            sha: None,
            merge_request: None,
            ttl_hours: TtlHours::default(),
            helm_values_override: None,
        },
        chrono::Utc::now(),
    );
    EnvironmentChange { seq, environment }
}

async fn next_change(stream: &mut futures::stream::BoxStream<'static, BusMessage>) -> u64 {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a message")
            .expect("open")
        {
            BusMessage::Change(c) => return c.seq,
            BusMessage::Lagged => continue,
        }
    }
}

/// `publisher` and `subscriber` may be two replicas' buses.
async fn every_subscriber_sees_every_change_in_order(
    publisher: Arc<dyn Bus>,
    subscriber: Arc<dyn Bus>,
) {
    let mut one = subscriber.subscribe();
    let mut two = subscriber.subscribe();
    for seq in 1..=20 {
        publisher.publish(&change(seq)).await.unwrap();
    }
    for stream in [&mut one, &mut two] {
        let mut got = Vec::new();
        for _ in 1..=20 {
            got.push(next_change(stream).await);
        }
        assert_eq!(got, (1..=20).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn on_the_local_bus() {
    let bus: Arc<dyn Bus> = Arc::new(LocalBus::default());
    every_subscriber_sees_every_change_in_order(bus.clone(), bus).await;
}

/// One test, so killing Redis connections cannot disturb the two-replica check.
#[tokio::test]
async fn on_redis_across_two_replicas_and_through_a_reconnect() {
    let channel = emulators::unique("bus");
    let a: Arc<dyn Bus> = Arc::new(
        RedisBus::connect(emulators::redis(), &channel)
            .await
            .unwrap(),
    );
    let b: Arc<dyn Bus> = Arc::new(
        RedisBus::connect(emulators::redis(), &channel)
            .await
            .unwrap(),
    );
    every_subscriber_sees_every_change_in_order(a, b).await;

    let bus = RedisBus::connect(emulators::redis(), &channel)
        .await
        .unwrap();
    let mut stream = bus.subscribe();
    // Drop every pub/sub connection, as a Redis restart would.
    let client = redis::Client::open(emulators::redis()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .unwrap();
    let lagged = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        lagged,
        BusMessage::Lagged,
        "subscribers are told to resync from the change log"
    );
    // Once resubscribed, changes flow again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        bus.publish(&change(7)).await.unwrap();
        match tokio::time::timeout(Duration::from_millis(300), stream.next()).await {
            Ok(Some(BusMessage::Change(c))) => {
                assert_eq!(c.seq, 7);
                break;
            }
            _ => assert!(
                tokio::time::Instant::now() < deadline,
                "no change after reconnecting"
            ),
        }
    }
}
