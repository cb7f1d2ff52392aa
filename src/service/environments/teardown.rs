//! Teardown: asked for (API, UI, a command, a closed merge request) or by expiry. Either is
//! one versioned write to `deleting`; the controller deletes the Application.

use chrono::{DateTime, Utc};

use super::{Applied, EnvironmentService, Once};
use crate::{
    domain::{Environment, EventKind, NewEvent, Status},
    service::{
        ServiceError,
        writes::{Change, Trigger},
    },
};

impl EnvironmentService {
    /// Marks the environment `deleting`; the controller deletes its Application. Idempotent
    /// while deleting.
    pub async fn request_teardown(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Environment, ServiceError> {
        Ok(self.request_teardown_with(id, actor, reason, None).await?.0)
    }

    /// [`Self::request_teardown`], once per GitLab note when `once` is given.
    pub async fn request_teardown_with(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
        once: Option<&Once<'_>>,
    ) -> Result<(Environment, Applied), ServiceError> {
        let now = self.now();
        self.update_once(id, Trigger::Reconcile, once, |env| match env.status {
            Status::Deleting => Ok(None),
            Status::Terminated => Err(ServiceError::Conflict(format!(
                "environment `{}` is already terminated",
                env.id
            ))),
            _ => start_teardown(env, reason, actor, now),
        })
        .await
    }

    /// Starts the teardown if the environment is past its expiry, checked inside the write so
    /// that an extension a moment earlier always wins. None when it is not expired (any more).
    pub async fn expire_if_due(&self, id: &str) -> Result<Option<Environment>, ServiceError> {
        let now = self.now();
        let mut expired = false;
        let env = self
            .writer
            .update(id, Trigger::None, |env| {
                expired = env.is_expired(now);
                if !expired {
                    return Ok(None);
                }
                let reason = format!("expired after its {} h lifetime", env.ttl_hours.hours());
                start_teardown(env, &reason, "reaper", now)
            })
            .await?;
        Ok(expired.then_some(env))
    }
}

/// Moves `env` to deleting, for `reason`, asked by `actor`.
fn start_teardown(
    env: &mut Environment,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<Change>, ServiceError> {
    env.transition(
        Status::Deleting,
        Some(format!("teardown requested: {reason}")),
        now,
    )
    .map_err(|e| ServiceError::Conflict(e.to_string()))?;
    Ok(Change::event(NewEvent::new(
        EventKind::TeardownRequested,
        actor,
        format!("{reason} (requested by {actor})"),
    )))
}
