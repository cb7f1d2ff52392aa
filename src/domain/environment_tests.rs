//! Tests of the environment record's rules (kept apart so the rules read in one screen).

use super::*;
use crate::domain::names::RepositoryName;
use chrono::TimeZone;

pub(crate) fn sample(now: DateTime<Utc>) -> Environment {
    environment(
        EnvironmentName::for_merge_request(7),
        "feature/x",
        None,
        TtlHours::new(2).unwrap(),
        now,
    )
}

/// An environment of repository `shop` (id `r1`), created at `now`: the other domain tests'
/// fixture too.
pub(crate) fn environment(
    name: EnvironmentName,
    branch: &str,
    sha: Option<&str>,
    ttl_hours: TtlHours,
    now: DateTime<Utc>,
) -> Environment {
    let id = EnvironmentId::derive(&name, &RepositoryName::parse("shop").unwrap());
    Environment::create(
        id,
        NewEnvironment {
            name,
            repository_id: "r1".into(),
            config_set_id: None,
            branch: BranchName::parse(branch).unwrap(),
            sha: sha.map(|s| CommitSha::parse(s).unwrap()),
            merge_request: None,
            ttl_hours,
            helm_values_override: None,
        },
        now,
    )
}

#[test]
fn a_new_environment_is_pending_and_expires_after_its_ttl() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let env = sample(now);
    assert_eq!(env.status, Status::Pending);
    assert_eq!(env.attempt, 1);
    assert_eq!(env.expires_at, now + chrono::Duration::hours(2));
    assert_eq!(env.target_revision(), "feature/x");
    assert!(!env.is_expired(now));
    assert!(env.is_expired(now + chrono::Duration::hours(2)));
}

#[test]
fn a_kept_environment_never_expires_until_let_go() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let mut env = sample(now);
    let later = now + chrono::Duration::days(30);
    assert!(env.is_expired(later));
    env.kept = Some(Kept {
        by: "alice".into(),
        at: now,
        by_label: false,
    });
    assert!(!env.is_expired(later));
    env.kept = None;
    assert!(env.is_expired(later));
}

#[test]
fn expiry_warnings_fall_due_once_per_threshold_and_expiry() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let mut env = sample(now);
    env.ttl_hours = TtlHours::new(72).unwrap();
    env.expires_at = now + chrono::Duration::hours(72);
    let thresholds = [24, 1];
    assert_eq!(
        env.expiry_warning_due(&thresholds, now),
        None,
        "not a merge request"
    );
    env.merge_request = Some(crate::domain::MergeRequest {
        iid: 7,
        title: "t".into(),
        url: "u".into(),
        author: "alice".into(),
    });
    assert_eq!(env.expiry_warning_due(&thresholds, now), None);
    assert_eq!(
        env.next_expiry_warning(&thresholds, now),
        Some(now + chrono::Duration::hours(48))
    );
    let t24 = now + chrono::Duration::hours(48);
    assert_eq!(env.expiry_warning_due(&thresholds, t24), Some(24));
    env.expiry_warning = Some(ExpiryWarning {
        expires_at: env.expires_at,
        hours: 24,
    });
    assert_eq!(env.expiry_warning_due(&thresholds, t24), None, "once");
    let t1 = now + chrono::Duration::hours(71);
    assert_eq!(env.expiry_warning_due(&thresholds, t1), Some(1));
    // Both reached at once (a short TTL): only the nearer one.
    env.expiry_warning = None;
    assert_eq!(env.expiry_warning_due(&thresholds, t1), Some(1));
    // A moved expiry warns again.
    env.expiry_warning = Some(ExpiryWarning {
        expires_at: env.expires_at,
        hours: 1,
    });
    env.expires_at += chrono::Duration::hours(24);
    assert_eq!(
        env.expiry_warning_due(&thresholds, t1 + chrono::Duration::hours(24)),
        Some(1)
    );
    env.kept = Some(Kept {
        by: "b".into(),
        at: now,
        by_label: false,
    });
    assert_eq!(
        env.expiry_warning_due(&thresholds, t1 + chrono::Duration::hours(24)),
        None
    );
}

#[test]
fn transitions_record_times_and_refuse_illegal_moves() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let mut env = sample(now);
    env.transition(Status::Ready, None, now).unwrap();
    assert_eq!(env.ready_at, Some(now));
    env.transition(Status::Deleting, None, now).unwrap();
    assert!(!env.is_expired(now + chrono::Duration::days(9)));
    assert!(env.transition(Status::Ready, None, now).is_err());
    env.transition(Status::Terminated, None, now).unwrap();
    assert_eq!(env.terminated_at, Some(now));
}

#[test]
fn a_new_deployment_resets_the_attempt() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let mut env = sample(now);
    env.attempt = 4;
    env.transition(Status::Failed, Some("boom".into()), now)
        .unwrap();
    env.start_deployment("retry".into(), now).unwrap();
    assert_eq!(
        (env.status, env.attempt, env.generation),
        (Status::Pending, 1, 2)
    );
    env.transition(Status::Deleting, None, now).unwrap();
    assert!(env.start_deployment("x".into(), now).is_err());
}

#[test]
fn recreating_keeps_identity_and_version() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let mut env = sample(now);
    env.version = 9;
    let new = NewEnvironment {
        name: env.name.clone(),
        repository_id: "r1".into(),
        config_set_id: None,
        branch: BranchName::parse("main").unwrap(),
        sha: Some(CommitSha::parse("abcdef12").unwrap()),
        merge_request: None,
        ttl_hours: TtlHours::default(),
        helm_values_override: None,
    };
    assert!(
        env.recreate(new.clone(), now).is_err(),
        "live environments are not recreated"
    );
    env.status = Status::Terminated;
    env.recreate(new, now).unwrap();
    assert_eq!(
        (env.status, env.version, env.generation),
        (Status::Pending, 9, 2)
    );
    assert_eq!(env.target_revision(), "abcdef12");
}
