//! Provision: watch the Application until it is Healthy and Synced at the desired revision;
//! Degraded, a failed sync, a vanished Application or a timeout fail the attempt.

use futures::StreamExt;

use crate::{
    domain::{CommitSha, Environment, EnvironmentId, EventKind, NewEvent, Status},
    ports::ApplicationState,
    service::{Context, ServiceError},
};

use super::{Failure, JobOutcome, attempt_failed, current_attempt};

enum Verdict {
    Ready(ApplicationState),
    Failed(String),
}

fn judge(env: &Environment, state: &Option<ApplicationState>) -> Option<Verdict> {
    let Some(state) = state else {
        return Some(Verdict::Failed(
            "the Application disappeared from the cluster".into(),
        ));
    };
    // A branch resolves to a commit Argo CD reports; only a pinned commit can be compared.
    let revision_ok = match &env.sha {
        Some(sha) => state
            .revision
            .as_deref()
            .is_some_and(|r| CommitSha::parse(r).is_ok_and(|r| r == *sha)),
        None => true,
    };
    if state.health == "Healthy" && state.sync == "Synced" && !state.deleting && revision_ok {
        return Some(Verdict::Ready(state.clone()));
    }
    if state.is_failed() {
        let message = state
            .message
            .clone()
            .unwrap_or_else(|| format!("health {}, sync {}", state.health, state.sync));
        return Some(Verdict::Failed(format!(
            "Argo CD reports {}: {message}",
            state.health
        )));
    }
    None
}

pub async fn run(
    ctx: &Context,
    id: &EnvironmentId,
    generation: u64,
    attempt: u32,
) -> Result<JobOutcome, ServiceError> {
    let Some(env) = current_attempt(ctx, id, generation, attempt).await? else {
        return Ok(JobOutcome::Done);
    };
    let app_name = id.application_name();
    let timeout = ctx.settings.provision_timeout;
    let mut watch = ctx.ports.cluster.watch(&app_name);
    let mut last_seen: Option<(String, String)> = None;
    let verdict = tokio::time::timeout(timeout, async {
        while let Some(item) = watch.next().await {
            let state = match item {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "watch interrupted; it resumes by itself");
                    continue;
                }
            };
            if let Some(v) = judge(&env, &state) {
                return Ok(Some(v));
            }
            if let Some(s) = &state {
                let seen = (s.health.clone(), s.sync.clone());
                if last_seen.as_ref() != Some(&seen) {
                    last_seen = Some(seen);
                    progressing(ctx, id, generation, attempt, s).await?;
                }
            }
        }
        Ok::<_, ServiceError>(None)
    })
    .await;
    match verdict {
        Ok(Ok(Some(Verdict::Ready(state)))) => ready(ctx, &env, attempt, &state).await,
        Ok(Ok(Some(Verdict::Failed(reason)))) => {
            attempt_failed(ctx, &env, attempt, &reason, Failure::Retriable).await
        }
        Ok(Ok(None)) => Ok(JobOutcome::RetryAfter(std::time::Duration::from_secs(1))),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            let reason = format!("not Healthy and Synced within {}s", timeout.as_secs());
            attempt_failed(ctx, &env, attempt, &reason, Failure::Retriable).await
        }
    }
}

async fn progressing(
    ctx: &Context,
    id: &EnvironmentId,
    generation: u64,
    attempt: u32,
    s: &ApplicationState,
) -> Result<(), ServiceError> {
    ctx.environments
        .update(id.as_str(), |e| {
            if e.status != Status::Pending || e.generation != generation || e.attempt != attempt {
                return Ok(None);
            }
            e.observed.health = Some(s.health.clone());
            e.observed.sync = Some(s.sync.clone());
            e.status_message = Some(format!("Argo CD: {} / {}", s.health, s.sync));
            e.updated_at = ctx.ports.clock.now();
            Ok(Some(vec![NewEvent::new(
                EventKind::Progressing,
                "argocd",
                format!("health {}, sync {}", s.health, s.sync),
            )]))
        })
        .await
        .map(|_| ())
}

async fn ready(
    ctx: &Context,
    env: &Environment,
    attempt: u32,
    s: &ApplicationState,
) -> Result<JobOutcome, ServiceError> {
    let generation = env.generation;
    let now = ctx.ports.clock.now();
    let updated = ctx
        .environments
        .update(env.id.as_str(), |e| {
            if e.status != Status::Pending || e.generation != generation || e.attempt != attempt {
                return Ok(None);
            }
            e.observed.health = Some(s.health.clone());
            e.observed.sync = Some(s.sync.clone());
            let message = format!(
                "Healthy and Synced at {}",
                s.revision.as_deref().unwrap_or("the desired revision")
            );
            e.transition(Status::Ready, Some(message.clone()), now)
                .map_err(|err| ServiceError::Conflict(err.to_string()))?;
            Ok(Some(vec![NewEvent::new(
                EventKind::Healthy,
                "argocd",
                message,
            )]))
        })
        .await?;
    if updated.status == Status::Ready && updated.generation == generation {
        let took = (now - updated.deployment_started_at)
            .to_std()
            .unwrap_or_default();
        ctx.metrics
            .create_to_ready_seconds
            .observe(took.as_secs_f64());
    }
    Ok(JobOutcome::Done)
}
