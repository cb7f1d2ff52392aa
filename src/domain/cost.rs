//! What an environment costs: the resource requests its Helm values ask for (backend and
//! frontends times their replicas, Redis when enabled), metered over the time it is awake, and
//! priced per vCPU-hour and GiB-hour. Time asleep is what sleeping saved. Pure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What one environment requests while awake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    pub cpu_millis: u64,
    pub memory_mib: u64,
}

/// Prices of requested resources, in dollars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub vcpu_hour: f64,
    pub gib_hour: f64,
}

impl Rates {
    /// Dollars for `requests` held for `secs` seconds.
    pub fn price(&self, requests: Requests, secs: i64) -> f64 {
        let hours = secs.max(0) as f64 / 3600.0;
        hours
            * (requests.cpu_millis as f64 / 1000.0 * self.vcpu_hour
                + requests.memory_mib as f64 / 1024.0 * self.gib_hour)
    }
}

/// A Kubernetes CPU quantity (`250m`, `1`, `0.5`) in millicores.
pub fn cpu_millis(q: &Value) -> Option<u64> {
    let s = quantity_text(q)?;
    let millis = match s.strip_suffix('m') {
        Some(m) => m.parse::<f64>().ok()?,
        None => s.parse::<f64>().ok()? * 1000.0,
    };
    (millis.is_finite() && millis >= 0.0).then_some(millis.ceil() as u64)
}

/// A Kubernetes memory quantity (`512Mi`, `1Gi`, `1G`, `268435456`) in MiB.
pub fn memory_mib(q: &Value) -> Option<u64> {
    let s = quantity_text(q)?;
    const UNITS: [(&str, f64); 8] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    let (number, factor) = UNITS
        .iter()
        .find_map(|(unit, f)| s.strip_suffix(unit).map(|n| (n, *f)))
        .unwrap_or((s.as_str(), 1.0));
    let bytes = number.parse::<f64>().ok()? * factor;
    (bytes.is_finite() && bytes >= 0.0).then(|| (bytes / (1024.0 * 1024.0)).ceil() as u64)
}

fn quantity_text(q: &Value) -> Option<String> {
    match q {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What the environment chart's values request: each workload's `resources.requests` times
/// its replicas (1 when unset), Redis (one replica) when enabled.
pub fn requests_of(values: &Value) -> Requests {
    let mut total = Requests::default();
    let mut add = |workload: &Value, replicas: u64| {
        let requests = &workload["resources"]["requests"];
        total.cpu_millis += cpu_millis(&requests["cpu"]).unwrap_or(0) * replicas;
        total.memory_mib += memory_mib(&requests["memory"]).unwrap_or(0) * replicas;
    };
    let replicas = |w: &Value| w["replicas"].as_u64().unwrap_or(1);
    if values["backend"].is_object() {
        add(&values["backend"], replicas(&values["backend"]));
    }
    for frontend in values["frontends"].as_array().into_iter().flatten() {
        add(frontend, replicas(frontend));
    }
    if values["redis"]["enabled"].as_bool().unwrap_or(false) {
        add(&values["redis"], 1);
    }
    total
}

/// An environment's meter: what it requests, and the seconds it spent awake and asleep up to
/// `since` (the current stretch runs from there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meter {
    pub requests: Requests,
    pub awake_secs: i64,
    pub asleep_secs: i64,
    #[serde(with = "super::timestamp")]
    pub since: DateTime<Utc>,
    /// The part of the closed stretches that fell in the week starting `week.start`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub week: Option<WeekTally>,
}

/// Seconds awake and asleep within one week (from Monday 00:00 UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekTally {
    #[serde(with = "super::timestamp")]
    pub start: DateTime<Utc>,
    pub awake_secs: i64,
    pub asleep_secs: i64,
}

/// Monday 00:00 UTC of the week `t` is in.
pub fn week_start(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{Datelike, TimeZone};
    let monday =
        t.date_naive() - chrono::Duration::days(i64::from(t.weekday().num_days_from_monday()));
    Utc.from_utc_datetime(&monday.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

impl Meter {
    pub fn start(requests: Requests, now: DateTime<Utc>) -> Self {
        Self {
            requests,
            awake_secs: 0,
            asleep_secs: 0,
            since: now,
            week: None,
        }
    }

    /// Ends the current stretch at `now` (spent `asleep` or awake) and starts the next.
    pub fn close(&mut self, now: DateTime<Utc>, asleep: bool) {
        let secs = (now - self.since).num_seconds().max(0);
        if asleep {
            self.asleep_secs += secs;
        } else {
            self.awake_secs += secs;
        }
        // This week's part of the stretch; a tally of an earlier week starts over.
        let start = week_start(now);
        let in_week = (now - self.since.max(start)).num_seconds().max(0);
        let week = match self.week {
            Some(w) if w.start == start => self.week.get_or_insert(w),
            _ => self.week.insert(WeekTally {
                start,
                awake_secs: 0,
                asleep_secs: 0,
            }),
        };
        if asleep {
            week.asleep_secs += in_week;
        } else {
            week.awake_secs += in_week;
        }
        self.since = now.max(self.since);
    }

    /// Seconds awake and asleep in the week `now` is in, the open stretch counted when
    /// `running`.
    pub fn this_week(&self, now: DateTime<Utc>, running: bool, asleep: bool) -> (i64, i64) {
        let mut m = self.clone();
        if running {
            m.close(now, asleep);
        }
        match m.week {
            Some(w) if w.start == week_start(now) => (w.awake_secs, w.asleep_secs),
            _ => (0, 0),
        }
    }

    /// Dollars spent and saved so far: the closed stretches plus the open one when `running`
    /// (live), counted as `asleep` or awake.
    pub fn so_far(
        &self,
        now: DateTime<Utc>,
        running: bool,
        asleep: bool,
        rates: &Rates,
    ) -> (f64, f64) {
        let mut m = self.clone();
        if running {
            m.close(now, asleep);
        }
        (
            rates.price(m.requests, m.awake_secs),
            rates.price(m.requests, m.asleep_secs),
        )
    }
}

/// "≈ $1.84 so far, $0.92 saved by sleeping".
pub fn describe(spent: f64, saved: f64) -> String {
    if saved >= 0.005 {
        format!("≈ ${spent:.2} so far, ${saved:.2} saved by sleeping")
    } else {
        format!("≈ ${spent:.2} so far")
    }
}

#[cfg(test)]
#[path = "cost_tests.rs"]
mod tests;
