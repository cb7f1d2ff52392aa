//! At most `--max-deletions-per-minute` teardowns on Blueberry's own initiative (expiry): above
//! that it stops starting them, logs, counts `blueberry_deletions_held_total`, shows a banner in
//! the UI and waits until an admin confirms (`POST /api/deletions/confirm`). Teardowns people ask
//! for (closing a merge request, `/blueberry destroy`, the API's delete) are never held.
//! The count is per worker process: with several worker replicas the limit applies to each.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

#[derive(Debug, Default)]
struct State {
    /// When the teardowns of the last minute started.
    recent: VecDeque<DateTime<Utc>>,
    /// Since when teardowns are held, waiting for an admin.
    paused_since: Option<DateTime<Utc>>,
    held: BTreeSet<String>,
    /// Held ones an admin let go.
    approved: BTreeSet<String>,
}

/// What `GET /api/deletions` shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeletionsStatus {
    pub max_per_minute: u32,
    pub in_last_minute: usize,
    /// Set while teardowns on Blueberry's initiative are held for an admin's confirmation.
    pub paused_since: Option<DateTime<Utc>>,
    /// The environments whose expiry teardown is held.
    pub held: Vec<String>,
}

#[derive(Debug)]
pub struct DeletionGuard {
    limit: u32,
    state: Mutex<State>,
}

impl DeletionGuard {
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the expiry teardown of `id` may start now. `Err(true)` when this call paused
    /// teardowns (the first one over the limit), `Err(false)` when it is held otherwise.
    pub fn permit(&self, id: &str, now: DateTime<Utc>) -> Result<(), bool> {
        let mut s = self.state();
        if s.approved.remove(id) {
            return Ok(());
        }
        if s.paused_since.is_some() {
            s.held.insert(id.to_owned());
            return Err(false);
        }
        while s
            .recent
            .front()
            .is_some_and(|t| *t <= now - Duration::minutes(1))
        {
            s.recent.pop_front();
        }
        if s.recent.len() >= self.limit as usize {
            s.paused_since = Some(now);
            s.held.insert(id.to_owned());
            return Err(true);
        }
        s.recent.push_back(now);
        Ok(())
    }

    pub fn status(&self, now: DateTime<Utc>) -> DeletionsStatus {
        let s = self.state();
        DeletionsStatus {
            max_per_minute: self.limit,
            in_last_minute: s
                .recent
                .iter()
                .filter(|t| **t > now - Duration::minutes(1))
                .count(),
            paused_since: s.paused_since,
            held: s.held.iter().cloned().collect(),
        }
    }

    /// An admin confirms: the held teardowns go ahead, and the limit counts afresh.
    pub fn confirm(&self) -> Vec<String> {
        let mut s = self.state();
        let held: Vec<String> = std::mem::take(&mut s.held).into_iter().collect();
        s.approved.extend(held.iter().cloned());
        s.paused_since = None;
        s.recent.clear();
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn over_the_limit_teardowns_wait_for_an_admin() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 7, 0, 0).unwrap();
        let guard = DeletionGuard::new(2);
        assert_eq!(guard.permit("a", now), Ok(()));
        assert_eq!(guard.permit("b", now), Ok(()));
        assert_eq!(guard.permit("c", now), Err(true), "the third pauses");
        assert_eq!(guard.permit("d", now), Err(false));
        // Even a minute later: paused until confirmed.
        let later = now + Duration::minutes(5);
        assert_eq!(guard.permit("e", later), Err(false));
        let status = guard.status(later);
        assert_eq!(status.held, ["c", "d", "e"]);
        assert_eq!(status.paused_since, Some(now));
        assert_eq!(guard.confirm(), ["c", "d", "e"]);
        for id in ["c", "d", "e"] {
            assert_eq!(guard.permit(id, later), Ok(()), "{id} was let go");
        }
        assert_eq!(guard.permit("f", later), Ok(()));
        assert_eq!(guard.permit("g", later), Ok(()));
        assert_eq!(
            guard.permit("h", later),
            Err(true),
            "the limit counts afresh"
        );
    }

    #[test]
    fn a_minute_later_the_budget_is_back() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 7, 0, 0).unwrap();
        let guard = DeletionGuard::new(1);
        assert_eq!(guard.permit("a", now), Ok(()));
        assert_eq!(guard.permit("b", now + Duration::seconds(61)), Ok(()));
    }
}
