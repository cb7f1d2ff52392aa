//! Expire: tear the environment down if it is past its expiry (it may have been extended since
//! the reaper looked).

use crate::{
    domain::EnvironmentId,
    service::{Context, ServiceError},
};

use super::JobOutcome;

pub async fn run(ctx: &Context, id: &EnvironmentId) -> Result<JobOutcome, ServiceError> {
    let Some(env) = ctx.ports.store.get_environment(id).await? else {
        return Ok(JobOutcome::Done);
    };
    if !env.is_expired(ctx.ports.clock.now()) {
        return Ok(JobOutcome::Done);
    }
    let reason = format!("expired after its {} h lifetime", env.ttl_hours.hours());
    match ctx
        .environments
        .request_teardown(id.as_str(), "reaper", &reason)
        .await
    {
        Ok(_) | Err(ServiceError::Conflict(_)) => Ok(JobOutcome::Done),
        Err(e) => Err(e),
    }
}
