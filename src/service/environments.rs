//! Environment use cases: read, list, redeploy, retry, extend here; create (`create.rs`), tear
//! down (`teardown.rs`), keep, sleep and a fork's approval beside them. Each is one versioned
//! write whose reconcile (and GitLab feedback) commits with it; the controller does the rest.
//!
//! Long on purpose: the shared write helpers (`update_once`, `ensure_live`) sit with the use cases
//! that use them most.

pub mod cost;
mod create;
mod expiry;
mod fork;
mod keep;
mod sleep;
mod teardown;

pub use create::CreateEnvironment;
pub use keep::KeepBy;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{
    Ports, ServiceError, Settings,
    directory::ProjectDirectory,
    writes::{Change, Trigger, Writer},
};
use crate::{
    domain::{
        CommitSha, Environment, EnvironmentEvent, EventKind, LifecycleJob, NewEvent, Status,
        TtlHours, ttl::extended_expiry,
    },
    metrics::Metrics,
    ports::{EnvironmentFilter, Page, PageRequest},
};

/// A change asked for by a GitLab comment: it takes effect once per note id, and its reply
/// commits with it.
pub struct Once<'a> {
    pub note_id: u64,
    /// The reply to post, from the environment as changed.
    pub reply: &'a (dyn Fn(&Environment) -> LifecycleJob + Send + Sync),
}

impl<'a> Once<'a> {
    pub fn new(
        note_id: u64,
        reply: &'a (dyn Fn(&Environment) -> LifecycleJob + Send + Sync),
    ) -> Self {
        Self { note_id, reply }
    }
}

/// What a change asked for by a comment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Now,
    /// The same note was applied before (a redelivery): nothing was done again.
    Already,
}

#[derive(Clone)]
pub struct EnvironmentService {
    writer: Writer,
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    directory: Arc<ProjectDirectory>,
}

/// Applies `once` around a change: skips it when the note was applied, records the note and
/// adds the reply otherwise.
fn with_once(
    env: &mut Environment,
    once: Option<&Once<'_>>,
    applied: &mut Applied,
    change: impl FnOnce(&mut Environment) -> Result<Option<Change>, ServiceError>,
) -> Result<Option<Change>, ServiceError> {
    if let Some(o) = once
        && env.applied_note(o.note_id)
    {
        *applied = Applied::Already;
        return Ok(None);
    }
    *applied = Applied::Now;
    let Some(mut c) = change(env)? else {
        return Ok(None);
    };
    if let Some(o) = once {
        env.record_note(o.note_id);
        c.jobs.push((o.reply)(env));
    }
    Ok(Some(c))
}

/// Refuses a change to an environment that is not live (pending, ready or failed): "cannot be
/// `what`".
fn ensure_live(env: &Environment, what: &str) -> Result<(), ServiceError> {
    if matches!(env.status, Status::Pending | Status::Ready | Status::Failed) {
        return Ok(());
    }
    Err(ServiceError::Conflict(format!(
        "environment `{}` is {} and cannot be {what}",
        env.id, env.status
    )))
}

impl EnvironmentService {
    /// One versioned write of a command that may come from a merge request note: `change`
    /// runs unless `once`'s note was applied already; the answer says which.
    async fn update_once(
        &self,
        id: &str,
        trigger: Trigger,
        once: Option<&Once<'_>>,
        mut change: impl FnMut(&mut Environment) -> Result<Option<Change>, ServiceError>,
    ) -> Result<(Environment, Applied), ServiceError> {
        let mut applied = Applied::Now;
        let env = self
            .writer
            .update(id, trigger, |env| {
                with_once(env, once, &mut applied, &mut change)
            })
            .await?;
        Ok((env, applied))
    }

    pub fn new(
        ports: Ports,
        settings: Arc<Settings>,
        metrics: Arc<Metrics>,
        directory: Arc<ProjectDirectory>,
    ) -> Self {
        Self {
            writer: Writer::new(ports, settings.note_window),
            settings,
            metrics,
            directory,
        }
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    fn now(&self) -> DateTime<Utc> {
        self.writer.ports.clock.now()
    }

    /// Finds an environment by id; ids that are not DNS labels cannot exist.
    pub async fn get(&self, id: &str) -> Result<Environment, ServiceError> {
        self.writer.get(id).await
    }

    pub async fn list(
        &self,
        filter: &EnvironmentFilter,
        page: &PageRequest,
    ) -> Result<Page<Environment>, ServiceError> {
        Ok(self
            .writer
            .ports
            .environments
            .list_environments(filter, page)
            .await?)
    }

    /// The environment's history, oldest first.
    pub async fn events(&self, id: &str) -> Result<Vec<EnvironmentEvent>, ServiceError> {
        let env = self.get(id).await?;
        Ok(self
            .writer
            .ports
            .environments
            .list_events(&env.id, 0, 10_000)
            .await?)
    }

    /// Starts a new deployment, at `sha` when given (new commits), else at the same revision.
    pub async fn redeploy(
        &self,
        id: &str,
        sha: Option<CommitSha>,
        actor: &str,
    ) -> Result<Environment, ServiceError> {
        Ok(self.redeploy_with(id, sha, actor, None).await?.0)
    }

    /// [`Self::redeploy`], once per GitLab note when `once` is given.
    pub async fn redeploy_with(
        &self,
        id: &str,
        sha: Option<CommitSha>,
        actor: &str,
        once: Option<&Once<'_>>,
    ) -> Result<(Environment, Applied), ServiceError> {
        let now = self.now();
        self.update_once(id, Trigger::Reconcile, once, |env| {
            ensure_live(env, "redeployed")?;
            if let Some(sha) = &sha {
                env.sha = Some(sha.clone());
                // New commits are activity: a whole lifetime from now at the soonest.
                env.live_a_lifetime_from(now);
            }
            let message = format!("redeploy of {} requested by {actor}", env.target_revision());
            env.start_deployment(message.clone(), now)
                .map_err(|e| ServiceError::Conflict(e.to_string()))?;
            Ok(Change::event(NewEvent::new(
                EventKind::RedeployRequested,
                actor,
                message,
            )))
        })
        .await
    }

    /// Moves a merge request's environment to `sha` unless it is there already, so that the
    /// same push delivered twice deploys once.
    pub async fn follow_head(
        &self,
        id: &str,
        sha: CommitSha,
        actor: &str,
    ) -> Result<Environment, ServiceError> {
        let current = self.get(id).await?;
        if current.sha.as_ref() == Some(&sha) {
            return Ok(current);
        }
        self.redeploy(id, Some(sha), actor).await
    }

    /// Starts over after a failure: failed → pending with a fresh set of attempts.
    pub async fn retry(&self, id: &str, actor: &str) -> Result<Environment, ServiceError> {
        let now = self.now();
        self.writer
            .update(id, Trigger::Reconcile, |env| {
                if env.status != Status::Failed {
                    return Err(ServiceError::Conflict(format!(
                        "only failed environments can be retried; `{}` is {}",
                        env.id, env.status
                    )));
                }
                env.start_deployment(format!("retry requested by {actor}"), now)
                    .map_err(|e| ServiceError::Conflict(e.to_string()))?;
                Ok(Change::event(NewEvent::new(
                    EventKind::RetryRequested,
                    actor,
                    "retry requested",
                )))
            })
            .await
    }

    /// Pushes the expiry `hours` further out, never beyond one week from now.
    pub async fn extend(
        &self,
        id: &str,
        hours: i64,
        actor: &str,
    ) -> Result<Environment, ServiceError> {
        Ok(self.extend_with(id, hours, actor, None).await?.0)
    }

    /// [`Self::extend`], once per GitLab note when `once` is given.
    pub async fn extend_with(
        &self,
        id: &str,
        hours: i64,
        actor: &str,
        once: Option<&Once<'_>>,
    ) -> Result<(Environment, Applied), ServiceError> {
        let hours = TtlHours::new(hours).map_err(|e| ServiceError::invalid("hours", e))?;
        let now = self.now();
        let current = self.get(id).await?;
        let ports = &self.writer.ports;
        let ceiling = self
            .directory
            .repository(ports.catalog.as_ref(), &current.repository_id)
            .await?
            .and_then(|r| {
                r.lifetime
                    .max_ttl_hours
                    .map(|max| (r.name.to_string(), max))
            });
        self.update_once(id, Trigger::None, once, |env| {
            ensure_live(env, "extended")?;
            let extended = extended_expiry(env.expires_at, now, hours);
            if let Some((repo, max)) = &ceiling
                && extended > now + chrono::Duration::hours(i64::from(*max))
            {
                return Err(ServiceError::Conflict(format!(
                    "repository `{repo}` lets environments live at most {max} h from now; `{}` already expires at {}",
                    env.id,
                    env.expires_at.format("%Y-%m-%d %H:%M UTC")
                )));
            }
            env.expires_at = extended;
            env.active_at = Some(now);
            env.updated_at = now;
            let message = format!(
                "extended by {} h to {} by {actor}",
                hours.hours(),
                env.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
            Ok(Change::event(NewEvent::new(
                EventKind::Extended,
                actor,
                message,
            )))
        })
        .await
    }

    /// Read-modify-write for the controller and jobs (no reconcile queued with it).
    pub async fn update<F>(&self, id: &str, change: F) -> Result<Environment, ServiceError>
    where
        F: FnMut(&mut Environment) -> Result<Option<Change>, ServiceError>,
    {
        self.writer.update(id, Trigger::None, change).await
    }

    /// Queues a job that goes with no change.
    pub async fn enqueue(&self, job: &LifecycleJob) -> Result<(), ServiceError> {
        self.writer.enqueue(job).await
    }
}
