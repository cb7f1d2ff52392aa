//! A merge request event: bring the merge request's environment in line with the newest event
//! recorded for it (the webhook keeps only the newest, so a storm of events is one job and an
//! older delivery changes nothing).

use std::time::Duration;

use crate::{
    domain::{
        EnvironmentId, EnvironmentName, LifecycleJob, MergeRequest, Status,
        gitlab::{Current, MergeRequestDecision, MergeRequestEvent, decide},
    },
    service::{
        Context, ServiceError,
        environments::{CreateEnvironment, KeepBy},
    },
};

use super::JobOutcome;

/// The merge request label that keeps its environment (as `/blueberry keep` does).
pub const KEEP_LABEL: &str = "blueberry::keep";

const FORK_NOTE: &str = "Blueberry does not deploy merge requests from forks by itself: their code would run with the platform's credentials. A Maintainer of this project can review the changes and comment `/blueberry approve` to deploy the current head; each new push needs a new approval.";

/// While the old environment is still being torn down, a merge request that wants one again
/// (reopened) looks again this much later.
const WAIT_FOR_TEARDOWN: Duration = Duration::from_secs(2);

/// What the lifecycle says about a change it refuses: the state forbids it, so the event
/// changes nothing. Contention and outages are errors (the job runs again).
fn refused(e: ServiceError) -> Result<(), ServiceError> {
    match e {
        ServiceError::Conflict(_) | ServiceError::NotFound(_) => Ok(()),
        ServiceError::Invalid { field, message } | ServiceError::Dangling { field, message } => {
            tracing::warn!(field, message, "merge request cannot get an environment");
            Ok(())
        }
        e => Err(e),
    }
}

pub async fn run(
    ctx: &Context,
    id: &EnvironmentId,
    repository_id: &str,
    iid: u64,
) -> Result<JobOutcome, ServiceError> {
    let ports = &ctx.ports;
    let Some(raw) = ports
        .deliveries
        .merge_request_event(&format!("{repository_id}:{iid}"))
        .await?
    else {
        return Ok(JobOutcome::Done);
    };
    let ev: MergeRequestEvent = match serde_json::from_str(&raw) {
        Ok(ev) => ev,
        Err(e) => {
            tracing::error!(error = %e, "stored merge request event unreadable; dropped");
            return Ok(JobOutcome::Done);
        }
    };
    let Some(repo) = ports.catalog.get_repository(repository_id).await? else {
        return Ok(JobOutcome::Done);
    };
    let env = ports.environments.get_environment(id).await?;
    let current = Current {
        live: env
            .as_ref()
            .is_some_and(|e| e.status.is_live() && e.status != Status::Deleting),
        sha: env.as_ref().and_then(|e| e.sha.as_ref()),
    };
    let decision = decide(&ev, &repo.filters, current);
    let deleting = env.as_ref().is_some_and(|e| e.status == Status::Deleting);
    tracing::debug!(
        action = %ev.action,
        head = ?ev.head_sha.as_ref().map(ToString::to_string),
        status = ?env.as_ref().map(|e| e.status),
        sha = ?env.as_ref().and_then(|e| e.sha.as_ref()).map(ToString::to_string),
        ?decision,
        "merge request event decided"
    );
    let actor = format!("gitlab:{}", ev.author);
    match decision {
        // The name is free again once the teardown has finished: waiting is not failing.
        MergeRequestDecision::Create if deleting => {
            return Ok(JobOutcome::Defer(WAIT_FOR_TEARDOWN));
        }
        _ if deleting => {}
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
            if let Err(e) = ctx.environments.create(request, &actor).await {
                refused(e)?;
            }
        }
        MergeRequestDecision::Redeploy(sha) => {
            if let Err(e) = ctx.environments.follow_head(id.as_str(), sha, &actor).await {
                refused(e)?;
            }
        }
        MergeRequestDecision::Teardown(reason) => {
            if let Err(e) = ctx
                .environments
                .request_teardown(id.as_str(), &actor, &reason)
                .await
            {
                refused(e)?;
            }
        }
        MergeRequestDecision::RefuseFork => {
            tracing::info!(iid = ev.iid, "merge request from a fork refused");
            ctx.environments
                .enqueue(&LifecycleJob::Reply {
                    environment_id: id.clone(),
                    project_id: ev.project_id,
                    iid: ev.iid,
                    reply_to: "fork".into(),
                    text: FORK_NOTE.into(),
                })
                .await?;
        }
        MergeRequestDecision::AwaitApproval(head) => {
            tracing::info!(iid = ev.iid, head = %head, "fork push held for approval");
            if let Err(e) = ctx
                .environments
                .hold_fork_head(id.as_str(), head, &actor)
                .await
            {
                refused(e)?;
            }
        }
        MergeRequestDecision::Ignore(reason) => {
            tracing::debug!(iid = ev.iid, action = %ev.action, reason, "merge request event changes nothing")
        }
    }
    follow_keep_label(ctx, id, &ev, &actor).await?;
    Ok(JobOutcome::Done)
}

/// The keep label pins a live environment; removing it lets go of the keep it made (never of one
/// a person asked for with `/blueberry keep`).
async fn follow_keep_label(
    ctx: &Context,
    id: &EnvironmentId,
    ev: &MergeRequestEvent,
    actor: &str,
) -> Result<(), ServiceError> {
    let Some(env) = ctx.ports.environments.get_environment(id).await? else {
        return Ok(());
    };
    let labelled = ev.labels.iter().any(|l| l == KEEP_LABEL);
    let change = match (&env.kept, labelled) {
        (None, true) if env.is_live_not_deleting() => true,
        (Some(k), false) if k.by_label => false,
        _ => return Ok(()),
    };
    let who = format!("{actor} (label {KEEP_LABEL})");
    match ctx
        .environments
        .keep_with(id.as_str(), change, &who, KeepBy::Label, None)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => refused(e),
    }
}
