//! Tests of the lifecycle decision (`decide`), one per rule.
//! The time-driven steps (expiry warnings, sleep) are in `lifecycle_time_tests.rs`, which shares
//! the fixtures here.

use chrono::TimeZone;

use super::*;
use crate::domain::{
    EnvironmentName, TtlHours,
    argo::{ObservedOperation, ObservedResource},
};

const SHA: &str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap()
}

pub(super) fn secs(n: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(n)
}

pub(super) fn env() -> Environment {
    crate::domain::environment::tests::environment(
        EnvironmentName::parse("demo").unwrap(),
        "main",
        Some(SHA),
        TtlHours::new(2).unwrap(),
        t0(),
    )
}

/// What `decide` says for `e` at `secs(at)`, GitLab reachable, with the test policy.
pub(super) fn step(e: &Environment, observed: Observation<'_>, at: i64) -> Step {
    decide(e, observed, secs(at), true, &policy())
}

/// `env` after its current attempt was applied at `applied_s` with a 60 s deadline.
pub(super) fn applied(mut env: Environment, applied_s: i64) -> Environment {
    env.rollout.applied = Some(env.deployment_id());
    env.rollout.applied_at = Some(secs(applied_s));
    env.rollout.deadline = Some(secs(applied_s + 60));
    env
}

pub(super) fn app(deployment: &str, phase: &str, health: &str) -> ObservedApplication {
    ObservedApplication {
        name: "env-demo-shop".into(),
        deployment: Some(deployment.into()),
        requested: (phase == "Running").then(|| deployment.into()),
        health: health.into(),
        sync: if phase == "Succeeded" {
            "Synced"
        } else {
            "OutOfSync"
        }
        .into(),
        sync_revision: Some(SHA.into()),
        reconciled_at: Some(secs(20)),
        operation: Some(ObservedOperation {
            deployment: Some(deployment.into()),
            phase: phase.into(),
            finished_at: (phase != "Running").then(|| secs(10)),
            revision: Some(SHA.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(super) fn policy() -> Policy {
    Policy::default()
}

#[test]
fn a_new_environment_is_applied_then_waits_for_argo_cd_until_its_deadline() {
    let e = env();
    assert_eq!(step(&e, Observation::Absent, 0), Step::Apply);
    let e = applied(e, 0);
    let running = app("1.1", "Running", "Progressing");
    assert!(matches!(
        step(&e, Observation::Present(&running), 5),
        Step::Observe { health, .. } if health == "Progressing"
    ));
    let mut seen = e.clone();
    seen.observed.health = Some("Progressing".into());
    seen.observed.sync = Some("OutOfSync".into());
    seen.observed.message = Some(running.progress());
    assert_eq!(
        step(&seen, Observation::Present(&running), 5),
        Step::Wait(Duration::from_secs(55)),
        "nothing new: look again at the deadline (the watch triggers sooner)"
    );
    assert!(matches!(
        step(&seen, Observation::Present(&running), 60),
        Step::AttemptFailed { reason } if reason.contains("within 60 s")
    ));
}

#[test]
fn a_deadline_is_no_verdict_while_the_watch_reconnects() {
    let e = applied(env(), 0);
    let running = app("1.1", "Running", "Progressing");
    assert_eq!(
        decide(
            &e,
            Observation::Present(&running),
            secs(61),
            false,
            &policy()
        ),
        Step::Wait(SHORT)
    );
}

#[test]
fn ready_and_failed_come_only_from_argo_cds_verdict_on_this_attempt() {
    let e = applied(env(), 0);
    assert_eq!(
        decide(
            &e,
            Observation::Present(&app("1.1", "Succeeded", "Healthy")),
            secs(30),
            true,
            &policy()
        ),
        Step::MarkReady {
            revision: SHA.into()
        }
    );
    assert!(matches!(
        decide(
            &e,
            Observation::Present(&app("1.1", "Failed", "Missing")),
            secs(30),
            true,
            &policy()
        ),
        Step::AttemptFailed { .. }
    ));
    // The previous attempt's verdicts are stale for attempt 2.
    let mut second = env();
    second.attempt = 2;
    let second = applied(second, 0);
    let mut old = app("1.1", "Failed", "Degraded");
    old.deployment = Some("1.2".into());
    old.requested = Some("1.2".into());
    assert!(matches!(
        step(&second, Observation::Present(&old), 30),
        Step::Observe { .. }
    ));
}

#[test]
fn an_apply_the_watch_has_not_shown_yet_is_awaited_then_repeated() {
    let e = applied(env(), 0);
    let older = app("0.9", "Succeeded", "Healthy");
    assert_eq!(step(&e, Observation::Present(&older), 1), Step::Wait(SHORT));
    assert_eq!(step(&e, Observation::Absent, 1), Step::Wait(SHORT));
    assert_eq!(step(&e, Observation::Present(&older), 31), Step::Apply);
    assert_eq!(step(&e, Observation::Absent, 31), Step::Apply);
}

#[test]
fn a_sync_request_argo_cd_dropped_is_made_again() {
    let e = applied(env(), 0);
    // Requested, not started yet: wait.
    let mut pending = app("1.1", "Succeeded", "Healthy");
    pending.operation.as_mut().unwrap().deployment = Some("0.9".into());
    pending.requested = Some("1.1".into());
    assert!(matches!(
        step(&e, Observation::Present(&pending), 2),
        Step::Observe { .. }
    ));
    // An older operation's completion cleared the request; Argo CD ran an automated sync.
    let mut lost = pending.clone();
    lost.requested = None;
    lost.operation.as_mut().unwrap().deployment = None;
    assert_eq!(step(&e, Observation::Present(&lost), 2), Step::Apply);
}

#[test]
fn the_next_attempt_waits_for_its_back_off() {
    let mut e = env();
    e.attempt = 2;
    e.rollout.not_before = Some(secs(10));
    assert_eq!(
        step(&e, Observation::Absent, 4),
        Step::Wait(Duration::from_secs(6))
    );
    assert_eq!(step(&e, Observation::Absent, 10), Step::Apply);
    assert_eq!(next_attempt_delay(&policy(), 1), Duration::from_secs(5));
    assert_eq!(next_attempt_delay(&policy(), 3), Duration::from_secs(20));
}

#[test]
fn expiry_wins_over_everything_live() {
    let mut e = applied(env(), 0);
    let later = e.expires_at;
    for status in [Status::Pending, Status::Ready, Status::Failed] {
        e.status = status;
        assert_eq!(
            decide(&e, Observation::Absent, later, true, &policy()),
            Step::Expire
        );
    }
    e.status = Status::Deleting;
    assert_eq!(
        decide(&e, Observation::Absent, later, true, &policy()),
        Step::Terminate
    );
}

#[test]
fn ready_environments_are_repaired_and_watched_for_drift() {
    let mut e = applied(env(), 0);
    e.status = Status::Ready;
    assert!(matches!(
        step(&e, Observation::Absent, 30),
        Step::Redeploy { .. }
    ));
    let mut degraded = app("1.1", "Succeeded", "Degraded");
    degraded.resources = vec![ObservedResource {
        kind: "Deployment".into(),
        name: "x".into(),
        health: Some("Degraded".into()),
        ..Default::default()
    }];
    assert!(matches!(
        step(&e, Observation::Present(&degraded), 30),
        Step::Observe { health, .. } if health == "Degraded"
    ));
    let healthy = app("1.1", "Succeeded", "Healthy");
    e.observed.health = Some("Healthy".into());
    e.observed.sync = Some("Synced".into());
    e.observed.message = Some(healthy.progress());
    assert_eq!(
        step(&e, Observation::Present(&healthy), 30),
        Step::Wait(policy().resync),
        "settled: look again at the resync period"
    );
    e.expires_at = secs(90);
    assert_eq!(
        step(&e, Observation::Present(&healthy), 30),
        Step::Wait(Duration::from_secs(60)),
        "or at expiry, whichever comes first"
    );
}

#[test]
fn teardown_deletes_once_and_finishes_when_the_application_is_gone() {
    let mut e = env();
    e.status = Status::Deleting;
    let live = app("1.1", "Succeeded", "Healthy");
    assert_eq!(step(&e, Observation::Present(&live), 1), Step::Delete);
    let mut going = live.clone();
    going.deleting = true;
    assert_eq!(
        step(&e, Observation::Present(&going), 1),
        Step::Wait(DELETE_POLL)
    );
    assert_eq!(step(&e, Observation::Absent, 1), Step::Terminate);
}

#[test]
fn only_a_terminated_record_removes_a_leftover_application() {
    let mut e = env();
    e.status = Status::Terminated;
    let live = app("1.1", "Succeeded", "Healthy");
    assert_eq!(step(&e, Observation::Present(&live), 1), Step::Delete);
    assert_eq!(step(&e, Observation::Absent, 1), Step::Idle);
    e.status = Status::Failed;
    assert!(matches!(
        step(&e, Observation::Present(&live), 1),
        Step::Wait(_)
    ));
}

#[test]
fn an_environment_in_line_is_admitted_before_anything_is_applied() {
    let mut e = env();
    e.waiting = Some(crate::domain::quota::Waiting::new(t0()));
    assert_eq!(step(&e, Observation::Absent, 0), Step::Admit);
    // Still in line after a new commit: the new deployment waits too.
    e.generation += 1;
    assert_eq!(step(&e, Observation::Absent, 5), Step::Admit);
    // Its lifetime runs while it waits; one torn down in line needs no slot.
    assert_eq!(
        decide(&e, Observation::Absent, e.expires_at, true, &policy()),
        Step::Expire
    );
    let mut leaving = e.clone();
    leaving.status = Status::Deleting;
    assert_eq!(step(&leaving, Observation::Absent, 5), Step::Terminate);
    // Admitted: applied as any new environment.
    e.waiting = None;
    assert_eq!(step(&e, Observation::Absent, 5), Step::Apply);
}
