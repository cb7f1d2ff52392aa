//! Lifecycle jobs, one file each. Every job is a reconcile: it reads the environment and the
//! cluster, compares them with what is wanted, and acts on the difference, so a job delivered
//! twice or after a crash does no harm.

mod apply;
mod command;
mod expire;
mod merge_request;
pub mod notify;
mod provision;
mod redeploy;
mod teardown;

use std::time::Duration;

use crate::{
    domain::{Environment, EventKind, LifecycleJob, NewEvent, Status, job::retry_delay},
    service::{Context, ServiceError},
};

/// What a job asks of the queue when it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished (or nothing to do): acknowledge.
    Done,
    /// Not finished; deliver again after the delay.
    RetryAfter(Duration),
}

/// Runs one job.
#[tracing::instrument(skip_all, fields(job = job.name(), env_id = %job.environment_id()))]
pub async fn run(ctx: &Context, job: LifecycleJob) -> Result<JobOutcome, ServiceError> {
    match job {
        LifecycleJob::Apply {
            environment_id,
            generation,
            attempt,
        } => apply::run(ctx, &environment_id, generation, attempt).await,
        LifecycleJob::Provision {
            environment_id,
            generation,
            attempt,
        } => provision::run(ctx, &environment_id, generation, attempt).await,
        LifecycleJob::Redeploy {
            environment_id,
            sha,
            actor,
        } => redeploy::run(ctx, &environment_id, sha, &actor).await,
        LifecycleJob::Teardown { environment_id } => teardown::run(ctx, &environment_id).await,
        LifecycleJob::Expire { environment_id } => expire::run(ctx, &environment_id).await,
        LifecycleJob::MergeRequest {
            environment_id,
            repository_id,
            event,
        } => merge_request::run(ctx, &environment_id, &repository_id, &event).await,
        LifecycleJob::Command {
            environment_id,
            event,
            ..
        } => command::run(ctx, &environment_id, &event).await,
        LifecycleJob::Notify { environment_id } => notify::run(ctx, &environment_id).await,
    }
}

/// The environment if this deployment attempt is still the current one; None when the job is
/// stale (a newer deployment, a teardown, or the environment is gone).
async fn current_attempt(
    ctx: &Context,
    id: &crate::domain::EnvironmentId,
    generation: u64,
    attempt: u32,
) -> Result<Option<Environment>, ServiceError> {
    let Some(env) = ctx.ports.store.get_environment(id).await? else {
        return Ok(None);
    };
    let current =
        env.status == Status::Pending && env.generation == generation && env.attempt == attempt;
    if !current {
        tracing::debug!(status = %env.status, env.generation, env.attempt, "stale job; nothing to do");
    }
    Ok(current.then_some(env))
}

/// Whether another attempt could help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Try again after a growing delay, unless this was the last attempt.
    Retriable,
    /// No attempt can succeed (e.g. the repository was disconnected): fail now.
    Permanent,
}

/// Records that attempt `attempt` failed with `reason`: schedules the next attempt after a
/// growing delay, or marks the environment failed after the last one.
async fn attempt_failed(
    ctx: &Context,
    env: &Environment,
    attempt: u32,
    reason: &str,
    failure: Failure,
) -> Result<JobOutcome, ServiceError> {
    let (generation, max) = (env.generation, ctx.settings.max_attempts);
    let now = ctx.ports.clock.now();
    let next_at = now
        + chrono::Duration::from_std(retry_delay(ctx.settings.retry_base_delay, attempt + 1))
            .unwrap_or_default();
    let updated = ctx
        .environments
        .update(env.id.as_str(), |e| {
            if e.status != Status::Pending || e.generation != generation || e.attempt != attempt {
                return Ok(None);
            }
            let mut events = vec![NewEvent::new(
                EventKind::Degraded,
                "worker",
                format!("attempt {attempt} failed: {reason}"),
            )];
            if attempt < max && failure == Failure::Retriable {
                e.attempt = attempt + 1;
                e.status_message = Some(format!(
                    "attempt {attempt} of {max} failed: {reason}; attempt {} at {}",
                    attempt + 1,
                    next_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
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
            Ok(Some(events))
        })
        .await?;
    if updated.status == Status::Pending
        && updated.attempt == attempt + 1
        && updated.generation == generation
    {
        ctx.metrics.retry("provision", "attempt_scheduled");
        let job = LifecycleJob::Apply {
            environment_id: env.id.clone(),
            generation,
            attempt: attempt + 1,
        };
        ctx.environments.enqueue(job, Some(next_at)).await?;
    }
    Ok(JobOutcome::Done)
}
