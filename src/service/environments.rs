//! Environment use cases: create, read, list, redeploy, retry, extend, tear down. Each is one
//! versioned write whose reconcile (and GitLab feedback) commits with it; the controller does
//! the rest.

pub mod cost;
mod expiry;
mod fork;
mod keep;
mod sleep;

pub use keep::KeepBy;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    Ports, ServiceError, Settings,
    directory::ProjectDirectory,
    writes::{Change, Trigger, Writer},
};
use crate::{
    domain::{
        BranchName, CommitSha, Environment, EnvironmentEvent, EnvironmentId, EnvironmentName,
        EventKind, HelmValuesOverride, LifecycleJob, MergeRequest, NewEnvironment, NewEvent,
        Status, TtlHours, overrides::OverrideError, ttl::extended_expiry,
    },
    metrics::Metrics,
    ports::{EnvironmentFilter, Page, PageRequest},
};

/// A create request as it arrives (API, UI or webhook); parsed by [`EnvironmentService::create`].
#[derive(Debug, Clone, Default)]
pub struct CreateEnvironment {
    pub name: String,
    pub repository_id: String,
    pub branch: Option<String>,
    pub config_set_id: Option<String>,
    pub ttl_hours: Option<i64>,
    pub helm_values_override: Option<Value>,
    pub sha: Option<String>,
    pub merge_request: Option<MergeRequest>,
    /// A fork merge request's maintainer approval of `sha`.
    pub fork: Option<crate::domain::environment::ForkApproval>,
}

/// A change asked for by a GitLab comment: it takes effect once per note id, and its reply
/// commits with it.
pub struct Once<'a> {
    pub note_id: u64,
    /// The reply to post, from the environment as changed.
    pub reply: &'a (dyn Fn(&Environment) -> LifecycleJob + Send + Sync),
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

impl EnvironmentService {
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

    /// Creates an environment (or brings a terminated one with the same id back); its first
    /// reconcile commits with it.
    #[tracing::instrument(skip_all, fields(name = %req.name, repository_id = %req.repository_id))]
    pub async fn create(
        &self,
        req: CreateEnvironment,
        actor: &str,
    ) -> Result<Environment, ServiceError> {
        let fork = req.fork.clone();
        let (repo, id) = self.parse(req).await?;
        let now = self.now();
        let message = |env: &Environment| {
            format!(
                "created by {actor} for {} at {}",
                repo.path_with_namespace,
                env.target_revision()
            )
        };
        // Most creates are of a new id: try that first, read only when the id is taken.
        let mut fresh = Environment::create(id.id.clone(), id.new.clone(), now);
        fresh.fork = fork.clone();
        self.line_up_if_capped(&repo, &mut fresh, now);
        let events = |env: &Environment| {
            let mut events = vec![NewEvent::new(EventKind::Created, actor, message(env))];
            if let Some(f) = &env.fork {
                events.push(NewEvent::new(
                    EventKind::ForkApproved,
                    actor,
                    format!("{} approved `{}` from a fork", f.by, f.sha.short()),
                ));
            }
            events
        };
        match self
            .writer
            .save(&fresh, &events(&fresh), Trigger::Reconcile, &[])
            .await
        {
            Ok(env) => {
                self.metrics.environments_created.inc();
                return Ok(env);
            }
            Err(ServiceError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        // The id is taken: bring a terminated record back. Another writer (GitLab feedback,
        // the archive) may get there between the read and the write: read again, never give up
        // on a lost race (it is not a refusal).
        let store = &self.writer.ports.store;
        for _ in 0..super::writes::MAX_WRITE_RETRIES {
            let env = match store.get_environment(&id.id).await? {
                None => {
                    let mut env = Environment::create(id.id.clone(), id.new.clone(), now);
                    env.fork = fork.clone();
                    self.line_up_if_capped(&repo, &mut env, now);
                    env
                }
                Some(existing)
                    if existing.repository_id != id.new.repository_id
                        || existing.name != id.new.name =>
                {
                    return Err(ServiceError::Conflict(format!(
                        "environment id `{}` is already used by another repository's environment; choose another name",
                        id.id
                    )));
                }
                Some(existing) if existing.status.is_live() => {
                    return Err(ServiceError::Conflict(format!(
                        "environment `{}` already exists in repository `{}` (status {})",
                        existing.name, repo.name, existing.status
                    )));
                }
                Some(mut existing) => {
                    existing
                        .recreate(id.new.clone(), now)
                        .map_err(|e| ServiceError::Conflict(e.to_string()))?;
                    existing.fork = fork.clone();
                    self.line_up_if_capped(&repo, &mut existing, now);
                    existing
                }
            };
            match self
                .writer
                .save(&env, &events(&env), Trigger::Reconcile, &[])
                .await
            {
                Ok(env) => {
                    self.metrics.environments_created.inc();
                    return Ok(env);
                }
                Err(ServiceError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ServiceError::Contention(format!(
            "environment `{}` is changing too quickly; try again",
            id.id
        )))
    }

    /// Under a quota (the repository's `max_environments` or `--max-environments`), a new
    /// environment starts in line; the controller admits it when a slot is free.
    fn line_up_if_capped(
        &self,
        repo: &crate::domain::Repository,
        env: &mut Environment,
        now: DateTime<Utc>,
    ) {
        if repo.max_environments.is_some() || self.settings.max_environments.is_some() {
            let waiting = crate::domain::quota::Waiting::new(now);
            env.status_message = Some(waiting.describe());
            env.waiting = Some(waiting);
        }
    }

    /// Validates a create request against the catalog.
    async fn parse(
        &self,
        req: CreateEnvironment,
    ) -> Result<(Arc<crate::domain::Repository>, Parsed), ServiceError> {
        let name = EnvironmentName::parse(req.name.as_str())
            .map_err(|e| ServiceError::invalid("name", e))?;
        let branch = BranchName::parse(req.branch.unwrap_or_else(|| "main".to_owned()))
            .map_err(|e| ServiceError::invalid("branch", e))?;
        let asked_ttl = req
            .ttl_hours
            .map(|h| TtlHours::new(h).map_err(|e| ServiceError::invalid("ttl_hours", e)))
            .transpose()?;
        let helm_values_override = req
            .helm_values_override
            .map(HelmValuesOverride::parse)
            .transpose()
            .map_err(override_error)?;
        let sha = req
            .sha
            .map(CommitSha::parse)
            .transpose()
            .map_err(|e| ServiceError::invalid("sha", e))?;
        if req.repository_id.is_empty() {
            return Err(ServiceError::invalid("repository_id", "must not be empty"));
        }
        let store = self.writer.ports.store.as_ref();
        let repo = self
            .directory
            .repository(store, &req.repository_id)
            .await?
            .ok_or_else(|| {
                ServiceError::dangling(
                    "repository_id",
                    format!("no repository with id `{}`", req.repository_id),
                )
            })?;
        let lifetime = &repo.lifetime;
        let ttl_hours = match asked_ttl {
            Some(ttl) => {
                if let Some(max) = lifetime.max_ttl_hours
                    && ttl.hours() > max
                {
                    return Err(ServiceError::invalid(
                        "ttl_hours",
                        format!(
                            "repository `{}` lets environments live at most {max} h, not {} h",
                            repo.name,
                            ttl.hours()
                        ),
                    ));
                }
                ttl
            }
            None => lifetime
                .default_ttl_hours
                .and_then(|h| TtlHours::new(i64::from(h)).ok())
                .unwrap_or(self.settings.default_ttl),
        };
        let Some(config_set_id) = req.config_set_id.or_else(|| repo.config_set_id.clone()) else {
            return Err(ServiceError::invalid(
                "config_set_id",
                format!(
                    "repository `{}` has no default config set; name one",
                    repo.name
                ),
            ));
        };
        if self
            .directory
            .config_set(store, &config_set_id)
            .await?
            .is_none()
        {
            return Err(ServiceError::dangling(
                "config_set_id",
                format!("no config set with id `{config_set_id}`"),
            ));
        }
        let id = EnvironmentId::derive(&name, &repo.name);
        let new = NewEnvironment {
            name,
            repository_id: repo.id.clone(),
            config_set_id: Some(config_set_id),
            branch,
            sha,
            merge_request: req.merge_request,
            ttl_hours,
            helm_values_override,
        };
        Ok((repo, Parsed { id, new }))
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
            .store
            .list_environments(filter, page)
            .await?)
    }

    /// The environment's history, oldest first.
    pub async fn events(&self, id: &str) -> Result<Vec<EnvironmentEvent>, ServiceError> {
        let env = self.get(id).await?;
        Ok(self
            .writer
            .ports
            .store
            .list_events(&env.id, 0, 10_000)
            .await?)
    }

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
        let mut applied = Applied::Now;
        let env = self
            .writer
            .update(id, Trigger::Reconcile, |env| {
                with_once(env, once, &mut applied, |env| match env.status {
                    Status::Deleting => Ok(None),
                    Status::Terminated => Err(ServiceError::Conflict(format!(
                        "environment `{}` is already terminated",
                        env.id
                    ))),
                    _ => {
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
                })
            })
            .await?;
        Ok((env, applied))
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
                env.transition(
                    Status::Deleting,
                    Some(format!("teardown requested: {reason}")),
                    now,
                )
                .map_err(|e| ServiceError::Conflict(e.to_string()))?;
                Ok(Change::event(NewEvent::new(
                    EventKind::TeardownRequested,
                    "reaper",
                    format!("{reason} (requested by reaper)"),
                )))
            })
            .await?;
        Ok(expired.then_some(env))
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
        let mut applied = Applied::Now;
        let env = self
            .writer
            .update(id, Trigger::Reconcile, |env| {
                with_once(env, once, &mut applied, |env| {
                    if !matches!(env.status, Status::Pending | Status::Ready | Status::Failed) {
                        return Err(ServiceError::Conflict(format!(
                            "environment `{}` is {} and cannot be redeployed",
                            env.id, env.status
                        )));
                    }
                    if let Some(sha) = &sha {
                        env.sha = Some(sha.clone());
                        // New commits are activity: a whole lifetime from now at the soonest.
                        env.live_a_lifetime_from(now);
                    }
                    let message =
                        format!("redeploy of {} requested by {actor}", env.target_revision());
                    env.start_deployment(message.clone(), now)
                        .map_err(|e| ServiceError::Conflict(e.to_string()))?;
                    Ok(Change::event(NewEvent::new(
                        EventKind::RedeployRequested,
                        actor,
                        message,
                    )))
                })
            })
            .await?;
        Ok((env, applied))
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
        let store = self.writer.ports.store.as_ref();
        let ceiling = self
            .directory
            .repository(store, &current.repository_id)
            .await?
            .and_then(|r| {
                r.lifetime
                    .max_ttl_hours
                    .map(|max| (r.name.to_string(), max))
            });
        let mut applied = Applied::Now;
        let env = self
            .writer
            .update(id, Trigger::None, |env| {
                with_once(env, once, &mut applied, |env| {
                    if !matches!(env.status, Status::Pending | Status::Ready | Status::Failed) {
                        return Err(ServiceError::Conflict(format!(
                            "environment `{}` is {} and cannot be extended",
                            env.id, env.status
                        )));
                    }
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
            })
            .await?;
        Ok((env, applied))
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

/// A create request after validation.
struct Parsed {
    id: EnvironmentId,
    new: NewEnvironment,
}

fn override_error(e: OverrideError) -> ServiceError {
    let field = match &e {
        OverrideError::ForbiddenKey(path) | OverrideError::PlatformOwned(path) => {
            format!("helm_values_override.{path}")
        }
        _ => "helm_values_override".to_owned(),
    };
    ServiceError::invalid(field, e)
}
