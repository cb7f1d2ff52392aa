//! Expiry people see coming: the merge request is told 24 h and 1 h before its environment
//! expires (once each, with the test clock), and new commits move the expiry out.

use std::time::Duration;

use crate::hooks::{Project, merge_request_event, sha};

fn comments_with(p: &Project, iid: u64, text: &str) -> usize {
    p.gitlab
        .state()
        .notes
        .get(&(crate::hooks::PROJECT, iid))
        .map_or(0, |notes| {
            notes.iter().filter(|n| n.body.contains(text)).count()
        })
}

#[tokio::test]
async fn the_merge_request_is_warned_a_day_and_an_hour_before_expiry_once_each() {
    let p = Project::start(|c| c.resync_secs = 1).await;
    p.accept(&merge_request_event("open", 12, &sha(1), 10), "mr-12-open")
        .await;
    p.wait_at("pr-12-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    let ttl = p.app.environment("pr-12-shop").await["ttl_hours"]
        .as_i64()
        .unwrap();

    // A day before: one comment mentioning the author, and the note refreshed.
    p.app
        .clock
        .advance(chrono::Duration::hours(ttl - 24) + chrono::Duration::minutes(1));
    let day = "expires in about 24 h";
    p.wait_for_note(12, day, Duration::from_secs(15)).await;
    let comment = p.wait_for_note(12, day, Duration::from_secs(1)).await;
    assert!(
        comment.contains("\n@root the environment"),
        "mentions the author: {comment}"
    );
    assert!(comment.contains("/blueberry extend"), "{comment}");
    p.wait_for_note(12, "(in 23 h 5", Duration::from_secs(15))
        .await;
    // Resyncs every second look again; nobody is told twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(comments_with(&p, 12, day), 1);

    // An hour before.
    p.app.clock.advance(chrono::Duration::hours(23));
    p.wait_for_note(12, "expires in about 1 h", Duration::from_secs(15))
        .await;
    let events = p.app.events("pr-12-shop").await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["kind"] == "expiry_warned")
            .count(),
        2,
        "{events:?}"
    );

    // New commits are activity: the expiry moves a whole lifetime out, and warnings start over.
    p.accept(
        &merge_request_event("update", 12, &sha(2), 20),
        "mr-12-push",
    )
    .await;
    p.wait_at("pr-12-shop", "ready", &sha(2), Duration::from_secs(15))
        .await;
    let env = p.app.environment("pr-12-shop").await;
    let expires: chrono::DateTime<chrono::Utc> =
        env["expires_at"].as_str().unwrap().parse().unwrap();
    let now = chrono::Utc::now() + chrono::Duration::hours(ttl - 1) + chrono::Duration::minutes(1);
    assert!(
        expires > now + chrono::Duration::hours(ttl - 1),
        "{expires} is not a lifetime after {now}"
    );
}
