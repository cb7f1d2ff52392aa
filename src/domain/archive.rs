//! An environment's archive: what is kept of it once the store lets it go. The record, its whole
//! history and what Argo CD last said, as one JSON object named after the environment and the
//! moment it was terminated.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{Environment, EnvironmentEvent, EnvironmentId, environment::ClusterObservation};

/// The archive format's version, written into every archive.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentArchive {
    pub format: u32,
    pub archived_at: DateTime<Utc>,
    pub environment: Environment,
    /// Every event, oldest first.
    pub events: Vec<EnvironmentEvent>,
    /// The Application's status as Argo CD last reported it (health, sync, message, resources).
    pub last_application_status: ClusterObservation,
}

impl EnvironmentArchive {
    /// The archive of a terminated environment; `None` while it is not terminated.
    pub fn of(
        environment: Environment,
        events: Vec<EnvironmentEvent>,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        environment.terminated_at?;
        Some(Self {
            format: FORMAT,
            archived_at: now,
            last_application_status: environment.observed.clone(),
            environment,
            events,
        })
    }

    /// `environments/{id}/{terminated_at}.json`.
    pub fn object_name(&self) -> String {
        let terminated = self
            .environment
            .terminated_at
            .unwrap_or(self.environment.updated_at);
        format!(
            "{}{}.json",
            prefix(&self.environment.id),
            terminated.to_rfc3339_opts(SecondsFormat::Micros, true)
        )
    }
}

/// Where an environment's archives live: `environments/{id}/`.
pub fn prefix(id: &EnvironmentId) -> String {
    format!("environments/{id}/")
}

/// The object naming an environment's newest archive (reads need no listing).
pub fn latest_pointer(id: &EnvironmentId) -> String {
    format!("{}latest", prefix(id))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::environment::tests::sample;

    #[test]
    fn only_terminated_environments_have_an_archive_named_after_their_end() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 6, 0, 0).unwrap();
        let mut env = sample(now);
        assert!(EnvironmentArchive::of(env.clone(), vec![], now).is_none());
        env.terminated_at = Some(Utc.with_ymd_and_hms(2026, 12, 2, 18, 30, 5).unwrap());
        let archive = EnvironmentArchive::of(env.clone(), vec![], now).unwrap();
        assert_eq!(
            archive.object_name(),
            "environments/pr-7-shop/2026-12-02T18:30:05.000000Z.json"
        );
        assert_eq!(archive.last_application_status, env.observed);
        assert_eq!(latest_pointer(&env.id), "environments/pr-7-shop/latest");
        let back: EnvironmentArchive =
            serde_json::from_slice(&serde_json::to_vec(&archive).unwrap()).unwrap();
        assert_eq!(back, archive);
    }
}
