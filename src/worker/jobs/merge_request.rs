//! A merge request event: create, redeploy or tear down as the repository's rules say.

use crate::{
    domain::{
        EnvironmentId, EnvironmentName, MergeRequest, Status,
        feedback::MARKER,
        gitlab::{MergeRequestDecision, MergeRequestEvent, decide},
    },
    ports::githost::MergeRequestRef,
    service::{Context, ServiceError, environments::CreateEnvironment},
};

use super::JobOutcome;

const FORK_NOTE: &str = "Blueberry does not deploy merge requests from forks: their code would run with the platform's credentials. A maintainer can allow forks in the repository's settings.";

pub async fn run(
    ctx: &Context,
    id: &EnvironmentId,
    repository_id: &str,
    ev: &MergeRequestEvent,
) -> Result<JobOutcome, ServiceError> {
    let Some(repo) = ctx.ports.store.get_repository(repository_id).await? else {
        return Ok(JobOutcome::Done);
    };
    let env = ctx.ports.store.get_environment(id).await?;
    if env.as_ref().is_some_and(|e| e.status == Status::Deleting)
        && matches!(ev.action.as_str(), "open" | "reopen" | "update")
    {
        // Let the teardown finish before deciding; the name is reused afterwards.
        return Ok(JobOutcome::RetryAfter(std::time::Duration::from_secs(2)));
    }
    let live = env.as_ref().is_some_and(|e| e.status.is_live());
    let actor = format!("gitlab:{}", ev.author);
    match decide(ev, &repo.filters, live) {
        MergeRequestDecision::Create => {
            let request = CreateEnvironment {
                name: EnvironmentName::for_merge_request(ev.iid).to_string(),
                repository_id: repo.id.clone(),
                branch: Some(ev.source_branch.clone()),
                sha: ev.head_sha.as_ref().map(ToString::to_string),
                merge_request: Some(MergeRequest {
                    iid: ev.iid,
                    title: ev.title.clone(),
                    url: ev.url.clone(),
                    author: ev.author.clone(),
                }),
                ..Default::default()
            };
            match ctx.environments.create(request, &actor).await {
                Ok(_) | Err(ServiceError::Conflict(_)) => {}
                Err(ServiceError::Invalid { field, message }) => {
                    tracing::warn!(field, message, "merge request cannot get an environment");
                }
                Err(e) => return Err(e),
            }
        }
        MergeRequestDecision::Redeploy(sha) => match ctx
            .environments
            .redeploy(id.as_str(), Some(sha), &actor)
            .await
        {
            Ok(_) | Err(ServiceError::Conflict(_) | ServiceError::NotFound(_)) => {}
            Err(e) => return Err(e),
        },
        MergeRequestDecision::Teardown(reason) => match ctx
            .environments
            .request_teardown(id.as_str(), &actor, &reason)
            .await
        {
            Ok(_) | Err(ServiceError::Conflict(_) | ServiceError::NotFound(_)) => {}
            Err(e) => return Err(e),
        },
        MergeRequestDecision::RefuseFork => {
            let mr = MergeRequestRef {
                project_id: ev.project_id,
                iid: ev.iid,
            };
            if ctx.ports.githost.is_configured()
                && let Err(e) = ctx
                    .ports
                    .githost
                    .upsert_note(&mr, None, &format!("{MARKER}\n{FORK_NOTE}"))
                    .await
            {
                tracing::warn!(error = %e, "could not tell the merge request why forks are refused");
            }
            tracing::info!(iid = ev.iid, "merge request from a fork refused");
        }
        MergeRequestDecision::Ignore(reason) => {
            tracing::debug!(iid = ev.iid, action = %ev.action, reason, "merge request event ignored")
        }
    }
    Ok(JobOutcome::Done)
}
