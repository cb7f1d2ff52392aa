//! Tests of the lifecycle decision's time-driven steps: expiry warnings, idle sleep, and the
//! sleep schedule.

use super::tests::{app, applied, env, policy, secs, step, t0};
use super::*;

#[test]
fn every_environment_is_warned_before_expiry_but_only_at_thresholds_it_outlives() {
    // 2 hours to live: no "a day left" warning, the hour's warning at T-1 h.
    let short = applied(env(), 0);
    let wait = step(&short, Observation::Absent, 1);
    assert!(!matches!(wait, Step::WarnExpiry { .. }), "{wait:?}");
    let hour_left = short.expires_at - chrono::Duration::minutes(59);
    assert_eq!(
        decide(&short, Observation::Absent, hour_left, true, &policy()),
        Step::WarnExpiry { hours: 1 }
    );
    // Two days: warned a day before, though made by hand (no merge request).
    let mut long = applied(env(), 0);
    long.expires_at = t0() + chrono::Duration::hours(48);
    assert!(long.merge_request.is_none());
    let day_left = long.expires_at - chrono::Duration::hours(23);
    assert_eq!(
        decide(&long, Observation::Absent, day_left, true, &policy()),
        Step::WarnExpiry { hours: 24 }
    );
}

#[test]
fn a_ready_environment_sleeps_once_idle_for_its_repositorys_time() {
    let mut e = applied(env(), 0);
    e.status = Status::Ready;
    let idle = Policy {
        idle_sleep: Some(Duration::from_secs(30 * 60)),
        resync: Duration::from_secs(3600),
        ..Policy::default()
    };
    let live = app("1.1", "Succeeded", "Healthy");
    e.observed.health = Some("Healthy".into());
    e.observed.sync = Some("Synced".into());
    // Awake and used recently: it waits until the idle time is up.
    let wait = decide(&e, Observation::Present(&live), secs(60), true, &idle);
    assert_eq!(wait, Step::Wait(Duration::from_secs(29 * 60)));
    let later = t0() + chrono::Duration::minutes(31);
    assert_eq!(
        decide(&e, Observation::Present(&live), later, true, &idle),
        Step::SleepIdle
    );
    // A visit at minute 20 moves it; asleep already, or no idle time set: never.
    e.active_at = Some(t0() + chrono::Duration::minutes(20));
    assert!(matches!(
        decide(&e, Observation::Present(&live), later, true, &idle),
        Step::Wait(_)
    ));
    e.active_at = None;
    assert!(matches!(
        decide(&e, Observation::Present(&live), later, true, &policy()),
        Step::Wait(_)
    ));
    e.asleep = Some(crate::domain::environment::Asleep {
        since: t0(),
        by: "idle".into(),
    });
    assert!(matches!(
        decide(&e, Observation::Present(&live), later, true, &idle),
        Step::Wait(_)
    ));
}

#[test]
fn the_schedule_sleeps_unused_environments_after_hours_and_wakes_its_own_in_the_morning() {
    let mut e = applied(env(), 0);
    e.status = Status::Ready;
    e.expires_at = t0() + chrono::Duration::days(7);
    e.observed.health = Some("Healthy".into());
    e.observed.sync = Some("Synced".into());
    let live = app("1.1", "Succeeded", "Healthy");
    let days: Vec<String> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| (*d).to_owned())
        .collect();
    let office = Policy {
        schedule: Some(
            crate::domain::schedule::SleepSchedule::parse("UTC", &days, "08:00", "10:00").unwrap(),
        ),
        resync: Duration::from_secs(3 * 3600),
        ..Policy::default()
    };
    let at = |h: i64, m: i64| t0() + chrono::Duration::minutes((h - 9) * 60 + m);
    // Wednesday 09:00, within the hours: look again when they end.
    assert_eq!(
        decide(&e, Observation::Present(&live), at(9, 0), true, &office),
        Step::Wait(Duration::from_secs(3600))
    );
    // 10:30: unused since 10:00, so it sleeps; used at 10:15, it stays up.
    assert_eq!(
        decide(&e, Observation::Present(&live), at(10, 30), true, &office),
        Step::SleepOnSchedule
    );
    e.active_at = Some(at(10, 15));
    assert!(matches!(
        decide(&e, Observation::Present(&live), at(10, 30), true, &office),
        Step::Wait(_)
    ));
    // Asleep by the schedule since 10:00: woken on Thursday at 08:00, not before.
    e.asleep = Some(crate::domain::environment::Asleep {
        since: at(10, 0),
        by: crate::domain::schedule::BY_SCHEDULE.into(),
    });
    assert_eq!(
        decide(&e, Observation::Present(&live), at(23, 0), true, &office),
        Step::Wait(Duration::from_secs(3 * 3600))
    );
    assert_eq!(
        decide(&e, Observation::Present(&live), at(32, 1), true, &office),
        Step::WakeOnSchedule
    );
    // Put to sleep by a person: the schedule leaves it asleep.
    e.asleep = Some(crate::domain::environment::Asleep {
        since: at(10, 0),
        by: "gitlab:alice".into(),
    });
    assert!(matches!(
        decide(&e, Observation::Present(&live), at(32, 1), true, &office),
        Step::Wait(_)
    ));
}
