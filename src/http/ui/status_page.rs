//! The status page every MR note links to (`GET /environments/{id}`); the actions it offers are
//! in `status_actions.rs`.
//!
//! Long on purpose: the page's view model (rollout, causes, events, queue) is built in one pass
//! over the record.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};

use super::{
    Chrome, UiError,
    environments::safe_link,
    rollout::{RolloutView, rollout, timeline},
    view::{OrPage, clock, relative, when},
};
use crate::{
    domain::{EnvironmentEvent, EventKind, Status},
    service::{Context, archive::Found},
};

pub struct MergeRequestView {
    pub iid: u64,
    pub title: String,
    pub url: Option<String>,
    pub author: String,
}

pub struct EventRow {
    pub at: String,
    pub at_iso: String,
    pub kind: String,
    pub actor: String,
    pub message: String,
    pub problem: bool,
    /// How many times in a row this step happened.
    pub times: usize,
}

/// Why the environment failed, or why its last attempt did, up front.
pub struct Cause {
    pub title: String,
    /// In Argo CD's words: the degraded resource and its message.
    pub message: String,
    /// When the next attempt runs, if one will.
    pub next: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "environments/show.html")]
pub struct StatusPage {
    pub chrome: Chrome,
    pub id: String,
    pub status: String,
    pub message: String,
    pub urls: Vec<String>,
    pub repository: String,
    pub branch: String,
    /// The commit, abbreviated and whole.
    pub sha: Option<(String, String)>,
    pub merge_request: Option<MergeRequestView>,
    pub namespace: String,
    pub application: String,
    pub health: String,
    pub sync: String,
    pub attempt: u32,
    pub ttl_hours: u16,
    pub created: String,
    pub expires: String,
    pub expires_iso: String,
    pub time_left: String,
    pub terminated: Option<String>,
    /// The badge: the status, or `retrying` for a pending environment whose attempts failed.
    pub badge: String,
    pub cause: Option<Cause>,
    /// The managed resources by sync wave.
    pub rollout: Option<RolloutView>,
    /// The commit in GitLab, when the merge request's address says where that is.
    pub sha_url: Option<String>,
    pub events: Vec<EventRow>,
    /// GitLab updates recorded instead of sent (GitLab is not configured).
    pub unsent: Vec<EventRow>,
    /// What went wrong with the action just tried, shown above the actions.
    pub action_error: Option<String>,
    pub can_change: bool,
    pub can_retry: bool,
    /// Signed in, so the page can follow the SSE stream.
    pub live: bool,
    /// Shown from its archive: the store let it go after its retention.
    pub archived: bool,
    /// Who keeps it from expiring.
    pub kept_by: Option<String>,
    /// Its place in line under a quota.
    pub queue: Option<QueueView>,
    /// Since when it sleeps (scaled to zero).
    pub asleep_since: Option<String>,
    /// "≈ $1.84 so far, $0.92 saved by sleeping", once applied.
    pub cost: Option<String>,
    /// A fork's approval: the commit approved, by whom, and a newer head waiting for one.
    pub fork: Option<(String, String, Option<String>)>,
}

/// Where an environment stands in line, for the status page.
pub struct QueueView {
    /// "3rd", or empty until the controller has placed it.
    pub position: String,
    /// "5 of 5 running in this repository".
    pub load: String,
    pub since: String,
}

fn event_row(e: &EnvironmentEvent) -> EventRow {
    let kind = serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    EventRow {
        at: when(&e.at),
        at_iso: e.at.to_rfc3339(),
        kind: kind.replace('_', " "),
        actor: e.actor.clone(),
        message: e.message.clone(),
        problem: matches!(
            e.kind,
            EventKind::Degraded | EventKind::Failed | EventKind::RetryScheduled
        ),
        times: 1,
    }
}

/// `https://gitlab.example.com/acme/shop/-/commit/{sha}` from the merge request's address.
fn commit_url(mr_url: &str, sha: &str) -> Option<String> {
    let (project, _) = mr_url.split_once("/-/merge_requests/")?;
    safe_link(&format!("{project}/-/commit/{sha}"))
}

pub(super) async fn status_page(
    ctx: &Context,
    chrome: Chrome,
    id: &str,
    action_error: Option<String>,
) -> Result<StatusPage, UiError> {
    let live = ctx.environments.get(id).await;
    let (env, events, archived) = match ctx.archives.unless_archived(id, live).await {
        Ok(Found::Live(env)) => {
            let events = ctx.environments.events(id).await.or_page(&chrome)?;
            (env, events, false)
        }
        Ok(Found::Archived(archive)) => {
            let archive = *archive;
            (archive.environment, archive.events, true)
        }
        Err(e) => return Err(e).or_page(&chrome),
    };
    let repository = match ctx.catalog.get_repository(&env.repository_id).await {
        Ok(r) => r.path_with_namespace,
        Err(_) => env.repository_id.clone(),
    };
    let now = ctx.ports.clock.now();
    let active =
        !archived && matches!(env.status, Status::Pending | Status::Ready | Status::Failed);
    let last_failure = events
        .iter()
        .rev()
        .find(|e| matches!(e.kind, EventKind::Degraded | EventKind::Failed));
    let retrying = env.status == Status::Pending && env.attempt > 1;
    let max = ctx.settings.lifecycle.max_attempts;
    let cause = match (env.status, last_failure) {
        (Status::Failed, _) => Some(Cause {
            title: "Why it failed".into(),
            message: env
                .observed
                .message
                .clone()
                .or_else(|| env.status_message.clone())
                .unwrap_or_default(),
            next: None,
        }),
        (Status::Pending, Some(e)) if retrying => Some(Cause {
            title: format!("Why attempt {} failed", env.attempt - 1),
            message: e
                .message
                .split_once(" failed: ")
                .map_or(e.message.as_str(), |(_, why)| why)
                .to_owned(),
            next: Some(match env.rollout.not_before.filter(|t| *t > now) {
                Some(t) => format!(
                    "Attempt {} of {max} starts at {} ({}).",
                    env.attempt,
                    clock(&t, now),
                    relative(&t, now)
                ),
                None => format!("Attempt {} of {max} is running.", env.attempt),
            }),
        }),
        _ => None,
    };
    let (rows, unsent) = timeline(&events);
    let sha_url = match (&env.merge_request, &env.sha) {
        (Some(mr), Some(sha)) => commit_url(&mr.url, sha.as_str()),
        _ => None,
    };
    Ok(StatusPage {
        badge: if retrying {
            "retrying".into()
        } else if env.waiting.is_some() && env.status == Status::Pending {
            "queued".into()
        } else if env.asleep.is_some() && env.status == Status::Ready {
            "asleep".into()
        } else {
            env.status.to_string()
        },
        cause,
        rollout: rollout(&env.observed.resources).filter(|_| active),
        sha_url,
        id: env.id.to_string(),
        status: env.status.to_string(),
        message: env.status_message.clone().unwrap_or_default(),
        urls: vec![format!(
            "https://{}",
            env.id.hostname(&ctx.settings.base_domain)
        )],
        repository,
        branch: env.branch.to_string(),
        sha: env.sha.as_ref().map(|sha| {
            let full = sha.to_string();
            (full.chars().take(8).collect(), full)
        }),
        merge_request: env.merge_request.as_ref().map(|mr| MergeRequestView {
            iid: mr.iid,
            title: mr.title.clone(),
            url: safe_link(&mr.url),
            author: mr.author.clone(),
        }),
        namespace: env.id.namespace(&ctx.settings.manifest.namespace_prefix),
        application: env.id.application_name(),
        health: env.observed.health.clone().unwrap_or_else(|| "—".into()),
        sync: env.observed.sync.clone().unwrap_or_else(|| "—".into()),
        attempt: env.attempt,
        ttl_hours: env.ttl_hours.hours(),
        created: when(&env.created_at),
        expires: clock(&env.expires_at, now),
        expires_iso: env.expires_at.to_rfc3339(),
        time_left: relative(&env.expires_at, now),
        terminated: env.terminated_at.as_ref().map(when),
        events: rows
            .iter()
            .map(|r| EventRow {
                times: r.times,
                ..event_row(&r.event)
            })
            .collect(),
        unsent: unsent.iter().map(event_row).collect(),
        action_error,
        can_change: chrome.can_write() && active,
        can_retry: chrome.can_write() && !archived && env.status == Status::Failed,
        kept_by: env.kept.as_ref().map(|k| {
            if k.by_label {
                format!("{} (label)", k.by)
            } else {
                k.by.clone()
            }
        }),
        queue: env
            .waiting
            .as_ref()
            .filter(|_| env.status == Status::Pending)
            .map(|w| QueueView {
                position: if w.position == 0 {
                    String::new()
                } else {
                    crate::domain::quota::ordinal(w.position)
                },
                load: w.load(),
                since: when(&w.since),
            }),
        cost: env
            .cost(now, &ctx.settings.cost_rates)
            .map(|(spent, saved)| crate::domain::cost::describe(spent, saved)),
        asleep_since: env
            .asleep
            .as_ref()
            .filter(|_| env.is_live_not_deleting())
            .map(|a| when(&a.since)),
        fork: env.fork.as_ref().map(|f| {
            (
                f.sha.short().to_owned(),
                f.by.clone(),
                f.unapproved_head.as_ref().map(|h| h.short().to_owned()),
            )
        }),
        live: chrome.user.is_some() && !archived,
        archived,
        chrome,
    })
}

/// `GET /environments/{id}`: the status page.
pub async fn show(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path(id): Path<String>,
) -> Result<StatusPage, UiError> {
    // A signed-in person looking is activity: idle sleep waits.
    if chrome.user.is_some()
        && let Err(e) = ctx.environments.touch(&id).await
        && !matches!(e, crate::service::ServiceError::NotFound(_))
    {
        tracing::debug!(error = %e, id, "could not record the visit");
    }
    status_page(&ctx, chrome, &id, None).await
}

#[cfg(test)]
mod tests {
    use super::commit_url;

    #[test]
    fn commits_link_into_the_merge_requests_project() {
        assert_eq!(
            commit_url(
                "https://gitlab.example.com/acme/shop/-/merge_requests/42",
                "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
            )
            .as_deref(),
            Some(
                "https://gitlab.example.com/acme/shop/-/commit/da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
            )
        );
        assert_eq!(
            commit_url("javascript:alert(1)/-/merge_requests/1", "ab"),
            None
        );
        assert_eq!(
            commit_url("https://gitlab.example.com/acme/shop", "ab"),
            None
        );
    }
}
