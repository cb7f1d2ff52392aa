//! `/blueberry approve`: a Maintainer lets a fork merge request's head run. It deploys the head
//! the comment was made on (what the maintainer looked at), never a commit pushed after it; the
//! fork's next push needs a new approval.

use crate::{
    domain::{
        Environment, EnvironmentId, EnvironmentName, LifecycleJob, MergeRequest, Status,
        environment::ForkApproval,
        gitlab::{CommandEvent, MergeRequestEvent, admits},
    },
    service::{
        Context, ServiceError,
        environments::{CreateEnvironment, Once},
    },
};

use super::settled::{Settled, settled};

/// Approves and deploys; the reply to post when nothing committed one with the change.
pub async fn run(
    ctx: &Context,
    id: &EnvironmentId,
    repository_id: &str,
    ev: &CommandEvent,
    env: Option<&Environment>,
    reply: &(dyn Fn(String) -> LifecycleJob + Send + Sync),
) -> Result<Option<String>, ServiceError> {
    let actor = format!("gitlab:{}", ev.username);
    if !ev.from_fork {
        return Ok(Some(
            "This merge request is not from a fork: it needs no approval.".into(),
        ));
    }
    let ports = &ctx.ports;
    let stored = ports
        .deliveries
        .merge_request_event(&format!("{repository_id}:{}", ev.iid))
        .await?
        .and_then(|raw| serde_json::from_str::<MergeRequestEvent>(&raw).ok());
    let Some(mr) = stored else {
        return Ok(Some(
            "Nothing done: Blueberry has not seen this merge request's events yet; try again in a moment.".into(),
        ));
    };
    if mr.is_closed() {
        return Ok(Some("Nothing done: the merge request is closed.".into()));
    }
    let Some(head) = ev.head_sha.clone().or_else(|| mr.head_sha.clone()) else {
        return Ok(Some(
            "Nothing done: GitLab did not say which commit is the merge request's head.".into(),
        ));
    };
    // Pushed after the comment: not what the maintainer looked at, so it waits.
    let pushed_after = matches!((mr.commit_at, ev.head_at), (Some(m), Some(c)) if m > c);
    let newest = mr.head_sha.clone().filter(|n| *n != head && pushed_after);
    let live = env.filter(|e| e.status.is_live());
    if let Some(e) = live {
        if e.status == Status::Deleting {
            return Ok(Some(format!(
                "Nothing done: `{}` is being torn down; approve again once it is gone.",
                e.id
            )));
        }
        let answer = |e: &Environment| {
            reply(format!(
                "Approved `{}` by @{}: deploying it to `{}`. Each new push to the fork needs a new `/blueberry approve`.",
                head.short(),
                ev.username,
                e.id
            ))
        };
        let once = Once::new(ev.note_id, &answer);
        let done = ctx
            .environments
            .approve_fork(id.as_str(), head.clone(), newest, &actor, Some(&once))
            .await;
        return Ok(match settled(done, ev.note_id)? {
            Settled::Done => None,
            Settled::Unchanged(e) => Some(format!(
                "`{}` already runs the approved `{}`.",
                e.id,
                head.short()
            )),
            Settled::Refused(m) => Some(m),
        });
    }
    let Some(repo) = ports.catalog.get_repository(repository_id).await? else {
        return Ok(Some(
            "Nothing done: the repository is no longer connected.".into(),
        ));
    };
    if let Err(why) = admits(&mr, &repo.filters) {
        return Ok(Some(format!(
            "Nothing done: this merge request gets no environment ({why})."
        )));
    }
    let request = CreateEnvironment {
        name: EnvironmentName::for_merge_request(ev.iid).to_string(),
        repository_id: repo.id.clone(),
        branch: Some(mr.source_branch.clone()),
        sha: Some(head.to_string()),
        merge_request: Some(MergeRequest {
            iid: mr.iid,
            title: mr.title.clone(),
            url: mr.url.clone(),
            author: mr.author.clone(),
        }),
        fork: Some(ForkApproval {
            by: actor.clone(),
            at: ctx.ports.clock.now(),
            sha: head.clone(),
            unapproved_head: newest,
        }),
        ..Default::default()
    };
    Ok(Some(match ctx.environments.create(request, &actor).await {
        Ok(e) => format!(
            "Approved `{}` by @{}: deploying it to `{}`. Each new push to the fork needs a new `/blueberry approve`.",
            head.short(),
            ev.username,
            e.id
        ),
        Err(ServiceError::Conflict(m) | ServiceError::NotFound(m)) => {
            format!("Nothing done: {m}.")
        }
        Err(
            ServiceError::Invalid { field, message } | ServiceError::Dangling { field, message },
        ) => format!("Nothing done: {field} {message}."),
        Err(e) => return Err(e),
    }))
}
