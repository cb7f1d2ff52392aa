//! Redeploy: start a new deployment (new commits, `/blueberry redeploy`). The state change
//! enqueues the apply.

use crate::{
    domain::{CommitSha, EnvironmentId},
    service::{Context, ServiceError},
};

use super::JobOutcome;

pub async fn run(
    ctx: &Context,
    id: &EnvironmentId,
    sha: Option<CommitSha>,
    actor: &str,
) -> Result<JobOutcome, ServiceError> {
    match ctx.environments.redeploy(id.as_str(), sha, actor).await {
        Ok(_) => Ok(JobOutcome::Done),
        // Gone, deleting or terminated: nothing to redeploy.
        Err(ServiceError::NotFound(_) | ServiceError::Conflict(_)) => Ok(JobOutcome::Done),
        Err(e) => Err(e),
    }
}
