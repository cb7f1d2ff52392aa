//! At most `--max-deletions-per-minute` teardowns on Blueberry's own initiative (expiry): above
//! that it stops starting them, logs, counts `blueberry_deletions_held_total`, shows a banner in
//! the UI and waits until an admin confirms (`POST /api/deletions/confirm`). Teardowns people ask
//! for (closing a merge request, `/blueberry destroy`, the API's delete) are never held.
//! The brake is one shared document (`ports::Shared`), so the limit counts the teardowns of every
//! worker replica and an admin's confirmation on any API replica releases them all.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ServiceError;
use crate::ports::Shared;

/// The shared document's name.
const DOCUMENT: &str = "deletion-brake";
/// Writers racing for the document try this often before giving up for this pass.
const MAX_TRIES: usize = 8;
/// How long a page's banner may show a status read earlier.
const STATUS_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// The brake: the teardowns of the last minute, and what waits for an admin. Pure; stored as
/// one shared document.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Brake {
    /// When the teardowns of the last minute started.
    recent: VecDeque<DateTime<Utc>>,
    /// Since when teardowns are held, waiting for an admin.
    paused_since: Option<DateTime<Utc>>,
    held: BTreeSet<String>,
    /// Held ones an admin let go.
    approved: BTreeSet<String>,
}

/// What asking for a teardown decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    Go,
    /// Held: this teardown was the first over the limit and paused the others.
    PausedNow,
    /// Held: teardowns were already paused.
    Held,
}

impl Brake {
    /// Whether the expiry teardown of `id` may start at `now`, counting it if so.
    pub fn permit(&mut self, id: &str, now: DateTime<Utc>, limit: u32) -> Permit {
        if self.approved.remove(id) {
            return Permit::Go;
        }
        if self.paused_since.is_some() {
            self.held.insert(id.to_owned());
            return Permit::Held;
        }
        while self
            .recent
            .front()
            .is_some_and(|t| *t <= now - Duration::minutes(1))
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= limit as usize {
            self.paused_since = Some(now);
            self.held.insert(id.to_owned());
            return Permit::PausedNow;
        }
        self.recent.push_back(now);
        Permit::Go
    }

    /// An admin confirms: the held teardowns go ahead, and the limit counts afresh. Returns
    /// the ones let go.
    pub fn confirm(&mut self) -> Vec<String> {
        let held: Vec<String> = std::mem::take(&mut self.held).into_iter().collect();
        self.approved.extend(held.iter().cloned());
        self.paused_since = None;
        self.recent.clear();
        held
    }

    fn status(&self, now: DateTime<Utc>, limit: u32) -> DeletionsStatus {
        DeletionsStatus {
            max_per_minute: limit,
            in_last_minute: self
                .recent
                .iter()
                .filter(|t| **t > now - Duration::minutes(1))
                .count(),
            paused_since: self.paused_since,
            held: self.held.iter().cloned().collect(),
        }
    }
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

/// The brake, kept in the shared document.
pub struct DeletionGuard {
    limit: u32,
    shared: Arc<dyn Shared>,
    /// The brake as last read or written here, for the UI's banner.
    seen: Mutex<Option<(Brake, Instant)>>,
}

impl DeletionGuard {
    pub fn new(limit: u32, shared: Arc<dyn Shared>) -> Self {
        Self {
            limit,
            shared,
            seen: Mutex::default(),
        }
    }

    async fn read(&self) -> Result<(Brake, u64), ServiceError> {
        let (doc, version) = self.shared.read(DOCUMENT).await?;
        let brake = match doc {
            Some(v) => serde_json::from_value(v).map_err(|e| {
                ServiceError::Internal(anyhow::anyhow!("the shared deletion brake: {e}"))
            })?,
            None => Brake::default(),
        };
        self.remember(&brake);
        Ok((brake, version))
    }

    fn remember(&self, brake: &Brake) {
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((brake.clone(), Instant::now()));
    }

    /// Changes the shared brake with `f`, retrying when another replica wrote in between.
    async fn change<T>(&self, mut f: impl FnMut(&mut Brake) -> T) -> Result<T, ServiceError> {
        for _ in 0..MAX_TRIES {
            let (mut brake, version) = self.read().await?;
            let out = f(&mut brake);
            let value = serde_json::to_value(&brake).expect("the brake serializes");
            if self.shared.write(DOCUMENT, &value, version).await? {
                self.remember(&brake);
                return Ok(out);
            }
        }
        Err(ServiceError::Contention(
            "the deletion brake is changing too quickly; try again".into(),
        ))
    }

    /// Whether the expiry teardown of `id` may start now.
    pub async fn permit(&self, id: &str, now: DateTime<Utc>) -> Result<Permit, ServiceError> {
        let limit = self.limit;
        self.change(|b| b.permit(id, now, limit)).await
    }

    pub async fn status(&self, now: DateTime<Utc>) -> Result<DeletionsStatus, ServiceError> {
        Ok(self.read().await?.0.status(now, self.limit))
    }

    /// How many teardowns wait for an admin, when any do: for the UI's banner, read again at
    /// most once a second; `None` when the brake cannot be read (the page still renders).
    pub async fn held_for_banner(&self) -> Option<usize> {
        let fresh = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(_, at)| at.elapsed() < STATUS_FRESH)
            .map(|(b, _)| b.clone());
        let brake = match fresh {
            Some(b) => b,
            None => match self.read().await {
                Ok((b, _)) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the deletion brake for the banner");
                    return None;
                }
            },
        };
        brake.paused_since.map(|_| brake.held.len())
    }

    /// An admin confirms: the held teardowns go ahead, and the limit counts afresh.
    pub async fn confirm(&self) -> Result<Vec<String>, ServiceError> {
        self.change(Brake::confirm).await
    }
}

/// `actor` lets the held expiry teardowns go: released, audited and logged.
pub async fn confirm_by(ctx: &super::Context, actor: &str) -> Result<Vec<String>, ServiceError> {
    let released = ctx.deletions.confirm().await?;
    ctx.catalog
        .audit(
            actor,
            "deletions.confirm",
            "expiry-teardowns",
            format!(
                "let {} held teardowns go: {}",
                released.len(),
                released.join(", ")
            ),
        )
        .await?;
    tracing::warn!(by = %actor, count = released.len(), "held expiry teardowns confirmed");
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn over_the_limit_teardowns_wait_for_an_admin() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 7, 0, 0).unwrap();
        let mut brake = Brake::default();
        assert_eq!(brake.permit("a", now, 2), Permit::Go);
        assert_eq!(brake.permit("b", now, 2), Permit::Go);
        assert_eq!(
            brake.permit("c", now, 2),
            Permit::PausedNow,
            "the third pauses"
        );
        assert_eq!(brake.permit("d", now, 2), Permit::Held);
        // Even a minute later: paused until confirmed.
        let later = now + Duration::minutes(5);
        assert_eq!(brake.permit("e", later, 2), Permit::Held);
        let status = brake.status(later, 2);
        assert_eq!(status.held, ["c", "d", "e"]);
        assert_eq!(status.paused_since, Some(now));
        assert_eq!(brake.confirm(), ["c", "d", "e"]);
        for id in ["c", "d", "e"] {
            assert_eq!(brake.permit(id, later, 2), Permit::Go, "{id} was let go");
        }
        assert_eq!(brake.permit("f", later, 2), Permit::Go);
        assert_eq!(brake.permit("g", later, 2), Permit::Go);
        assert_eq!(
            brake.permit("h", later, 2),
            Permit::PausedNow,
            "the limit counts afresh"
        );
    }

    #[test]
    fn a_minute_later_the_budget_is_back() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 7, 0, 0).unwrap();
        let mut brake = Brake::default();
        assert_eq!(brake.permit("a", now, 1), Permit::Go);
        assert_eq!(
            brake.permit("b", now + Duration::seconds(61), 1),
            Permit::Go
        );
    }

    #[test]
    fn the_brake_survives_its_round_trip_through_the_shared_document() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 7, 0, 0).unwrap();
        let mut brake = Brake::default();
        brake.permit("a", now, 1);
        brake.permit("b", now, 1);
        let back: Brake = serde_json::from_value(serde_json::to_value(&brake).unwrap()).unwrap();
        assert_eq!(back, brake);
    }
}
