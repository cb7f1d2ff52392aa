//! Tests of the merge request feedback (kept apart so the code reads in one screen).

use super::*;

const RATES: crate::domain::cost::Rates = crate::domain::cost::Rates {
    vcpu_hour: 0.0445,
    gib_hour: 0.0049225,
};
use crate::domain::*;
use chrono::TimeZone;

fn env(now: DateTime<Utc>) -> Environment {
    crate::domain::environment::tests::environment(
        EnvironmentName::for_merge_request(42),
        "feature/x",
        Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7"),
        TtlHours::default(),
        now,
    )
}

#[test]
fn commit_states_follow_the_lifecycle() {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut e = env(now);
    assert_eq!(commit_state(&e), CommitState::Pending);
    e.observed.health = Some("Progressing".into());
    assert_eq!(commit_state(&e), CommitState::Running);
    e.status = Status::Ready;
    assert_eq!(commit_state(&e), CommitState::Success);
    e.status = Status::Failed;
    assert_eq!(commit_state(&e), CommitState::Failed);
}

#[test]
fn the_sticky_note_shows_urls_expiry_and_the_last_error() {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut e = env(now);
    let note = sticky_note(
        &e,
        "https://pr-42-shop.example.com",
        "https://bb/environments/pr-42-shop",
        now,
        &RATES,
    );
    assert!(note.starts_with(MARKER));
    assert!(note.contains("**pending**") && note.contains("https://pr-42-shop.example.com"));
    assert!(note.contains("https://bb/environments/pr-42-shop"));
    assert!(note.contains("in 3 days"), "{note}");
    e.status = Status::Failed;
    e.status_message = Some("Degraded | boom\nline".into());
    let note = sticky_note(&e, "a", "b", now, &RATES);
    assert!(note.contains("Degraded \\| boom line"));
}

/// The note's whole text in each state people see it in.
#[test]
fn the_sticky_note_in_each_state() {
    let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let note = |e: &Environment| {
        sticky_note(
            e,
            "https://pr-42-shop.example.com",
            "https://bb/environments/pr-42-shop",
            now,
            &RATES,
        )
    };
    let mut e = env(now);
    insta::assert_snapshot!("pending", note(&e));
    e.waiting = Some(crate::domain::quota::Waiting {
        since: now,
        position: 3,
        running: 5,
        cap: 5,
        scope: crate::domain::quota::QuotaScope::Repository,
    });
    insta::assert_snapshot!("queued_with_position", note(&e));
    e.waiting = None;
    e.transition(Status::Ready, None, now).unwrap();
    insta::assert_snapshot!("ready_with_expiry", note(&e));
    e.expires_at = now + chrono::Duration::minutes(50);
    insta::assert_snapshot!("expiring_soon", note(&e));
    e.kept = Some(crate::domain::environment::Kept {
        by: "gitlab:alice".into(),
        at: now,
        by_label: false,
    });
    insta::assert_snapshot!("kept", note(&e));
    e.kept = None;
    let approved = e.sha.clone().unwrap();
    e.fork = Some(crate::domain::environment::ForkApproval {
        by: "gitlab:maria".into(),
        at: now,
        sha: approved,
        unapproved_head: None,
    });
    insta::assert_snapshot!("fork_approved", note(&e));
    e.fork.as_mut().unwrap().unapproved_head =
        Some(CommitSha::parse("b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327").unwrap());
    insta::assert_snapshot!("needs_approval", note(&e));
    e.fork = None;
    e.asleep = Some(crate::domain::environment::Asleep {
        since: now,
        by: "gitlab:alice".into(),
    });
    // Awake 48 h, then asleep 24 h (the hand-computed example in `cost`).
    let mut meter = crate::domain::cost::Meter::start(
        crate::domain::cost::Requests {
            cpu_millis: 750,
            memory_mib: 1024,
        },
        now - chrono::Duration::hours(72),
    );
    meter.close(now - chrono::Duration::hours(24), false);
    e.meter = Some(meter);
    insta::assert_snapshot!("asleep", note(&e));
    e.asleep = None;
    e.meter = None;
    e.transition(
        Status::Failed,
        Some("Degraded: image pull back-off".into()),
        now,
    )
    .unwrap();
    insta::assert_snapshot!("failed_with_reason", note(&e));
    e.transition(Status::Deleting, None, now).unwrap();
    e.transition(Status::Terminated, None, now).unwrap();
    insta::assert_snapshot!("torn_down", note(&e));
}
