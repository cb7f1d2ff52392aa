//! Apply: render the environment's Application and server-side apply it, then hand over to
//! provision.

use crate::{
    domain::{EnvironmentId, EventKind, LifecycleJob, NewEvent, manifest::build_application},
    service::{Context, ServiceError},
    worker::backoff::retry_transient,
};

use super::{Failure, JobOutcome, attempt_failed, current_attempt};

pub async fn run(
    ctx: &Context,
    id: &EnvironmentId,
    generation: u64,
    attempt: u32,
) -> Result<JobOutcome, ServiceError> {
    let Some(env) = current_attempt(ctx, id, generation, attempt).await? else {
        return Ok(JobOutcome::Done);
    };
    let store = &ctx.ports.store;
    let Some(repo) = store.get_repository(&env.repository_id).await? else {
        return attempt_failed(
            ctx,
            &env,
            attempt,
            "its repository was disconnected",
            Failure::Permanent,
        )
        .await;
    };
    let config_set_id = env
        .config_set_id
        .clone()
        .or_else(|| repo.config_set_id.clone())
        .unwrap_or_default();
    let Some(config_set) = store.get_config_set(&config_set_id).await? else {
        return attempt_failed(
            ctx,
            &env,
            attempt,
            "its config set was deleted",
            Failure::Permanent,
        )
        .await;
    };
    let app = build_application(&env, &repo, &config_set, &ctx.settings.manifest);
    let state = match retry_transient(&ctx.metrics, "apply", || ctx.ports.cluster.apply(&app)).await
    {
        Ok(state) => state,
        Err(e) => {
            return attempt_failed(
                ctx,
                &env,
                attempt,
                &format!("applying the Application: {e}"),
                Failure::Retriable,
            )
            .await;
        }
    };
    let message = format!(
        "Application {} applied at {}; waiting for Argo CD",
        app.name(),
        app.spec.source.target_revision
    );
    ctx.environments
        .update(id.as_str(), |e| {
            if e.generation != generation || e.attempt != attempt {
                return Ok(None);
            }
            e.status_message = Some(message.clone());
            e.observed.health = Some(state.health.clone());
            e.observed.sync = Some(state.sync.clone());
            e.updated_at = ctx.ports.clock.now();
            Ok(Some(vec![NewEvent::new(
                EventKind::Applied,
                "worker",
                format!("attempt {attempt}: {message}"),
            )]))
        })
        .await?;
    ctx.environments
        .enqueue(
            LifecycleJob::Provision {
                environment_id: id.clone(),
                generation,
                attempt,
            },
            None,
        )
        .await?;
    Ok(JobOutcome::Done)
}
