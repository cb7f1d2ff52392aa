//! The Bus contract, run against the in-process bus and the Redis stream (which is also the
//! change log: it numbers changes and replays them).

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
    // The version marks which change this is: a bus that keeps the log renumbers `seq`.
    let mut environment = environment;
    environment.version = seq;
    EnvironmentChange { seq, environment }
}

async fn next_change(stream: &mut futures::stream::BoxStream<'static, BusMessage>) -> u64 {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a message")
            .expect("open")
        {
            BusMessage::Change(c) => return c.environment.version,
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
    // Drop the bus's stream reader, as a Redis restart would (only it: other tests share Redis).
    let client = redis::Client::open(emulators::redis()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .unwrap();
    let name = format!("name=blueberry-changes-{channel} ");
    let readers: Vec<&str> = clients
        .lines()
        .filter(|l| l.contains(&name))
        .filter_map(|l| l.split(' ').next()?.strip_prefix("id="))
        .collect();
    assert!(!readers.is_empty(), "the reader names itself:\n{clients}");
    for id in readers {
        let _: redis::Value = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
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
                assert_eq!(c.environment.version, 7);
                break;
            }
            _ => assert!(
                tokio::time::Instant::now() < deadline,
                "no change after reconnecting"
            ),
        }
    }
}

/// The stream is the change log: ids increase, `since` replays after any id it keeps, and says
/// `Trimmed` once what a reader missed is gone.
#[tokio::test]
async fn the_redis_stream_numbers_changes_and_replays_them() {
    use blueberry::ports::Since;

    let key = emulators::unique("log");
    let bus = RedisBus::connect(emulators::redis(), &key).await.unwrap();
    assert!(bus.keeps_log());
    assert_eq!(bus.latest().await.unwrap(), 0);
    assert_eq!(bus.since(0, 10).await.unwrap(), Since::Changes(vec![]));
    let mut live = bus.subscribe();
    for v in 1..=5 {
        bus.publish(&change(v)).await.unwrap();
    }
    let mut ids = Vec::new();
    while ids.len() < 5 {
        if let BusMessage::Change(c) = tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .unwrap()
            .unwrap()
        {
            ids.push((c.seq, c.environment.version));
        }
    }
    assert!(
        ids.windows(2).all(|w| w[0].0 < w[1].0),
        "ids increase: {ids:?}"
    );
    assert_eq!(bus.latest().await.unwrap(), ids[4].0);
    let Since::Changes(after_second) = bus.since(ids[1].0, 10).await.unwrap() else {
        panic!("nothing was trimmed");
    };
    assert_eq!(
        after_second
            .iter()
            .map(|c| (c.seq, c.environment.version))
            .collect::<Vec<_>>(),
        ids[2..]
    );
    let Since::Changes(page) = bus.since(0, 2).await.unwrap() else {
        panic!("nothing was trimmed");
    };
    assert_eq!(page.len(), 2, "at most the limit");

    // Trim the first three away, as MAXLEN does under load.
    let client = redis::Client::open(emulators::redis()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("XTRIM")
        .arg(&key)
        .arg("MAXLEN")
        .arg(2)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(bus.since(ids[0].0, 10).await.unwrap(), Since::Trimmed);
    let Since::Changes(kept) = bus.since(ids[3].0, 10).await.unwrap() else {
        panic!("nothing after the first kept entry was trimmed");
    };
    assert_eq!(kept.iter().map(|c| c.seq).collect::<Vec<_>>(), [ids[4].0]);
}
