//! The status page every MR note links to (`GET /environments/{id}`), and the redeploy /
//! retry / extend / destroy actions it offers.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    Chrome, ConfirmPage, UiError,
    environments::safe_link,
    view::{OrPage, relative, when},
};
use crate::{
    domain::{EnvironmentEvent, EventKind, Status},
    service::Context,
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
    pub last_error: Option<EventRow>,
    pub events: Vec<EventRow>,
    /// What went wrong with the action just tried, shown above the actions.
    pub action_error: Option<String>,
    pub can_change: bool,
    pub can_retry: bool,
    /// Signed in, so the page can follow the SSE stream.
    pub live: bool,
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
    }
}

async fn status_page(
    ctx: &Context,
    chrome: Chrome,
    id: &str,
    action_error: Option<String>,
) -> Result<StatusPage, UiError> {
    let env = ctx.environments.get(id).await.or_page(&chrome)?;
    let events = ctx.environments.events(id).await.or_page(&chrome)?;
    let repository = match ctx.catalog.get_repository(&env.repository_id).await {
        Ok(r) => r.path_with_namespace,
        Err(_) => env.repository_id.clone(),
    };
    let now = ctx.ports.clock.now();
    let active = matches!(env.status, Status::Pending | Status::Ready | Status::Failed);
    let last_error = events
        .iter()
        .rev()
        .find(|e| {
            matches!(
                e.kind,
                EventKind::Degraded | EventKind::Failed | EventKind::RetryScheduled
            )
        })
        .map(event_row);
    Ok(StatusPage {
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
            (full.chars().take(12).collect(), full)
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
        expires: when(&env.expires_at),
        expires_iso: env.expires_at.to_rfc3339(),
        time_left: relative(&env.expires_at, now),
        terminated: env.terminated_at.as_ref().map(when),
        last_error,
        events: events.iter().rev().map(event_row).collect(),
        action_error,
        can_change: chrome.can_write() && active,
        can_retry: chrome.can_write() && env.status == Status::Failed,
        live: chrome.user.is_some(),
        chrome,
    })
}

/// `GET /environments/{id}`: the status page.
pub async fn show(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path(id): Path<String>,
) -> Result<StatusPage, UiError> {
    status_page(&ctx, chrome, &id, None).await
}

/// An action's form: the confirmation, and the hours for `extend`.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    pub confirm: String,
    #[serde(default)]
    pub hours: String,
}

/// `POST /environments/{id}/{action}`: redeploy, retry, extend or destroy. Without
/// `confirm=yes` (a browser without JavaScript) it first asks.
pub async fn act(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    let (question, button) = match action.as_str() {
        "redeploy" => ("Redeploy this environment?", "Redeploy"),
        "retry" => ("Retry this failed environment?", "Retry"),
        "extend" => ("Extend this environment's expiry?", "Extend"),
        "destroy" => (
            "Destroy this environment? Its namespace and data are deleted.",
            "Destroy",
        ),
        other => {
            return Err(UiError::new(
                &chrome,
                crate::http::errors::ApiError::not_found(format!(
                    "no environment action {other:?}; use redeploy, retry, extend or destroy"
                )),
            ));
        }
    };
    if form.confirm != "yes" {
        let page = ConfirmPage {
            question: format!("{question} ({id})"),
            action: format!("/environments/{id}/{action}"),
            button: button.to_owned(),
            hours: (action == "extend").then(|| form.hours.clone()),
            back: format!("/environments/{id}"),
            chrome,
        };
        return Ok(page.into_response());
    }
    let actor = chrome.actor();
    let result = match action.as_str() {
        "redeploy" => ctx.environments.redeploy(&id, None, &actor).await,
        "retry" => ctx.environments.retry(&id, &actor).await,
        "extend" => match form.hours.trim().parse::<i64>() {
            Ok(h) => ctx.environments.extend(&id, h, &actor).await,
            Err(_) => Err(crate::service::ServiceError::invalid(
                "hours",
                format!("must be a whole number of hours, not {:?}", form.hours),
            )),
        },
        _ => {
            ctx.environments
                .request_teardown(&id, &actor, "destroyed from the web UI")
                .await
        }
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/environments/{id}?done={action}")).into_response()),
        Err(e) => {
            let status = crate::http::errors::ApiError::from(e);
            let code = status.status;
            let page = status_page(&ctx, chrome, &id, Some(status.detail)).await?;
            Ok((code, page).into_response())
        }
    }
}
