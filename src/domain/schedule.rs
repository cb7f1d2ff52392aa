//! A repository's sleep schedule: the hours its environments are awake, on some days of the
//! week, in a time zone (e.g. Monday to Friday, 08:00 to 19:00 in Europe/Berlin). Outside those
//! hours an environment nobody used since they ended sleeps; when they begin again, the ones the
//! schedule put to sleep wake. Pure: daylight saving time is the time zone's business.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Who puts environments to sleep and wakes them on a schedule (`asleep.by`).
pub const BY_SCHEDULE: &str = "schedule";

/// Awake hours. `from` == `until` is the whole day; `until` before `from` runs past midnight
/// into the next day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SleepSchedule {
    pub time_zone: Tz,
    /// The days an awake window starts on, Monday first, no repeats.
    pub days: Vec<Weekday>,
    pub from: NaiveTime,
    pub until: NaiveTime,
}

/// A schedule as the API and the form submit it, checked by [`SleepSchedule::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduleParts {
    pub time_zone: String,
    pub days: Vec<String>,
    pub from: String,
    pub until: String,
}

impl ScheduleParts {
    pub fn parse(&self) -> Result<SleepSchedule, ScheduleError> {
        SleepSchedule::parse(&self.time_zone, &self.days, &self.from, &self.until)
    }

    pub fn of(s: &SleepSchedule) -> Self {
        Self {
            time_zone: s.time_zone.name().to_owned(),
            days: s.days.iter().map(|d| day_key(*d).to_owned()).collect(),
            from: s.from.format("%H:%M").to_string(),
            until: s.until.format("%H:%M").to_string(),
        }
    }
}

/// Where the schedule stands at a moment, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Awake { since: DateTime<Utc> },
    Asleep { since: DateTime<Utc> },
}

/// Why a schedule's parts were refused, naming the part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ScheduleError {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: String) -> ScheduleError {
    ScheduleError { field, message }
}

/// Every time zone name Blueberry knows (the IANA database it carries).
pub fn zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// `mon` … `sun`, exactly as the API writes them.
pub fn parse_day(s: &str) -> Option<Weekday> {
    DAY_KEYS
        .iter()
        .position(|k| *k == s)
        .and_then(|i| Weekday::try_from(i as u8).ok())
}

/// The API's day names, Monday first.
pub const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub fn day_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// `mon` … `sun`, as the API writes days.
pub fn day_key(d: Weekday) -> &'static str {
    DAY_KEYS[d.num_days_from_monday() as usize]
}

/// `HH:MM`, 00:00 to 23:59, nothing around it.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    let (h, m) = s.split_once(':')?;
    let two_digits = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

impl SleepSchedule {
    /// From the API's parts; each error names the part.
    pub fn parse(
        time_zone: &str,
        days: &[String],
        from: &str,
        until: &str,
    ) -> Result<Self, ScheduleError> {
        let tz: Tz = time_zone.parse().map_err(|_| {
            refuse(
                "sleep_schedule.time_zone",
                format!(
                    "`{time_zone}` is not a time zone; use an IANA name such as Europe/Berlin or UTC"
                ),
            )
        })?;
        if days.is_empty() {
            return Err(refuse(
                "sleep_schedule.days",
                "name at least one day (mon … sun) the environments are awake on".into(),
            ));
        }
        let mut parsed = Vec::new();
        for d in days {
            let day = parse_day(d).ok_or_else(|| {
                refuse(
                    "sleep_schedule.days",
                    format!("`{d}` is not a day; use mon, tue, wed, thu, fri, sat or sun"),
                )
            })?;
            if !parsed.contains(&day) {
                parsed.push(day);
            }
        }
        parsed.sort_by_key(Weekday::num_days_from_monday);
        let time = |field, s: &str| {
            parse_time(s).ok_or_else(|| {
                refuse(
                    field,
                    format!("`{s}` is not a time of day; use HH:MM, e.g. 08:00"),
                )
            })
        };
        Ok(Self {
            time_zone: tz,
            days: parsed,
            from: time("sleep_schedule.from", from)?,
            until: time("sleep_schedule.until", until)?,
        })
    }

    /// "awake Monday to Friday 08:00–19:00 (Europe/Berlin)".
    pub fn describe(&self) -> String {
        let idx: Vec<u32> = self.days.iter().map(|d| d.num_days_from_monday()).collect();
        let contiguous = idx.windows(2).all(|w| w[1] == w[0] + 1);
        let days = match self.days.as_slice() {
            [one] => day_name(*one).to_owned(),
            [first, .., last] if contiguous && self.days.len() > 2 => {
                format!("{} to {}", day_name(*first), day_name(*last))
            }
            all => all
                .iter()
                .map(|d| day_name(*d))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let hours = if self.from == self.until {
            "all day".to_owned()
        } else {
            format!(
                "{}–{}",
                self.from.format("%H:%M"),
                self.until.format("%H:%M")
            )
        };
        format!("awake {days} {hours} ({})", self.time_zone.name())
    }

    /// The moment local `date` at `time` is, in UTC. A time skipped by a clock change counts
    /// from the hour after; a repeated one, at its first occurrence.
    fn at(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = date.and_time(time);
        let tz = self.time_zone;
        tz.from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&local))
    }

    /// The awake windows starting on the local days around `now` (a week and a day each way),
    /// in order.
    fn windows(&self, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let today = now.with_timezone(&self.time_zone).date_naive();
        (-8..=8)
            .filter_map(|offset| today.checked_add_signed(Duration::days(offset)))
            .filter(|d| self.days.contains(&d.weekday()))
            .map(|d| {
                let start = self.at(d, self.from);
                let end_day = if self.until <= self.from {
                    d.succ_opt().unwrap_or(d)
                } else {
                    d
                };
                (start, self.at(end_day, self.until))
            })
            .collect()
    }

    /// Awake or asleep at `now`, and since when.
    pub fn phase(&self, now: DateTime<Utc>) -> Phase {
        let windows = self.windows(now);
        if let Some((start, _)) = windows.iter().find(|(s, e)| *s <= now && now < *e) {
            // Windows that touch (all day, every day) are one stretch awake.
            let mut since = *start;
            while let Some((s, _)) = windows.iter().find(|(_, e)| *e == since) {
                since = *s;
            }
            return Phase::Awake { since };
        }
        let since = windows
            .iter()
            .map(|(_, e)| *e)
            .filter(|e| *e <= now)
            .max()
            .unwrap_or(now - Duration::days(8));
        Phase::Asleep { since }
    }

    /// The next moment the phase changes after `now` (at most a week and a day away).
    pub fn next_change(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let awake = matches!(self.phase(now), Phase::Awake { .. });
        self.windows(now)
            .iter()
            .flat_map(|(s, e)| [*s, *e])
            .filter(|t| *t > now)
            .filter(|t| matches!(self.phase(*t), Phase::Awake { .. }) != awake)
            .min()
            .unwrap_or(now + Duration::days(8))
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
