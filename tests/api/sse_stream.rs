//! SSE on the Redis change stream (the production bus): ids are the stream's, a client that
//! reconnects with `Last-Event-ID` misses nothing, and one whose id was trimmed away gets
//! `event: resync`.

use std::time::Duration;

use blueberry::config::BusKind;

use crate::{
    emulators,
    helpers::{SseClient, SseEvent, TestApp},
};

async fn environment_events(client: &mut SseClient, count: usize) -> Vec<SseEvent> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let event = client
            .next(Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("only {} of {count} events: {seen:?}", seen.len()));
        assert_eq!(event.event, "environment", "{event:?}");
        seen.push(event);
    }
    seen
}

fn id(e: &SseEvent) -> u64 {
    e.id.as_deref().unwrap().parse().unwrap()
}

#[tokio::test]
async fn sse_on_the_redis_stream_resumes_from_any_kept_id_and_resyncs_past_trimmed_ones() {
    let project = emulators::unique("stream");
    let app = TestApp::spawn_with(|c| {
        c.bus = BusKind::Redis;
        c.redis_url = Some(emulators::redis().to_owned().into());
        c.gcp_project = Some(project.clone());
    })
    .await;
    let repo = app.seed().await;
    let mut watcher = SseClient::connect(&app, "", None).await;
    let created = app.create_environment("streamed", &repo).await;
    let env_id = created["id"].as_str().unwrap().to_owned();
    app.wait_for_status(&env_id, "ready", Duration::from_secs(30))
        .await;
    // pending (created), applied, ready: at least three changes, in the stream's order.
    let mut seen = environment_events(&mut watcher, 3).await;
    while seen.last().unwrap().data["status"] != "ready" {
        seen.extend(environment_events(&mut watcher, 1).await);
    }
    let ids: Vec<u64> = seen.iter().map(id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(
        ids[0] > 1_000_000_000_000_000_000,
        "ids are the stream's (ms * 10^6 + n): {ids:?}"
    );

    // Reconnecting after the first change replays the rest, none missed.
    let first = seen[0].id.clone().unwrap();
    let mut resumed = SseClient::connect(&app, "", Some(&first)).await;
    let replay = environment_events(&mut resumed, seen.len() - 1).await;
    assert_eq!(replay.iter().map(id).collect::<Vec<_>>(), ids[1..]);

    // Trim all but the newest change: a client at the first one missed what is gone.
    let client = redis::Client::open(emulators::redis()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("XTRIM")
        .arg(format!("blueberry:{project}:environment-changes"))
        .arg("MAXLEN")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut behind = SseClient::connect(&app, "", Some(&first)).await;
    let told = behind.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(told.event, "resync", "{told:?}");
    assert!(told.data["reason"].as_str().unwrap().contains("re-read"));
    // It then follows live changes.
    let extended = app
        .post(
            &format!("/api/environments/{env_id}/extend"),
            &serde_json::json!({"hours": 2}),
        )
        .await;
    assert!(extended.status().is_success(), "{}", extended.status());
    let next = environment_events(&mut behind, 1).await;
    assert!(id(&next[0]) > *ids.last().unwrap());
}
