//! Environment lifetime.

use serde::{Deserialize, Serialize};

/// How long an environment lives, in hours: 1..=168 (one week), 72 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u16")]
pub struct TtlHours(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be between {min} and {max} hours (got {0})", min = TtlHours::MIN, max = TtlHours::MAX)]
pub struct TtlError(pub i64);

impl TtlHours {
    pub const MIN: u16 = 1;
    pub const MAX: u16 = 168;
    pub const DEFAULT: TtlHours = TtlHours(72);

    pub fn new(hours: i64) -> Result<Self, TtlError> {
        if (i64::from(Self::MIN)..=i64::from(Self::MAX)).contains(&hours) {
            Ok(Self(hours as u16))
        } else {
            Err(TtlError(hours))
        }
    }

    pub fn hours(self) -> u16 {
        self.0
    }

    pub fn duration(self) -> chrono::Duration {
        chrono::Duration::hours(i64::from(self.0))
    }
}

impl Default for TtlHours {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl TryFrom<i64> for TtlHours {
    type Error = TtlError;
    fn try_from(h: i64) -> Result<Self, TtlError> {
        Self::new(h)
    }
}

impl From<TtlHours> for u16 {
    fn from(t: TtlHours) -> u16 {
        t.0
    }
}

/// The expiry after extending an environment by `hours` at `now`: the later of the current expiry
/// and `now`, plus `hours`, but never more than [`TtlHours::MAX`] hours from `now`.
pub fn extended_expiry(
    current: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
    hours: TtlHours,
) -> chrono::DateTime<chrono::Utc> {
    let cap = now + TtlHours(TtlHours::MAX).duration();
    (current.max(now) + hours.duration()).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    #[test]
    fn bounds_are_inclusive() {
        assert!(TtlHours::new(0).is_err());
        assert_eq!(TtlHours::new(1).unwrap().hours(), 1);
        assert_eq!(TtlHours::new(168).unwrap().hours(), 168);
        assert_eq!(TtlHours::new(500), Err(TtlError(500)));
        assert_eq!(TtlHours::default().hours(), 72);
        assert_eq!(
            TtlError(0).to_string(),
            "must be between 1 and 168 hours (got 0)"
        );
    }

    #[test]
    fn extension_is_capped_at_a_week_from_now() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let in_100h = now + chrono::Duration::hours(100);
        let extended = extended_expiry(in_100h, now, TtlHours::new(100).unwrap());
        assert_eq!(extended, now + chrono::Duration::hours(168));
        let past = now - chrono::Duration::hours(5);
        assert_eq!(
            extended_expiry(past, now, TtlHours::new(2).unwrap()),
            now + chrono::Duration::hours(2)
        );
    }

    proptest! {
        #[test]
        fn extension_never_shortens_and_never_exceeds_cap(cur in -200i64..200, h in 1i64..=168) {
            let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
            let current = now + chrono::Duration::hours(cur);
            let e = extended_expiry(current, now, TtlHours::new(h).unwrap());
            prop_assert!(e <= now + chrono::Duration::hours(168));
            prop_assert!(e >= current.min(now + chrono::Duration::hours(168)));
            prop_assert!(e > now);
        }
    }
}
