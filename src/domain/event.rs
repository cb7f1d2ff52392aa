//! The ordered history every environment keeps (shown on its status page).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::names::EnvironmentId;

/// What happened to an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    Applied,
    Progressing,
    Healthy,
    Degraded,
    RetryScheduled,
    Failed,
    RedeployRequested,
    RetryRequested,
    Extended,
    /// Pinned against expiry, or let go again.
    Kept,
    Unkept,
    /// The merge request was told its environment expires soon.
    ExpiryWarned,
    /// Over a quota: in line for a slot.
    Queued,
    /// Given a slot under its quota: it starts now.
    Admitted,
    /// A maintainer approved a fork merge request's commit (`/blueberry approve`).
    ForkApproved,
    /// A fork merge request got new commits: not deployed until approved again.
    ApprovalNeeded,
    /// Put to sleep (scaled to zero), or woken.
    Slept,
    Woke,
    TeardownRequested,
    Terminated,
    /// A message sent (or, without GitLab configured, that would have been sent) to GitLab.
    Notification,
}

/// An event about to be recorded; the store assigns its sequence number and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    pub kind: EventKind,
    /// Who or what caused it: a user, `gitlab:<username>`, `worker`, `reaper`.
    pub actor: String,
    pub message: String,
}

impl NewEvent {
    pub fn new(kind: EventKind, actor: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            actor: actor.into(),
            message: message.into(),
        }
    }
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnvironmentEvent {
    /// Position in the environment's history, from 1.
    pub seq: u64,
    #[schema(value_type = String)]
    pub environment_id: EnvironmentId,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub actor: String,
    pub message: String,
}
