//! Tests of sleep schedules (kept apart so the code reads in one screen).

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn weekdays_in_berlin() -> SleepSchedule {
    let days: Vec<String> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| (*d).to_owned())
        .collect();
    SleepSchedule::parse("Europe/Berlin", &days, "08:00", "19:00").unwrap()
}

#[test]
fn weekday_office_hours_in_berlin_in_winter_and_summer() {
    let s = weekdays_in_berlin();
    // Thursday 3 December 2026, 10:00 in Berlin is 09:00 UTC (CET, UTC+1).
    assert_eq!(
        s.phase(utc("2026-12-03T09:00:00Z")),
        Phase::Awake {
            since: utc("2026-12-03T07:00:00Z")
        }
    );
    assert_eq!(
        s.next_change(utc("2026-12-03T09:00:00Z")),
        utc("2026-12-03T18:00:00Z")
    );
    // 21:00 in Berlin: asleep since 19:00 local.
    assert_eq!(
        s.phase(utc("2026-12-03T20:00:00Z")),
        Phase::Asleep {
            since: utc("2026-12-03T18:00:00Z")
        }
    );
    // The weekend: asleep from Friday 19:00 until Monday 08:00.
    let sunday = utc("2026-12-06T12:00:00Z");
    assert_eq!(
        s.phase(sunday),
        Phase::Asleep {
            since: utc("2026-12-04T18:00:00Z")
        }
    );
    assert_eq!(s.next_change(sunday), utc("2026-12-07T07:00:00Z"));
    // In summer (CEST, UTC+2) the same local hours are an hour earlier in UTC.
    assert_eq!(
        s.phase(utc("2026-07-01T06:30:00Z")),
        Phase::Awake {
            since: utc("2026-07-01T06:00:00Z")
        }
    );
}

#[test]
fn a_night_shift_runs_past_midnight_and_all_day_every_day_never_sleeps() {
    let days: Vec<String> = vec!["sat".into()];
    let night = SleepSchedule::parse("UTC", &days, "22:00", "06:00").unwrap();
    // Saturday 5 December 2026 22:00 to Sunday 06:00.
    assert!(matches!(
        night.phase(utc("2026-12-06T03:00:00Z")),
        Phase::Awake { .. }
    ));
    assert!(matches!(
        night.phase(utc("2026-12-06T07:00:00Z")),
        Phase::Asleep { .. }
    ));
    let every: Vec<String> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| (*d).to_owned())
        .collect();
    let always = SleepSchedule::parse("UTC", &every, "00:00", "00:00").unwrap();
    let now = utc("2026-12-03T12:00:00Z");
    assert!(matches!(always.phase(now), Phase::Awake { since } if since < now - Duration::days(7)));
}

#[test]
fn a_clock_change_moves_the_window_not_the_local_hours() {
    let s = weekdays_in_berlin();
    // Monday 30 March 2026, the first weekday of summer time: 08:00 CEST is 06:00 UTC.
    assert_eq!(
        s.next_change(utc("2026-03-29T12:00:00Z")),
        utc("2026-03-30T06:00:00Z")
    );
}

#[test]
fn bad_parts_are_named() {
    let days = vec!["mon".to_owned()];
    let e = SleepSchedule::parse("Mars/Olympus", &days, "08:00", "19:00").unwrap_err();
    assert_eq!(e.field, "sleep_schedule.time_zone");
    assert!(e.message.contains("Mars/Olympus"));
    let e = SleepSchedule::parse("UTC", &[], "08:00", "19:00").unwrap_err();
    assert_eq!(e.field, "sleep_schedule.days");
    let e = SleepSchedule::parse("UTC", &["funday".into()], "08:00", "19:00").unwrap_err();
    assert!(e.message.contains("funday"));
    let e = SleepSchedule::parse("UTC", &days, "8am", "19:00").unwrap_err();
    assert_eq!(e.field, "sleep_schedule.from");
    let e = SleepSchedule::parse("UTC", &days, "08:00", "24:00").unwrap_err();
    assert_eq!(e.field, "sleep_schedule.until");
    // Repeats are harmless; the order is Monday first.
    let e = SleepSchedule::parse("UTC", &["Monday".into()], "08:00", "19:00").unwrap_err();
    assert!(e.message.contains("Monday"));
    assert!(SleepSchedule::parse("UTC", &days, " 08:00", "19:00").is_err());
    assert!(SleepSchedule::parse("UTC", &days, "+8:00", "19:00").is_err());
    let s = SleepSchedule::parse(
        "UTC",
        &["fri".into(), "mon".into(), "fri".into()],
        "08:00",
        "19:00",
    )
    .unwrap();
    assert_eq!(s.days, vec![Weekday::Mon, Weekday::Fri]);
    assert_eq!(s.describe(), "awake Monday, Friday 08:00–19:00 (UTC)");
    assert_eq!(
        weekdays_in_berlin().describe(),
        "awake Monday to Friday 08:00–19:00 (Europe/Berlin)"
    );
}
