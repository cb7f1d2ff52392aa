//! A `/blueberry` command from a merge request comment. Commands that change anything need at
//! least Developer access; everyone gets an answer.

use crate::{
    domain::{
        EnvironmentId, EventKind, NewEvent,
        commands::{Command, HELP},
        feedback::MARKER,
        gitlab::CommandEvent,
    },
    ports::githost::{AccessLevel, MergeRequestRef},
    service::{Context, ServiceError},
};

use super::JobOutcome;

pub async fn run(
    ctx: &Context,
    id: &EnvironmentId,
    ev: &CommandEvent,
) -> Result<JobOutcome, ServiceError> {
    let actor = format!("gitlab:{}", ev.username);
    let env = ctx.ports.store.get_environment(id).await?;
    let reply = if ev.command.changes_something() && !allowed(ctx, ev).await? {
        format!(
            "@{} sorry, `/blueberry` commands that change the environment need at least Developer access to this project. `/blueberry status` and `/blueberry help` work for everyone.",
            ev.username
        )
    } else if env.is_none() && !matches!(ev.command, Command::Help | Command::Unknown { .. }) {
        "This merge request has no Blueberry environment (yet). Open or update the merge request to get one.".to_owned()
    } else {
        match &ev.command {
            Command::Redeploy => outcome(
                ctx.environments.redeploy(id.as_str(), None, &actor).await,
                |e| format!("Redeploying `{}` at `{}`.", e.id, e.target_revision()),
            )?,
            Command::Destroy => outcome(
                ctx.environments
                    .request_teardown(id.as_str(), &actor, "/blueberry destroy")
                    .await,
                |e| format!("Tearing down `{}`.", e.id),
            )?,
            Command::Extend { hours } => outcome(
                ctx.environments.extend(id.as_str(), *hours, &actor).await,
                |e| {
                    format!(
                        "`{}` now expires at {}.",
                        e.id,
                        e.expires_at.format("%Y-%m-%d %H:%M UTC")
                    )
                },
            )?,
            Command::Status => {
                let e = env.as_ref().expect("checked above");
                format!(
                    "`{}` is **{}**{}. Status page: {}",
                    e.id,
                    e.status,
                    e.status_message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default(),
                    ctx.settings.status_page_url(&e.id)
                )
            }
            Command::Help => HELP.to_owned(),
            Command::Unknown { text } => {
                format!("I don't know `{}`.\n\n{HELP}", text.replace('`', "'"))
            }
        }
    };
    respond(ctx, id, ev, &reply).await?;
    Ok(JobOutcome::Done)
}

/// The reply for a change that may be refused by the lifecycle (e.g. extending a terminated
/// environment): refusals are explained, not retried.
fn outcome(
    r: Result<crate::domain::Environment, ServiceError>,
    ok: impl FnOnce(&crate::domain::Environment) -> String,
) -> Result<String, ServiceError> {
    match r {
        Ok(e) => Ok(ok(&e)),
        Err(ServiceError::Conflict(m) | ServiceError::NotFound(m)) => {
            Ok(format!("Nothing done: {m}."))
        }
        Err(ServiceError::Invalid { field, message }) => {
            Ok(format!("Nothing done: {field} {message}."))
        }
        Err(e) => Err(e),
    }
}

async fn allowed(ctx: &Context, ev: &CommandEvent) -> Result<bool, ServiceError> {
    if !ctx.ports.githost.is_configured() {
        return Ok(false);
    }
    if let Some(level) = ctx.access.get(ev.project_id, ev.user_id) {
        return Ok(level >= AccessLevel::DEVELOPER);
    }
    let level = ctx
        .ports
        .githost
        .access_level(ev.project_id, ev.user_id)
        .await
        .map_err(|e| ServiceError::Unavailable("GitLab", e.into()))?;
    ctx.access.put(ev.project_id, ev.user_id, level);
    Ok(level >= AccessLevel::DEVELOPER)
}

async fn respond(
    ctx: &Context,
    id: &EnvironmentId,
    ev: &CommandEvent,
    reply: &str,
) -> Result<(), ServiceError> {
    let githost = &ctx.ports.githost;
    let message = if githost.is_configured() {
        let mr = MergeRequestRef {
            project_id: ev.project_id,
            iid: ev.iid,
        };
        if let Err(e) = githost
            .upsert_note(&mr, None, &format!("{MARKER}\n{reply}"))
            .await
        {
            tracing::warn!(error = %e, "could not reply on the merge request");
        }
        format!("replied to @{}: {reply}", ev.username)
    } else {
        format!(
            "GitLab is not configured; would have replied to @{}: {reply}",
            ev.username
        )
    };
    if ctx.ports.store.get_environment(id).await?.is_some() {
        ctx.ports
            .store
            .append_events(
                id,
                &[NewEvent::new(EventKind::Notification, "blueberry", message)],
            )
            .await?;
    }
    Ok(())
}
