//! Reply: post one answer on a merge request, once. Before posting, the merge request's notes
//! are searched for the reply's marker, so a job run again after a crash (or delivered twice)
//! does not post it twice. Runs under the environment's GitLab key.

use crate::{
    domain::{EnvironmentId, EventKind, NewEvent, feedback::reply_marker},
    ports::githost::MergeRequestRef,
    service::{Context, ServiceError},
};

use super::JobOutcome;

pub async fn run(
    ctx: &Context,
    id: &EnvironmentId,
    project_id: u64,
    iid: u64,
    reply_to: &str,
    text: &str,
) -> Result<JobOutcome, ServiceError> {
    let githost = &ctx.ports.githost;
    let unavailable = |e| ServiceError::Unavailable("GitLab", anyhow::Error::new(e));
    let message = if githost.is_configured() {
        let mr = MergeRequestRef { project_id, iid };
        let marker = reply_marker(reply_to);
        if githost
            .find_note(&mr, &marker)
            .await
            .map_err(unavailable)?
            .is_some()
        {
            return Ok(JobOutcome::Done);
        }
        githost
            .create_note(&mr, &format!("{marker}\n{text}"))
            .await
            .map_err(unavailable)?;
        format!("replied on !{iid}: {text}")
    } else {
        format!("GitLab is not configured; would have replied on !{iid}: {text}")
    };
    if ctx.ports.environments.get_environment(id).await?.is_some() {
        ctx.ports
            .environments
            .append_events(
                id,
                &[NewEvent::new(EventKind::Notification, "blueberry", message)],
            )
            .await?;
    }
    Ok(JobOutcome::Done)
}
