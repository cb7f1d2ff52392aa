//! Environment pages: the list and the create form (the status page is `status_page.rs`).
//!
//! Long on purpose: the list (filters, pages, live rows) and the create form share the environment
//! row and its links.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    Chrome, UiError,
    forms::{self, FieldErrors},
    view::{Choice, OrPage, choices, relative, when},
};
use crate::{
    domain::{BranchName, Environment, EnvironmentName, Repository, Status, TtlHours},
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
    /// `yes`: only environments kept from expiring.
    #[serde(default)]
    pub kept: String,
    /// `yes`: only sleeping environments.
    #[serde(default)]
    pub sleeping: String,
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
pub(super) fn safe_link(url: &str) -> Option<String> {
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
            kept: (filter.kept == "yes").then_some(true),
            sleeping: (filter.sleeping == "yes").then_some(true),
            occupancy: None,
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
                        ("kept", &filter.kept),
                        ("sleeping", &filter.sleeping),
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
            ("kept", &filter.kept),
            ("sleeping", &filter.sleeping),
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
    // The rules of each field at once, so every mistake shows together.
    if let Err(e) = EnvironmentName::parse(form.name.trim()) {
        errors.add("name", e.to_string());
    }
    if let Some(branch) = forms::optional(&form.branch)
        && let Err(e) = BranchName::parse(branch)
    {
        errors.add("branch", e.to_string());
    }
    if let Some(h) = ttl_hours
        && let Err(e) = TtlHours::new(h)
    {
        errors.add("ttl_hours", e.to_string());
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
            fork: None,
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
