//! Nothing lost, nothing twice: one test per hole found in review (issue 15), each failing on
//! the engine before the fix.
//!
//! Long on purpose: one test per hole found in review, numbered like the issue; each reads alone.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use blueberry::{app::Adapt, domain::feedback::MARKER, sim::FaultMode};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    faults::{FailingQueue, FaultyStore, PanickingGitHost, StoreFaults},
    helpers::wait_until,
    hooks::{DEVELOPER, PROJECT, Project, merge_request_event, note_event, sha},
};

fn expires(env: &Value) -> chrono::DateTime<chrono::Utc> {
    env["expires_at"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn hole_1_a_change_and_its_work_are_one_transaction() {
    let failing = Arc::new(AtomicBool::new(false));
    let flag = failing.clone();
    let adapt = Adapt {
        queue: Some(Box::new(move |inner| {
            Arc::new(FailingQueue {
                inner,
                failing: flag,
            })
        })),
        ..Adapt::default()
    };
    let p = Project::start_adapted(|_| {}, adapt).await;
    failing.store(true, Ordering::SeqCst);
    // The queue's own writes fail, yet neither the create nor the delivery loses its work:
    // each was written in the same transaction as the change it belongs to.
    let repo = p
        .app
        .get("/api/repositories")
        .await
        .json::<Value>()
        .await
        .unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = p
        .app
        .post(
            "/api/environments",
            &json!({"name": "manual", "repository_id": repo}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    p.accept(&merge_request_event("open", 1, &sha(1), 10), "open-1")
        .await;
    p.app
        .wait_for_status("manual-shop", "ready", Duration::from_secs(15))
        .await;
    p.wait_at("pr-1-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
}

#[tokio::test]
async fn hole_2_a_comment_command_takes_effect_once_per_note() {
    let p = Project::start(|_| {}).await;
    p.accept(&merge_request_event("open", 2, &sha(1), 10), "open-2")
        .await;
    let before = p
        .wait_at("pr-2-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    let note = note_event(2, 501, "/blueberry extend 24", DEVELOPER);
    p.accept(&note, "note-501").await;
    p.wait_for_note(2, "now expires at", Duration::from_secs(10))
        .await;
    // The same comment again (GitLab's retry under a new delivery id, or the job delivered twice).
    p.accept(&note, "note-501-again").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = p.app.environment("pr-2-shop").await;
    assert_eq!(
        expires(&after) - expires(&before),
        chrono::Duration::hours(24),
        "extended once"
    );
    let replies = p.gitlab.state().notes_with(PROJECT, 2, "reply:note:501");
    assert_eq!(replies.len(), 1, "answered once: {replies:?}");
}

#[tokio::test]
async fn hole_3_older_merge_request_events_change_nothing() {
    let p = Project::start(|_| {}).await;
    p.accept(&merge_request_event("open", 3, &sha(1), 10), "a")
        .await;
    p.wait_at("pr-3-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    p.accept(&merge_request_event("update", 3, &sha(3), 30), "c")
        .await;
    p.wait_at("pr-3-shop", "ready", &sha(3), Duration::from_secs(15))
        .await;
    // A delayed retry of an older push arrives last.
    let r = p
        .deliver(&merge_request_event("update", 3, &sha(2), 20), "b")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "stale");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let env = p.app.environment("pr-3-shop").await;
    assert_eq!(
        (env["status"].as_str(), env["git"]["sha"].as_str()),
        (Some("ready"), Some(sha(3).as_str()))
    );
    // Closed, then a late redelivery of the open must not bring it back; a reopen must.
    p.accept(&merge_request_event("close", 3, &sha(3), 40), "d")
        .await;
    p.app
        .wait_for_status("pr-3-shop", "terminated", Duration::from_secs(15))
        .await;
    let r = p
        .deliver(&merge_request_event("open", 3, &sha(1), 10), "a-again")
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "stale");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(p.app.environment("pr-3-shop").await["status"], "terminated");
    p.accept(&merge_request_event("reopen", 3, &sha(3), 50), "e")
        .await;
    p.wait_at("pr-3-shop", "ready", &sha(3), Duration::from_secs(15))
        .await;
}

#[tokio::test]
async fn hole_4_a_panicking_job_is_caught_counted_and_retried_and_the_pool_keeps_its_size() {
    let panics = Arc::new(AtomicU32::new(4));
    let left = panics.clone();
    let adapt = Adapt {
        githost: Some(Box::new(move |inner| {
            Arc::new(PanickingGitHost {
                inner,
                panics: left,
            })
        })),
        ..Adapt::default()
    };
    // As many panics as consumers: before the fix, every consumer died.
    let p = Project::start_adapted(|c| c.workers = 4, adapt).await;
    for n in 0..4 {
        p.accept(
            &note_event(4, 700 + n, "/blueberry help", DEVELOPER),
            &format!("help-{n}"),
        )
        .await;
    }
    for n in 0..4 {
        p.wait_for_note(
            4,
            &format!("reply:note:{}", 700 + n),
            Duration::from_secs(20),
        )
        .await;
    }
    assert_eq!(panics.load(Ordering::SeqCst), 0, "every panic happened");
    p.accept(&merge_request_event("open", 4, &sha(1), 10), "open-4")
        .await;
    p.wait_at("pr-4-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    let metrics = p.app.get("/metrics").await.text().await.unwrap();
    let panicked: u64 = metrics
        .lines()
        .find(|l| l.starts_with("blueberry_panics_total"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0);
    assert_eq!(panicked, 4, "{metrics}");
}

#[tokio::test]
async fn hole_5_an_extension_just_before_expiry_wins() {
    let store = Arc::new(StoreFaults::default());
    let adapt = FaultyStore::adapt(&store);
    let p = Project::start_adapted(|_| {}, adapt).await;
    let repo = p
        .app
        .get("/api/repositories")
        .await
        .json::<Value>()
        .await
        .unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    p.app
        .post(
            "/api/environments",
            &json!({"name": "demo", "repository_id": repo, "ttl_hours": 1}),
        )
        .await;
    p.app
        .wait_for_status("demo-shop", "ready", Duration::from_secs(15))
        .await;
    // Someone extends it between the reconciler's read of the expired record and its write.
    let ctx = p.app.ctx.clone();
    store.after_read.lock().unwrap().insert(
        "demo-shop".into(),
        Box::new(move || {
            Box::pin(async move {
                ctx.environments
                    .extend("demo-shop", 24, "alice")
                    .await
                    .unwrap();
            })
        }),
    );
    p.app.clock.advance(chrono::Duration::minutes(90));
    wait_until(Duration::from_secs(10), || {
        store.after_read.lock().unwrap().is_empty()
    })
    .await
    .expect("the reaper looked at the expired environment");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let env = p.app.environment("demo-shop").await;
    assert_eq!(env["status"], "ready", "{}", env["status_message"]);
}

#[tokio::test]
async fn hole_6_the_sticky_note_is_posted_once_and_feedback_given_up_on_is_sent_again() {
    let p = Project::start(|c| {
        c.max_deliveries = 2;
        c.resync_secs = 1;
    })
    .await;
    // The commit status fails after the note was posted: the job is retried without the note's
    // id, and must find its note instead of posting another.
    p.gitlab.state().fail_statuses = 5;
    p.accept(&merge_request_event("open", 6, &sha(1), 10), "open-6")
        .await;
    p.wait_at("pr-6-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    wait_until(Duration::from_secs(20), || {
        p.gitlab
            .state()
            .statuses
            .get(&(PROJECT, sha(1)))
            .is_some_and(|s| s.iter().any(|s| s["state"] == "success"))
    })
    .await
    .expect("the commit status arrives in the end");
    assert_eq!(p.gitlab.state().notes_with(PROJECT, 6, MARKER).len(), 1);

    // GitLab is down long enough for the notification to be given up on (dead-lettered)…
    p.gitlab.state().error_rate = 1.0;
    p.app
        .post("/api/environments/pr-6-shop/extend", &json!({"hours": 5}))
        .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    p.gitlab.state().error_rate = 0.0;
    // …and once it is back, the resync sends it again: the note shows the new expiry.
    let expiry = p.app.environment("pr-6-shop").await["expires_at"]
        .as_str()
        .unwrap()[..16]
        .replace('T', " ");
    p.app.clock.advance(chrono::Duration::minutes(11));
    wait_until(Duration::from_secs(30), || {
        p.gitlab
            .state()
            .notes_with(PROJECT, 6, MARKER)
            .first()
            .is_some_and(|n| n.body.contains(&expiry))
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "the sticky note never showed {expiry}: {:?}",
            p.gitlab.state().notes_with(PROJECT, 6, MARKER)
        )
    });
    assert_eq!(p.gitlab.state().notes_with(PROJECT, 6, MARKER).len(), 1);
}

#[tokio::test]
async fn hole_7_waiting_for_a_teardown_is_not_a_failed_delivery() {
    let p = Project::start(|c| c.max_deliveries = 2).await;
    p.accept(&merge_request_event("open", 7, &sha(1), 10), "open-7")
        .await;
    p.wait_at("pr-7-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    p.app
        .sim
        .set_fault("env-pr-7-shop", Some(FaultMode::FinalizerStuck));
    p.accept(&merge_request_event("close", 7, &sha(1), 20), "close-7")
        .await;
    p.app
        .wait_for_status("pr-7-shop", "deleting", Duration::from_secs(10))
        .await;
    p.accept(&merge_request_event("reopen", 7, &sha(1), 30), "reopen-7")
        .await;
    // Longer than two redeliveries two seconds apart: counted as failures, it would be dead.
    tokio::time::sleep(Duration::from_secs(6)).await;
    p.app.sim.set_fault("env-pr-7-shop", None);
    p.wait_at("pr-7-shop", "ready", &sha(1), Duration::from_secs(20))
        .await;
}

#[tokio::test]
async fn hole_8_a_lost_race_is_retried_not_dropped() {
    let store = Arc::new(StoreFaults::default());
    let adapt = FaultyStore::adapt(&store);
    let p = Project::start_adapted(|_| {}, adapt).await;
    p.accept(&merge_request_event("open", 8, &sha(1), 10), "open-8")
        .await;
    p.wait_at("pr-8-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    // More lost races than one job's read-modify-write retries: the push must still land.
    store
        .conflicts
        .lock()
        .unwrap()
        .insert("pr-8-shop".into(), 20);
    p.accept(&merge_request_event("update", 8, &sha(2), 20), "push-8")
        .await;
    p.wait_at("pr-8-shop", "ready", &sha(2), Duration::from_secs(30))
        .await;
    assert_eq!(store.refused.load(Ordering::SeqCst), 20);
}

#[tokio::test]
async fn hole_9_a_cluster_outage_uses_no_provisioning_attempts() {
    let p = Project::start(|c| {
        c.max_attempts = 2;
        c.retry_base_delay_ms = 100;
    })
    .await;
    p.app.sim.update_settings(|s| s.error_rate = 1.0);
    p.accept(&merge_request_event("open", 9, &sha(1), 10), "open-9")
        .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(p.app.environment("pr-9-shop").await["status"], "pending");
    p.app.sim.update_settings(|s| s.error_rate = 0.0);
    let env = p
        .wait_at("pr-9-shop", "ready", &sha(1), Duration::from_secs(30))
        .await;
    assert_eq!(env["attempt"], 1, "503s are not Argo CD's verdicts");
}

/// Found by the storm in CI: a reopen (or a push after `/blueberry destroy`) brings the
/// terminated record back with one write; a GitLab feedback write in between made that write
/// lose its version race, and the job took the lost race for "refused" and dropped the event.
#[tokio::test]
async fn hole_10_bringing_a_terminated_environment_back_survives_a_lost_race() {
    let store = Arc::new(StoreFaults::default());
    let adapt = FaultyStore::adapt(&store);
    let p = Project::start_adapted(|_| {}, adapt).await;
    p.accept(&merge_request_event("open", 10, &sha(1), 10), "open-10")
        .await;
    p.wait_at("pr-10-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    p.accept(&merge_request_event("close", 10, &sha(1), 20), "close-10")
        .await;
    p.app
        .wait_for_status("pr-10-shop", "terminated", Duration::from_secs(15))
        .await;
    // Every write of the record loses its race a few times: the bring-back included.
    store
        .conflicts
        .lock()
        .unwrap()
        .insert("pr-10-shop".into(), 12);
    p.accept(&merge_request_event("reopen", 10, &sha(2), 30), "reopen-10")
        .await;
    p.wait_at("pr-10-shop", "ready", &sha(2), Duration::from_secs(30))
        .await;
    assert_eq!(store.refused.load(Ordering::SeqCst), 12);
}
