//! A `/blueberry` command from a merge request comment. Commands that change anything need at
//! least Developer access; everyone gets an answer. A command takes effect once per GitLab note
//! id (recorded in the same write as its effect, with its reply), so a redelivery changes
//! nothing and posts nothing twice.

use crate::{
    domain::{
        Environment, EnvironmentId, LifecycleJob,
        commands::{Command, HELP},
        gitlab::CommandEvent,
    },
    ports::githost::AccessLevel,
    service::{
        Context, ServiceError,
        environments::{KeepBy, Once},
    },
};

use super::{
    JobOutcome,
    settled::{Settled, settled},
};

pub async fn run(
    ctx: &Context,
    id: &EnvironmentId,
    repository_id: &str,
    ev: &CommandEvent,
) -> Result<JobOutcome, ServiceError> {
    let actor = format!("gitlab:{}", ev.username);
    let env = ctx.ports.environments.get_environment(id).await?;
    if env.as_ref().is_some_and(|e| e.applied_note(ev.note_id)) {
        // Applied before; its reply was queued with it.
        return Ok(JobOutcome::Done);
    }
    let reply = |text: String| LifecycleJob::Reply {
        environment_id: id.clone(),
        project_id: ev.project_id,
        iid: ev.iid,
        reply_to: format!("note:{}", ev.note_id),
        text,
    };
    let text = if ev.command.changes_something() && !allowed(ctx, ev).await? {
        if ev.command.needs_maintainer() {
            format!(
                "@{} sorry, `/blueberry approve` lets a fork's code run with the platform's credentials, so it needs Maintainer access to this project.",
                ev.username
            )
        } else {
            format!(
                "@{} sorry, `/blueberry` commands that change the environment need at least Developer access to this project. `/blueberry status` and `/blueberry help` work for everyone.",
                ev.username
            )
        }
    } else if ev.command == Command::Approve {
        match super::approve::run(ctx, id, repository_id, ev, env.as_ref(), &reply).await? {
            Some(text) => text,
            None => return Ok(JobOutcome::Done),
        }
    } else if env.is_none() && !matches!(ev.command, Command::Help | Command::Unknown { .. }) {
        "This merge request has no Blueberry environment (yet). Open or update the merge request to get one.".to_owned()
    } else {
        match &ev.command {
            Command::Redeploy => {
                let answer = |e: &Environment| {
                    reply(format!(
                        "Redeploying `{}` at `{}`.",
                        e.id,
                        e.target_revision()
                    ))
                };
                let once = Once::new(ev.note_id, &answer);
                let done = ctx
                    .environments
                    .redeploy_with(id.as_str(), None, &actor, Some(&once))
                    .await;
                match settled(done, ev.note_id)? {
                    Settled::Done => return Ok(JobOutcome::Done),
                    Settled::Unchanged(_) => "Nothing to redeploy.".to_owned(),
                    Settled::Refused(m) => m,
                }
            }
            Command::Destroy => {
                let answer = |e: &Environment| reply(format!("Tearing down `{}`.", e.id));
                let once = Once::new(ev.note_id, &answer);
                let done = ctx
                    .environments
                    .request_teardown_with(id.as_str(), &actor, "/blueberry destroy", Some(&once))
                    .await;
                match settled(done, ev.note_id)? {
                    Settled::Done => return Ok(JobOutcome::Done),
                    Settled::Unchanged(e) => format!("`{}` is already being torn down.", e.id),
                    Settled::Refused(m) => m,
                }
            }
            Command::Extend { hours } => {
                let answer = |e: &Environment| {
                    reply(format!(
                        "`{}` now expires at {}.",
                        e.id,
                        e.expires_at.format("%Y-%m-%d %H:%M UTC")
                    ))
                };
                let once = Once::new(ev.note_id, &answer);
                let done = ctx
                    .environments
                    .extend_with(id.as_str(), *hours, &actor, Some(&once))
                    .await;
                match settled(done, ev.note_id)? {
                    Settled::Done => return Ok(JobOutcome::Done),
                    Settled::Unchanged(e) => format!("`{}` is not extended.", e.id),
                    Settled::Refused(m) => m,
                }
            }
            Command::Keep | Command::Unkeep => {
                let keep = ev.command == Command::Keep;
                let answer = |e: &Environment| {
                    reply(if keep {
                        format!(
                            "`{}` is kept: it will not expire. Closing or merging the merge request still tears it down; `/blueberry unkeep` lets it expire again.",
                            e.id
                        )
                    } else {
                        format!(
                            "`{}` is no longer kept: it expires at {}.",
                            e.id,
                            e.expires_at.format("%Y-%m-%d %H:%M UTC")
                        )
                    })
                };
                let once = Once::new(ev.note_id, &answer);
                let done = ctx
                    .environments
                    .keep_with(id.as_str(), keep, &actor, KeepBy::Person, Some(&once))
                    .await;
                match settled(done, ev.note_id)? {
                    Settled::Done => return Ok(JobOutcome::Done),
                    Settled::Unchanged(e) if keep => format!("`{}` is already kept.", e.id),
                    Settled::Unchanged(e) => format!("`{}` is not kept.", e.id),
                    Settled::Refused(m) => m,
                }
            }
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
            Command::Sleep | Command::Wake => {
                let asleep = ev.command == Command::Sleep;
                let answer = |e: &Environment| {
                    reply(if asleep {
                        format!(
                            "`{}` is going to sleep: scaled to zero until `/blueberry wake` or a visit to its URL.",
                            e.id
                        )
                    } else {
                        format!(
                            "Waking `{}`: it is ready again once Argo CD says Healthy.",
                            e.id
                        )
                    })
                };
                let once = Once::new(ev.note_id, &answer);
                let done = ctx
                    .environments
                    .sleep_with(id.as_str(), asleep, &actor, Some(&once))
                    .await;
                match settled(done, ev.note_id)? {
                    Settled::Done => return Ok(JobOutcome::Done),
                    Settled::Unchanged(e) if asleep => format!("`{}` is already asleep.", e.id),
                    Settled::Unchanged(e) => format!("`{}` is awake.", e.id),
                    Settled::Refused(m) => m,
                }
            }
            Command::Approve => unreachable!("answered above"),
            Command::Help => HELP.to_owned(),
            Command::Unknown { text } => {
                format!("I don't know `{}`.\n\n{HELP}", text.replace('`', "'"))
            }
        }
    };
    // Nothing changed: the reply alone (found by its marker before it is posted twice).
    ctx.environments.enqueue(&reply(text)).await?;
    Ok(JobOutcome::Done)
}

async fn allowed(ctx: &Context, ev: &CommandEvent) -> Result<bool, ServiceError> {
    if !ctx.ports.githost.is_configured() {
        return Ok(false);
    }
    let needed = if ev.command.needs_maintainer() {
        AccessLevel::MAINTAINER
    } else {
        AccessLevel::DEVELOPER
    };
    if let Some(level) = ctx.access.get(ev.project_id, ev.user_id) {
        return Ok(level >= needed);
    }
    let level = ctx
        .ports
        .githost
        .access_level(ev.project_id, ev.user_id)
        .await
        .map_err(|e| ServiceError::Unavailable("GitLab", e.into()))?;
    ctx.access.put(ev.project_id, ev.user_id, level);
    Ok(level >= needed)
}
