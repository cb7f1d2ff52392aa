//! Environment pages: the list, the status page MR notes link to, the create form, and the
//! redeploy / retry / extend / destroy actions.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    Chrome, ConfirmPage, UiError,
    forms::{self, FieldErrors},
    view::{Choice, OrPage, choices, relative, when},
};
use crate::{
    domain::{Environment, EnvironmentEvent, EventKind, Repository, Status},
    ports::{EnvironmentFilter, PageRequest},
    service::{Context, environments::CreateEnvironment},
};

const PAGE_SIZE: u32 = 25;

/// Filters as typed into the list's form; blank means "any".
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub repository_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub cursor: String,
}

pub struct Row {
    pub id: String,
    pub status: String,
    pub message: String,
    pub repository: String,
    pub branch: String,
    pub merge_request: Option<(u64, String)>,
    pub expires: String,
    pub expires_at: String,
    pub updated: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "environments/list.html")]
pub struct ListPage {
    pub chrome: Chrome,
    pub rows: Vec<Row>,
    pub repositories: Vec<Choice>,
    pub filter: ListQuery,
    pub statuses: Vec<Choice>,
    pub error: Option<String>,
    /// This page's own URL, fetched again when an SSE event arrives.
    pub self_url: String,
    pub next_url: Option<String>,
}

/// Only http(s) links from GitLab payloads become hrefs.
fn safe_link(url: &str) -> Option<String> {
    (url.starts_with("https://") || url.starts_with("http://")).then(|| url.to_owned())
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    s.finish()
}

fn repository_names(repos: &[Repository]) -> HashMap<&str, &str> {
    repos
        .iter()
        .map(|r| (r.id.as_str(), r.path_with_namespace.as_str()))
        .collect()
}

/// `GET /environments`
pub async fn list(
    State(ctx): State<Context>,
    chrome: Chrome,
    Query(filter): Query<ListQuery>,
) -> Result<Response, UiError> {
    let now = ctx.ports.clock.now();
    let repos = ctx.catalog.list_repositories().await.or_page(&chrome)?;
    let names = repository_names(&repos);
    let status = match filter.status.as_str() {
        "" => Ok(None),
        s => Status::parse(s)
            .map(Some)
            .ok_or_else(|| format!("unknown status {s:?}; choose one of the statuses in the list")),
    };
    let mut error = status.as_ref().err().cloned();
    let mut rows = Vec::new();
    let mut next_url = None;
    if let Ok(status) = status {
        let wanted = EnvironmentFilter {
            status,
            repository_id: forms::optional(&filter.repository_id),
            name_prefix: forms::optional(&filter.name),
        };
        let page = ctx
            .environments
            .list(
                &wanted,
                &PageRequest {
                    limit: PAGE_SIZE,
                    cursor: forms::optional(&filter.cursor),
                },
            )
            .await;
        match page {
            Ok(page) => {
                rows = page.items.iter().map(|e| row(e, &names, now)).collect();
                next_url = page.next.map(|cursor| {
                    let q = query_string(&[
                        ("status", &filter.status),
                        ("repository_id", &filter.repository_id),
                        ("name", &filter.name),
                        ("cursor", &cursor),
                    ]);
                    format!("/environments?{q}")
                });
            }
            Err(crate::service::ServiceError::BadRequest(m)) => error = Some(m),
            Err(e) => return Err(UiError::new(&chrome, e)),
        }
    }
    let self_url = format!(
        "/environments?{}",
        query_string(&[
            ("status", &filter.status),
            ("repository_id", &filter.repository_id),
            ("name", &filter.name),
            ("cursor", &filter.cursor),
        ])
    );
    let status_code = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ListPage {
        chrome,
        rows,
        repositories: choices(
            repos
                .iter()
                .map(|r| (r.id.clone(), r.path_with_namespace.clone())),
            &filter.repository_id,
        ),
        statuses: choices(
            ["pending", "ready", "failed", "deleting", "terminated"].map(|s| (s, s)),
            &filter.status,
        ),
        filter,
        error,
        self_url,
        next_url,
    };
    Ok((status_code, page).into_response())
}

fn row(e: &Environment, repos: &HashMap<&str, &str>, now: chrono::DateTime<chrono::Utc>) -> Row {
    Row {
        id: e.id.to_string(),
        status: e.status.to_string(),
        message: e.status_message.clone().unwrap_or_default(),
        repository: repos
            .get(e.repository_id.as_str())
            .map_or_else(|| e.repository_id.clone(), |n| (*n).to_owned()),
        branch: e.branch.to_string(),
        merge_request: e
            .merge_request
            .as_ref()
            .and_then(|mr| safe_link(&mr.url).map(|u| (mr.iid, u))),
        expires: if e.status == Status::Terminated {
            "—".to_owned()
        } else {
            relative(&e.expires_at, now)
        },
        expires_at: when(&e.expires_at),
        updated: relative(&e.updated_at, now),
    }
}

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

/// The create form's fields, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct NewForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub repository_id: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub config_set_id: String,
    #[serde(default)]
    pub ttl_hours: String,
    #[serde(default)]
    pub helm_values_override: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "environments/new.html")]
pub struct NewPage {
    pub chrome: Chrome,
    pub form: NewForm,
    pub errors: FieldErrors,
    pub repositories: Vec<Choice>,
    pub config_sets: Vec<Choice>,
    pub default_ttl: u16,
}

async fn new_page(
    ctx: &Context,
    chrome: Chrome,
    form: NewForm,
    errors: FieldErrors,
) -> Result<NewPage, UiError> {
    let repositories = ctx.catalog.list_repositories().await.or_page(&chrome)?;
    let config_sets = ctx.catalog.list_config_sets().await.or_page(&chrome)?;
    Ok(NewPage {
        chrome,
        repositories: choices(
            repositories
                .into_iter()
                .map(|r| (r.id, r.path_with_namespace)),
            &form.repository_id,
        ),
        config_sets: choices(
            config_sets.into_iter().map(|c| (c.id, c.name)),
            &form.config_set_id,
        ),
        form,
        errors,
        default_ttl: ctx.settings.default_ttl.hours(),
    })
}

/// `GET /environments/new`
pub async fn new_form(State(ctx): State<Context>, chrome: Chrome) -> Result<NewPage, UiError> {
    let form = NewForm {
        branch: "main".into(),
        ..NewForm::default()
    };
    new_page(&ctx, chrome, form, FieldErrors::default()).await
}

/// `POST /environments`: creates from the form, then shows the status page.
pub async fn create(
    State(ctx): State<Context>,
    chrome: Chrome,
    Form(form): Form<NewForm>,
) -> Result<Response, UiError> {
    let mut errors = FieldErrors::default();
    let ttl_hours = forms::optional_int(&mut errors, "ttl_hours", &form.ttl_hours);
    let overrides = forms::optional_object(
        &mut errors,
        "helm_values_override",
        &form.helm_values_override,
    );
    if form.repository_id.trim().is_empty() {
        errors.add("repository_id", "choose a repository");
    }
    if errors.is_empty() {
        let input = CreateEnvironment {
            name: form.name.trim().to_owned(),
            repository_id: form.repository_id.clone(),
            branch: Some(forms::optional(&form.branch).unwrap_or_else(|| "main".into())),
            config_set_id: forms::optional(&form.config_set_id),
            ttl_hours,
            helm_values_override: overrides,
            sha: None,
            merge_request: None,
        };
        let actor = chrome.actor();
        match ctx.environments.create(input, &actor).await {
            Ok(env) => {
                return Ok(
                    Redirect::to(&format!("/environments/{}?done=created", env.id)).into_response(),
                );
            }
            Err(e) => {
                errors = FieldErrors::from_service(
                    e,
                    &[
                        "name",
                        "repository_id",
                        "branch",
                        "config_set_id",
                        "ttl_hours",
                        "helm_values_override",
                    ],
                )
                .or_page(&chrome)?;
            }
        }
    }
    Ok(forms::rejected(new_page(&ctx, chrome, form, errors).await?))
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
