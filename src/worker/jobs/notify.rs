//! Notify: tell the merge request where its environment is. One sticky note edited in place
//! (found by its marker when its id was lost, so it is never posted twice), a commit status on
//! the deployed commit, a GitLab environment with a deployment when ready, stopped on teardown.
//! Runs under the environment's GitLab key, so a GitLab outage delays notes but never the
//! lifecycle; a failure is retried with growing delays, and the resync pass queues it again if
//! it was given up on. Without GitLab configured, what would have been sent is recorded in the
//! environment's events.

use crate::{
    domain::{
        EnvironmentId, EventKind, NewEvent, Status,
        feedback::{MARKER, commit_state, gitlab_environment_name, signature, sticky_note},
    },
    ports::githost::{GitHost, GitHostError, MergeRequestRef},
    service::{Context, ServiceError, writes::Change},
};

use super::JobOutcome;

fn unavailable(e: GitHostError) -> ServiceError {
    ServiceError::Unavailable("GitLab", e.into())
}

pub async fn run(ctx: &Context, id: &EnvironmentId) -> Result<JobOutcome, ServiceError> {
    let Some(env) = ctx.ports.store.get_environment(id).await? else {
        return Ok(JobOutcome::Done);
    };
    let Some(mr) = env.merge_request.clone() else {
        return Ok(JobOutcome::Done);
    };
    let signature = signature(&env);
    if env.feedback.synced.as_deref() == Some(signature.as_str()) {
        return Ok(JobOutcome::Done);
    }
    let Some(repo) = ctx.ports.store.get_repository(&env.repository_id).await? else {
        return Ok(JobOutcome::Done);
    };
    let app_url = format!("https://{}", env.id.hostname(&ctx.settings.base_domain));
    let page = ctx.settings.status_page_url(&env.id);
    let body = sticky_note(
        &env,
        &app_url,
        &page,
        ctx.ports.clock.now(),
        &ctx.settings.cost_rates,
    );
    let state = commit_state(&env);
    let mut messages = vec![format!(
        "sticky note on !{}: {} ({})",
        mr.iid,
        env.status,
        state.as_str()
    )];
    if let Some(sha) = &env.sha {
        messages.push(format!(
            "commit status blueberry/environment = {} on {}",
            state.as_str(),
            sha.short()
        ));
    }
    let gitlab_env = gitlab_environment_name(mr.iid);
    match env.status {
        Status::Ready => messages.push(format!(
            "deployment of {} to GitLab environment {gitlab_env}",
            env.target_revision()
        )),
        Status::Terminated => messages.push(format!("GitLab environment {gitlab_env} stopped")),
        _ => {}
    }

    let githost = &ctx.ports.githost;
    let mut note_id = env.feedback.note_id;
    let events: Vec<NewEvent> = if githost.is_configured() {
        let target = MergeRequestRef {
            project_id: repo.gitlab_project_id,
            iid: mr.iid,
        };
        note_id = Some(sticky_note_upsert(githost.as_ref(), &target, note_id, &body).await?);
        if let Some(sha) = &env.sha {
            let description = env
                .status_message
                .clone()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>();
            githost
                .set_commit_status(
                    repo.gitlab_project_id,
                    sha.as_str(),
                    state,
                    &page,
                    &description,
                )
                .await
                .map_err(unavailable)?;
        }
        match env.status {
            Status::Ready => githost
                .record_deployment(
                    repo.gitlab_project_id,
                    &gitlab_env,
                    &app_url,
                    env.target_revision(),
                    env.branch.as_str(),
                )
                .await
                .map_err(unavailable)?,
            Status::Terminated => githost
                .stop_environment(repo.gitlab_project_id, &gitlab_env)
                .await
                .map_err(unavailable)?,
            _ => {}
        }
        messages
            .into_iter()
            .map(|m| NewEvent::new(EventKind::Notification, "gitlab", format!("sent {m}")))
            .collect()
    } else {
        messages
            .into_iter()
            .map(|m| {
                NewEvent::new(
                    EventKind::Notification,
                    "gitlab",
                    format!("GitLab is not configured; would have sent {m}"),
                )
            })
            .collect()
    };
    ctx.environments
        .update(id.as_str(), |e| {
            e.feedback.note_id = note_id;
            e.feedback.synced = Some(signature.clone());
            Ok(Change::events(events.clone()))
        })
        .await?;
    Ok(JobOutcome::Done)
}

/// Edits the sticky note; finds it by its marker when its id is not known (a crash between
/// posting it and saving its id); posts it only when there is none.
async fn sticky_note_upsert(
    githost: &dyn GitHost,
    mr: &MergeRequestRef,
    known: Option<u64>,
    body: &str,
) -> Result<u64, ServiceError> {
    let existing = match known {
        Some(id) => Some(id),
        None => githost.find_note(mr, MARKER).await.map_err(unavailable)?,
    };
    if let Some(id) = existing
        && githost.edit_note(mr, id, body).await.map_err(unavailable)?
    {
        return Ok(id);
    }
    // None yet, or someone deleted it: write it anew.
    githost.create_note(mr, body).await.map_err(unavailable)
}
