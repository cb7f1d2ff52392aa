//! Notify: tell the merge request where its environment is. One sticky note edited in place
//! (found by its marker when its id was lost, so it is never posted twice), a commit status on
//! the deployed commit, a GitLab environment with a deployment when ready, stopped on teardown.
//! Runs under the environment's GitLab keys, so a GitLab outage delays notes but never the
//! lifecycle; a failure is retried with growing delays, and the resync pass queues it again if
//! it was given up on. Without GitLab configured, what would have been sent is recorded in the
//! environment's events. Two jobs: the commit's part (`Notify`) is sent at once, so every commit
//! gets its status; the note (`StickyNote`) is queued `--gitlab-note-window-ms` after a change,
//! and the queue merges it with the next, so a burst of changes is one note update.

use crate::{
    domain::{
        Environment, EnvironmentId, EventKind, MergeRequest, NewEvent, Repository, Status,
        feedback::{
            MARKER, commit_signature, commit_state, gitlab_environment_name, signature,
            sticky_note as sticky_note_text,
        },
    },
    ports::githost::{GitHost, GitHostError, MergeRequestRef},
    service::{Context, ServiceError, writes::Change},
};

use super::JobOutcome;

fn unavailable(e: GitHostError) -> ServiceError {
    ServiceError::Unavailable("GitLab", e.into())
}

/// The commit's part: the commit status, the GitLab deployment when ready, the GitLab
/// environment stopped when torn down.
pub async fn run(ctx: &Context, id: &EnvironmentId) -> Result<JobOutcome, ServiceError> {
    let Some((env, repo, mr)) = merge_request_environment(ctx, id).await? else {
        return Ok(JobOutcome::Done);
    };
    let synced = commit_signature(&env);
    if env.feedback.commit_synced.as_deref() == Some(synced.as_str()) {
        return Ok(JobOutcome::Done);
    }
    let state = commit_state(&env);
    let gitlab_env = gitlab_environment_name(mr.iid);
    let mut messages = Vec::new();
    if let Some(sha) = &env.sha {
        messages.push(format!(
            "commit status blueberry/environment = {} on {}",
            state.as_str(),
            sha.short()
        ));
    }
    match env.status {
        Status::Ready => messages.push(format!(
            "deployment of {} to GitLab environment {gitlab_env}",
            env.target_revision()
        )),
        Status::Terminated => messages.push(format!("GitLab environment {gitlab_env} stopped")),
        _ => {}
    }
    if ctx.ports.githost.is_configured() {
        let page = ctx.settings.status_page_url(&env.id);
        let app_url = format!("https://{}", env.id.hostname(&ctx.settings.base_domain));
        tell_the_commit(
            ctx,
            &env,
            repo.gitlab_project_id,
            &page,
            &app_url,
            &gitlab_env,
        )
        .await?;
    }
    let events = sent(ctx, messages);
    ctx.environments
        .update(id.as_str(), |e| {
            e.feedback.commit_synced = Some(synced.clone());
            Ok(Change::events(events.clone()))
        })
        .await?;
    Ok(JobOutcome::Done)
}

/// The sticky note, as the environment is now (the changes since it was queued included).
pub async fn sticky_note(ctx: &Context, id: &EnvironmentId) -> Result<JobOutcome, ServiceError> {
    let Some((env, repo, mr)) = merge_request_environment(ctx, id).await? else {
        return Ok(JobOutcome::Done);
    };
    let synced = signature(&env);
    if env.feedback.synced.as_deref() == Some(synced.as_str()) {
        return Ok(JobOutcome::Done);
    }
    let messages = vec![format!(
        "sticky note on !{}: {} ({})",
        mr.iid,
        env.status,
        commit_state(&env).as_str()
    )];
    let mut note_id = env.feedback.note_id;
    if ctx.ports.githost.is_configured() {
        let page = ctx.settings.status_page_url(&env.id);
        let app_url = format!("https://{}", env.id.hostname(&ctx.settings.base_domain));
        let now = ctx.ports.clock.now();
        let body = sticky_note_text(&env, &app_url, &page, now, &ctx.settings.cost_rates);
        let target = MergeRequestRef {
            project_id: repo.gitlab_project_id,
            iid: mr.iid,
        };
        let githost = ctx.ports.githost.as_ref();
        note_id = Some(sticky_note_upsert(githost, &target, note_id, &body).await?);
    }
    let events = sent(ctx, messages);
    ctx.environments
        .update(id.as_str(), |e| {
            e.feedback.note_id = note_id;
            e.feedback.synced = Some(synced.clone());
            Ok(Change::events(events.clone()))
        })
        .await?;
    Ok(JobOutcome::Done)
}

/// The environment, its repository and merge request; `None` when there is nothing to tell.
async fn merge_request_environment(
    ctx: &Context,
    id: &EnvironmentId,
) -> Result<Option<(Environment, Repository, MergeRequest)>, ServiceError> {
    let Some(env) = ctx.ports.environments.get_environment(id).await? else {
        return Ok(None);
    };
    let Some(mr) = env.merge_request.clone() else {
        return Ok(None);
    };
    let repo = ctx.ports.catalog.get_repository(&env.repository_id).await?;
    Ok(repo.map(|repo| (env, repo, mr)))
}

/// What was sent, for the environment's history; without GitLab, what would have been.
fn sent(ctx: &Context, messages: Vec<String>) -> Vec<NewEvent> {
    let configured = ctx.ports.githost.is_configured();
    messages
        .into_iter()
        .map(|m| {
            let text = if configured {
                format!("sent {m}")
            } else {
                format!("GitLab is not configured; would have sent {m}")
            };
            NewEvent::new(EventKind::Notification, "gitlab", text)
        })
        .collect()
}

/// The commit status on the deployed commit; a GitLab deployment when ready, the GitLab
/// environment stopped when torn down.
async fn tell_the_commit(
    ctx: &Context,
    env: &Environment,
    project_id: u64,
    page: &str,
    app_url: &str,
    gitlab_env: &str,
) -> Result<(), ServiceError> {
    let githost = &ctx.ports.githost;
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
                project_id,
                sha.as_str(),
                commit_state(env),
                page,
                &description,
            )
            .await
            .map_err(unavailable)?;
    }
    match env.status {
        Status::Ready => githost
            .record_deployment(
                project_id,
                gitlab_env,
                app_url,
                env.target_revision(),
                env.branch.as_str(),
            )
            .await
            .map_err(unavailable),
        Status::Terminated => githost
            .stop_environment(project_id, gitlab_env)
            .await
            .map_err(unavailable),
        _ => Ok(()),
    }
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
