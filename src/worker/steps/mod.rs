//! The steps the controller performs, each one short: one cluster call or one versioned write.
//! Every write checks that the record is still at the deployment the step was decided for, so
//! a step decided on an older record does nothing.

use std::time::Duration;

mod provision;

use provision::{apply, attempt_failed, mark_ready, observe};

use super::observer::Observer;
use crate::domain::{argo::ObservedResource, schedule::BY_SCHEDULE};
use crate::{
    domain::quota::Admission,
    domain::{Environment, EventKind, NewEvent, Rollout, Status, lifecycle::Step},
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
                .repository(c.ctx.ports.catalog.as_ref(), &env.repository_id)
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
