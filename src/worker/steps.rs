//! The steps the controller performs, each one short: one cluster call or one versioned write.
//! Every write checks that the record is still at the deployment the step was decided for, so
//! a step decided on an older record does nothing.

use std::time::Duration;

use super::observer::Observer;
use crate::domain::{argo::ObservedResource, schedule::BY_SCHEDULE};
use crate::{
    domain::quota::Admission,
    domain::{
        Environment, EventKind, NewEvent, Rollout, Status,
        lifecycle::{Step, next_attempt_delay},
        manifest::build_application,
    },
    ports::cluster::ClusterError,
    service::{Context, ServiceError, deletions::Permit, quotas, writes::Change},
};

/// What a reconcile asks of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Look again after this long (or sooner, when something triggers it).
    RequeueAfter(Duration),
    /// Nothing to look at until something changes.
    AwaitChange,
}

/// Why a reconcile could not finish; it is retried with a per-environment back-off and never
/// consumes a provisioning attempt.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the cluster: {0}")]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// What a step works with: the process's context, the shared watch cache and this process as
/// a holder of leases.
pub struct Scope<'a> {
    pub ctx: &'a Context,
    pub observer: &'a Observer,
    pub holder: &'a str,
}

/// How often to look at an Application whose deletion was started.
const DELETE_POLL: Duration = Duration::from_secs(5);
/// How soon a held expiry teardown looks again (the reaper also triggers it).
const HELD_RECHECK: Duration = Duration::from_secs(30);

/// Whether another attempt could help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Try again after a growing delay, unless this was the last attempt.
    Retriable,
    /// No attempt can succeed (e.g. the repository was disconnected): fail now.
    Permanent,
}

fn same_attempt(e: &Environment, decided_on: &Environment) -> bool {
    e.status == Status::Pending
        && e.generation == decided_on.generation
        && e.attempt == decided_on.attempt
}

fn until(c: &Scope<'_>, t: Option<chrono::DateTime<chrono::Utc>>) -> Duration {
    let now = c.ctx.ports.clock.now();
    t.and_then(|t| (t - now).to_std().ok())
        .unwrap_or(Duration::ZERO)
        .min(c.ctx.settings.lifecycle.resync)
}

/// Performs `step` for `env`; `resources` are the Application's managed resources as last
/// reported, kept on the record by the steps that record what Argo CD says.
pub async fn perform(
    c: &Scope<'_>,
    env: &Environment,
    step: Step,
    resources: Vec<ObservedResource>,
) -> Result<Action, ReconcileError> {
    match step {
        Step::Admit => admit(c, env).await,
        Step::SleepIdle => sleep_or_wake(c, env, true, "idle").await,
        Step::SleepOnSchedule => sleep_or_wake(c, env, true, BY_SCHEDULE).await,
        Step::WakeOnSchedule => sleep_or_wake(c, env, false, BY_SCHEDULE).await,
        Step::Apply => apply(c, env).await,
        Step::MarkReady { revision } => mark_ready(c, env, &revision, resources).await,
        Step::AttemptFailed { reason } => {
            attempt_failed(c, env, &reason, Failure::Retriable, resources).await
        }
        Step::Observe {
            health,
            sync,
            message,
        } => observe(c, env, &health, &sync, &message, resources).await,
        Step::Redeploy { reason } => {
            tracing::warn!(env_id = %env.id, reason, "redeploying");
            match c
                .ctx
                .environments
                .redeploy(env.id.as_str(), None, "reconciler")
                .await
            {
                Ok(_) | Err(ServiceError::Conflict(_)) => Ok(Action::RequeueAfter(Duration::ZERO)),
                Err(e) => Err(e.into()),
            }
        }
        Step::WarnExpiry { hours } => {
            let repo = c
                .ctx
                .directory
                .repository(c.ctx.ports.store.as_ref(), &env.repository_id)
                .await
                .map_err(ServiceError::from)?;
            if let Some(repo) = repo {
                c.ctx
                    .environments
                    .warn_expiry(env.id.as_str(), hours, repo.gitlab_project_id)
                    .await?;
            }
            Ok(Action::RequeueAfter(Duration::ZERO))
        }
        Step::Expire => {
            let now = c.ctx.ports.clock.now();
            let permit = c.ctx.deletions.permit(env.id.as_str(), now).await?;
            if permit != Permit::Go {
                c.ctx.metrics.deletions_held.inc();
                if permit == Permit::PausedNow {
                    tracing::error!(
                        limit = c.ctx.settings.max_deletions_per_minute,
                        "more expiry teardowns than --max-deletions-per-minute: holding them until an admin confirms (POST /api/deletions/confirm)"
                    );
                }
                // The reaper triggers it again; an admin's confirmation lets it go.
                return Ok(Action::RequeueAfter(HELD_RECHECK));
            }
            c.ctx.environments.expire_if_due(env.id.as_str()).await?;
            Ok(Action::RequeueAfter(Duration::ZERO))
        }
        Step::Delete => {
            let name = env.id.application_name();
            tracing::info!(application = %name, status = %env.status, "deleting the Application");
            c.ctx.ports.cluster.delete(&name).await?;
            Ok(Action::RequeueAfter(DELETE_POLL))
        }
        Step::Terminate => terminate(c, env).await,
        Step::Wait(d) => Ok(Action::RequeueAfter(d)),
        Step::Idle => Ok(Action::AwaitChange),
    }
}

/// How soon an environment in line looks again when another admission is being decided.
const ADMISSION_BUSY: Duration = Duration::from_millis(200);

async fn admit(c: &Scope<'_>, env: &Environment) -> Result<Action, ReconcileError> {
    match quotas::admit(c.ctx, env, c.holder).await? {
        None => Ok(Action::RequeueAfter(ADMISSION_BUSY)),
        Some(Admission::Admit) => Ok(Action::RequeueAfter(Duration::ZERO)),
        // A slot freeing up wakes the line; the resync looks again in any case.
        Some(_) => Ok(Action::RequeueAfter(until(c, Some(env.expires_at)))),
    }
}

async fn apply(c: &Scope<'_>, env: &Environment) -> Result<Action, ReconcileError> {
    let store = c.ctx.ports.store.as_ref();
    let directory = &c.ctx.directory;
    let Some(repo) = directory
        .repository(store, &env.repository_id)
        .await
        .map_err(ServiceError::from)?
    else {
        return attempt_failed(
            c,
            env,
            "its repository was disconnected",
            Failure::Permanent,
            env.observed.resources.clone(),
        )
        .await;
    };
    let config_set_id = env
        .config_set_id
        .clone()
        .or_else(|| repo.config_set_id.clone())
        .unwrap_or_default();
    let Some(config_set) = directory
        .config_set(store, &config_set_id)
        .await
        .map_err(ServiceError::from)?
    else {
        let kept = env.observed.resources.clone();
        return attempt_failed(
            c,
            env,
            "its config set was deleted",
            Failure::Permanent,
            kept,
        )
        .await;
    };
    let app = build_application(env, &repo, &config_set, &c.ctx.settings.manifest);
    // What it requests while awake, for its cost.
    let requests = app
        .spec
        .source
        .helm
        .as_ref()
        .and_then(|h| h.values_object.clone())
        .map(|v| crate::domain::cost::requests_of(&serde_json::Value::Object(v)))
        .unwrap_or_default();
    let applied = match c.ctx.ports.cluster.apply(&app).await {
        Ok(a) => a,
        // Transient: retried with back-off, no attempt used.
        Err(e) if e.is_retriable() => return Err(e.into()),
        Err(e) => {
            let reason = format!("the cluster refused the Application: {e}");
            let kept = env.observed.resources.clone();
            return attempt_failed(c, env, &reason, Failure::Retriable, kept).await;
        }
    };
    c.observer.record(applied);
    let (id, attempt) = (env.deployment_id(), env.attempt);
    let now = c.ctx.ports.clock.now();
    let timeout = c.ctx.settings.lifecycle.provision_timeout;
    let message = format!(
        "Application {} applied at {}; waiting for Argo CD",
        app.name(),
        app.spec.source.target_revision
    );
    let mut closed = None;
    c.ctx
        .environments
        .update(env.id.as_str(), |e| {
            closed = None;
            if !same_attempt(e, env) || e.rollout.applied.as_deref() == Some(id.as_str()) {
                return Ok(None);
            }
            e.rollout = Rollout {
                applied: Some(id.clone()),
                applied_at: Some(now),
                deadline: Some(now + chrono::Duration::from_std(timeout).unwrap_or_default()),
                not_before: None,
            };
            e.status_message = Some(message.clone());
            e.updated_at = now;
            let asleep = e.asleep.is_some();
            match &mut e.meter {
                None => e.meter = Some(crate::domain::cost::Meter::start(requests, now)),
                Some(m) if m.requests != requests => {
                    let before = m.clone();
                    m.close(now, asleep);
                    closed = Some((before, m.clone()));
                    m.requests = requests;
                }
                Some(_) => {}
            }
            Ok(Change::event(NewEvent::new(
                EventKind::Applied,
                "worker",
                format!("attempt {attempt}: {message}"),
            )))
        })
        .await?;
    if let Some((before, after)) = closed {
        let rates = &c.ctx.settings.cost_rates;
        c.ctx.metrics.meter_closed(&before, &after, rates);
    }
    Ok(Action::RequeueAfter(timeout))
}

async fn mark_ready(
    c: &Scope<'_>,
    env: &Environment,
    revision: &str,
    resources: Vec<ObservedResource>,
) -> Result<Action, ReconcileError> {
    let id = env.deployment_id();
    let now = c.ctx.ports.clock.now();
    let updated = c
        .ctx
        .environments
        .update(env.id.as_str(), |e| {
            if !same_attempt(e, env) || e.rollout.applied.as_deref() != Some(id.as_str()) {
                return Ok(None);
            }
            e.observed.health = Some("Healthy".into());
            e.observed.sync = Some("Synced".into());
            e.observed.message = None;
            e.observed.resources.clone_from(&resources);
            let message = format!("Healthy and Synced at {revision}");
            e.transition(Status::Ready, Some(message.clone()), now)
                .map_err(|err| ServiceError::Conflict(err.to_string()))?;
            Ok(Change::event(NewEvent::new(
                EventKind::Healthy,
                "argocd",
                message,
            )))
        })
        .await?;
    if updated.status == Status::Ready && updated.generation == env.generation {
        let took = (now - updated.deployment_started_at)
            .to_std()
            .unwrap_or_default();
        c.ctx
            .metrics
            .create_to_ready_seconds
            .observe(took.as_secs_f64());
    }
    Ok(Action::RequeueAfter(until(c, Some(updated.expires_at))))
}

async fn attempt_failed(
    c: &Scope<'_>,
    env: &Environment,
    reason: &str,
    failure: Failure,
    resources: Vec<ObservedResource>,
) -> Result<Action, ReconcileError> {
    let policy = &c.ctx.settings.lifecycle;
    let (attempt, max) = (env.attempt, policy.max_attempts);
    let delay = next_attempt_delay(policy, attempt);
    let now = c.ctx.ports.clock.now();
    let next_at = now + chrono::Duration::from_std(delay).unwrap_or_default();
    let updated = c
        .ctx
        .environments
        .update(env.id.as_str(), |e| {
            if !same_attempt(e, env) {
                return Ok(None);
            }
            let mut events = vec![NewEvent::new(
                EventKind::Degraded,
                "argocd",
                format!("attempt {attempt} failed: {reason}"),
            )];
            e.observed.message = Some(reason.to_owned());
            e.observed.resources.clone_from(&resources);
            if attempt < max && failure == Failure::Retriable {
                e.attempt = attempt + 1;
                e.rollout = Rollout {
                    not_before: Some(next_at),
                    ..Rollout::default()
                };
                e.status_message = Some(format!(
                    "{reason} (attempt {attempt} of {max} failed; attempt {} at {} UTC)",
                    attempt + 1,
                    next_at.format("%H:%M:%S")
                ));
                e.updated_at = now;
                events.push(NewEvent::new(
                    EventKind::RetryScheduled,
                    "worker",
                    format!(
                        "attempt {} scheduled for {}",
                        attempt + 1,
                        next_at.to_rfc3339()
                    ),
                ));
            } else {
                let message = match failure {
                    Failure::Retriable => format!("failed after {attempt} attempts: {reason}"),
                    Failure::Permanent => format!("failed: {reason}"),
                };
                e.transition(Status::Failed, Some(message.clone()), now)
                    .map_err(|err| ServiceError::Conflict(err.to_string()))?;
                events.push(NewEvent::new(EventKind::Failed, "worker", message));
            }
            Ok(Change::events(events))
        })
        .await?;
    if updated.status == Status::Pending && updated.attempt == attempt + 1 {
        c.ctx.metrics.retry("provision", "attempt_scheduled");
        return Ok(Action::RequeueAfter(delay));
    }
    Ok(Action::RequeueAfter(until(c, Some(updated.expires_at))))
}

/// Puts `env` to sleep (or wakes it) on the controller's own initiative, as `by`.
async fn sleep_or_wake(
    c: &Scope<'_>,
    env: &Environment,
    asleep: bool,
    by: &str,
) -> Result<Action, ReconcileError> {
    match c.ctx.environments.sleep(env.id.as_str(), asleep, by).await {
        // Its own write triggers the next reconcile.
        Ok(_) => Ok(Action::AwaitChange),
        Err(ServiceError::Conflict(_)) => Ok(Action::RequeueAfter(Duration::ZERO)),
        Err(e) => Err(e.into()),
    }
}

async fn observe(
    c: &Scope<'_>,
    env: &Environment,
    health: &str,
    sync: &str,
    message: &str,
    resources: Vec<ObservedResource>,
) -> Result<Action, ReconcileError> {
    let now = c.ctx.ports.clock.now();
    let updated = c
        .ctx
        .environments
        .update(env.id.as_str(), |e| {
            if e.status != env.status || e.generation != env.generation || e.attempt != env.attempt
            {
                return Ok(None);
            }
            let moved = e.observed.health.as_deref() != Some(health)
                || e.observed.sync.as_deref() != Some(sync);
            e.observed.health = Some(health.to_owned());
            e.observed.sync = Some(sync.to_owned());
            e.observed.message = Some(message.to_owned());
            e.observed.resources.clone_from(&resources);
            if e.status == Status::Pending {
                e.status_message = Some(format!("Argo CD: {message}"));
            }
            e.updated_at = now;
            let events = if moved {
                vec![NewEvent::new(
                    EventKind::Progressing,
                    "argocd",
                    format!("health {health}, sync {sync}"),
                )]
            } else {
                vec![]
            };
            Ok(Change::events(events))
        })
        .await?;
    Ok(Action::RequeueAfter(match updated.status {
        Status::Pending => until(c, updated.rollout.deadline),
        _ => until(c, Some(updated.expires_at)),
    }))
}

async fn terminate(c: &Scope<'_>, env: &Environment) -> Result<Action, ReconcileError> {
    let name = env.id.application_name();
    // The cache may lag behind a re-create: confirm with a read before saying "gone".
    if let Some(app) = c.ctx.ports.cluster.get(&name).await? {
        c.observer.record(app);
        return Ok(Action::RequeueAfter(Duration::from_secs(1)));
    }
    let now = c.ctx.ports.clock.now();
    let mut closed = None;
    c.ctx
        .environments
        .update(env.id.as_str(), |e| {
            if e.status != Status::Deleting {
                return Ok(None);
            }
            e.transition(
                Status::Terminated,
                Some("the Application and its namespace are gone".into()),
                now,
            )
            .map_err(|err| ServiceError::Conflict(err.to_string()))?;
            e.observed = Default::default();
            e.rollout = Rollout::default();
            e.waiting = None;
            let asleep = e.asleep.is_some();
            closed = None;
            if let Some(m) = &mut e.meter {
                let before = m.clone();
                m.close(now, asleep);
                closed = Some((before, m.clone()));
            }
            Ok(Change::event(NewEvent::new(
                EventKind::Terminated,
                "worker",
                format!("Application {name} deleted"),
            )))
        })
        .await?;
    if let Some((before, after)) = closed {
        let rates = &c.ctx.settings.cost_rates;
        c.ctx.metrics.meter_closed(&before, &after, rates);
    }
    // Its slot is free: the line may move.
    quotas::slot_freed(c.ctx, &env.repository_id).await?;
    Ok(Action::AwaitChange)
}
