//! Tests of the cost meter (kept apart so the code reads in one screen).

use super::*;
use chrono::TimeZone;
use serde_json::json;

#[test]
fn this_week_counts_only_what_fell_after_monday_midnight() {
    let t = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap();
    // Thursday 3 December 2026 is in the week from Monday 30 November.
    assert_eq!(
        week_start(t(3, 15)),
        Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap()
    );
    assert_eq!(
        week_start(Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap()),
        Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap()
    );
    let req = Requests {
        cpu_millis: 1000,
        memory_mib: 1024,
    };
    // Started Saturday 28 November 06:00 (last week), awake until Tuesday 1 December 06:00,
    // then asleep: this week is 30 h awake (Monday 00:00 to Tuesday 06:00) and, by
    // Thursday 15:00, 57 h asleep.
    let mut m = Meter::start(req, Utc.with_ymd_and_hms(2026, 11, 28, 6, 0, 0).unwrap());
    m.close(t(1, 6), false);
    assert_eq!(m.awake_secs, 72 * 3600);
    assert_eq!(m.this_week(t(3, 15), true, true), (30 * 3600, 57 * 3600));
    // Closed, its tally stays with its week and reads as nothing the week after.
    m.close(t(3, 15), true);
    assert_eq!(m.this_week(t(3, 15), false, false), (30 * 3600, 57 * 3600));
    assert_eq!(m.this_week(t(8, 12), false, false), (0, 0));
    // Still running into next week: only from that Monday on.
    assert_eq!(m.this_week(t(8, 12), true, false), (36 * 3600, 0));
}

#[test]
fn quantities_read_as_kubernetes_writes_them() {
    assert_eq!(cpu_millis(&json!("250m")), Some(250));
    assert_eq!(cpu_millis(&json!("1")), Some(1000));
    assert_eq!(cpu_millis(&json!(0.5)), Some(500));
    assert_eq!(cpu_millis(&json!("lots")), None);
    assert_eq!(memory_mib(&json!("512Mi")), Some(512));
    assert_eq!(memory_mib(&json!("1Gi")), Some(1024));
    assert_eq!(memory_mib(&json!("1G")), Some(954));
    assert_eq!(memory_mib(&json!(268_435_456)), Some(256));
}

#[test]
fn the_chart_defaults_request_three_quarters_of_a_vcpu_and_a_gib() {
    let values = json!({
        "backend": {"replicas": 1, "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}}},
        "frontends": [{"name": "web", "replicas": 1,
                       "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}],
        "redis": {"enabled": true, "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}
    });
    assert_eq!(
        requests_of(&values),
        Requests {
            cpu_millis: 750,
            memory_mib: 1024
        }
    );
    let mut two = values.clone();
    two["backend"]["replicas"] = json!(2);
    two["redis"]["enabled"] = json!(false);
    assert_eq!(
        requests_of(&two),
        Requests {
            cpu_millis: 750,
            memory_mib: 1280
        }
    );
}

/// By hand: 0.75 vCPU × $0.0445 + 1 GiB × $0.0049225 = $0.0382975 an hour; 48 h awake is
/// $1.84, 24 h asleep saved $0.92.
#[test]
fn a_meter_prices_awake_time_and_counts_sleep_as_saved() {
    let rates = Rates {
        vcpu_hour: 0.0445,
        gib_hour: 0.0049225,
    };
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let h = |n| t0 + chrono::Duration::hours(n);
    let mut m = Meter::start(
        Requests {
            cpu_millis: 750,
            memory_mib: 1024,
        },
        t0,
    );
    m.close(h(30), false); // awake 30 h, then asleep
    m.close(h(54), true); // asleep 24 h, then awake again
    let (spent, saved) = m.so_far(h(72), true, false, &rates);
    assert!((spent - 48.0 * 0.0382975).abs() < 1e-9, "{spent}");
    assert!((saved - 24.0 * 0.0382975).abs() < 1e-9, "{saved}");
    assert_eq!(
        describe(spent, saved),
        "≈ $1.84 so far, $0.92 saved by sleeping"
    );
    // Torn down at 72 h: the meter stops.
    let (later, _) = m.so_far(h(100), false, false, &rates);
    assert!(
        (later - 30.0 * 0.0382975).abs() < 1e-9,
        "closed stretches only: {later}"
    );
    assert_eq!(describe(0.5, 0.0), "≈ $0.50 so far");
}
