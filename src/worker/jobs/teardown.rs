//! Teardown: delete the Application with cascade (Argo CD's finalizer removes the namespace
//! and everything in it), wait until it is gone, then mark the environment terminated.

use std::time::Duration;

use crate::{
    domain::{EnvironmentId, EventKind, NewEvent, Status},
    service::{Context, ServiceError},
    worker::backoff::retry_transient,
};

use super::JobOutcome;

/// How long one delivery waits for the finalizer before it is redelivered.
const WAIT_GONE: Duration = Duration::from_secs(120);

pub async fn run(ctx: &Context, id: &EnvironmentId) -> Result<JobOutcome, ServiceError> {
    let Some(env) = ctx.ports.store.get_environment(id).await? else {
        return Ok(JobOutcome::Done);
    };
    if env.status != Status::Deleting {
        return Ok(JobOutcome::Done);
    }
    let name = id.application_name();
    let cluster = &ctx.ports.cluster;
    if let Err(e) = retry_transient(&ctx.metrics, "teardown", || cluster.delete(&name)).await {
        tracing::warn!(error = %e, "deleting the Application failed; will try again");
        return Ok(JobOutcome::RetryAfter(Duration::from_secs(5)));
    }
    if let Err(e) = cluster.wait_gone(&name, WAIT_GONE).await {
        tracing::info!(error = %e, "Application not gone yet; will look again");
        return Ok(JobOutcome::RetryAfter(Duration::from_secs(2)));
    }
    let now = ctx.ports.clock.now();
    ctx.environments
        .update(id.as_str(), |e| {
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
            Ok(Some(vec![NewEvent::new(
                EventKind::Terminated,
                "worker",
                format!("Application {name} deleted"),
            )]))
        })
        .await?;
    Ok(JobOutcome::Done)
}
