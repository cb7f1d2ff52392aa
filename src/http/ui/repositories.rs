//! Repository pages: the list, connecting one (the webhook secret is shown once, with the
//! GitLab setup steps), editing and disconnecting.
//!
//! Long on purpose: the list, connect, edit and disconnect pages share one form, its parsing and
//! its inline errors.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    Chrome, ConfirmPage, UiError,
    forms::{self, ConfirmForm, FieldErrors},
    view::{Choice, OrPage, choices, when},
};
use crate::{
    domain::{Repository, RepositoryFilters, repository::Lifetime, schedule::ScheduleParts},
    service::{Context, catalog::RepositoryInput},
};

const FIELDS: &[&str] = &[
    "name",
    "gitlab_project_id",
    "path_with_namespace",
    "config_set_id",
    "filters",
    "lifetime",
    "max_environments",
    "sleep_after_idle_minutes",
    "sleep_schedule",
    "webhook_signing_key",
];

/// The repository form's fields, as typed. Checkboxes are present when ticked.
#[derive(Debug, Default, Deserialize)]
pub struct RepoForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub gitlab_project_id: String,
    #[serde(default)]
    pub path_with_namespace: String,
    #[serde(default)]
    pub config_set_id: String,
    #[serde(default)]
    pub skip_drafts: Option<String>,
    #[serde(default)]
    pub allow_forks: Option<String>,
    #[serde(default)]
    pub include_labels: String,
    #[serde(default)]
    pub exclude_labels: String,
    #[serde(default)]
    pub target_branch_pattern: String,
    #[serde(default)]
    pub default_ttl_hours: String,
    #[serde(default)]
    pub max_ttl_hours: String,
    #[serde(default)]
    pub max_environments: String,
    #[serde(default)]
    pub sleep_after_idle_minutes: String,
    /// The sleep schedule's parts; none when all are blank.
    #[serde(default)]
    pub schedule_time_zone: String,
    #[serde(default)]
    pub schedule_days: String,
    #[serde(default)]
    pub schedule_from: String,
    #[serde(default)]
    pub schedule_until: String,
    /// Write-only: blank keeps the current key.
    #[serde(default)]
    pub webhook_signing_key: crate::domain::Secret,
}

impl RepoForm {
    fn from_repository(r: &Repository) -> Self {
        let schedule = r
            .sleep_schedule
            .as_ref()
            .map(ScheduleParts::of)
            .unwrap_or_default();
        Self {
            name: r.name.to_string(),
            gitlab_project_id: r.gitlab_project_id.to_string(),
            path_with_namespace: r.path_with_namespace.clone(),
            config_set_id: r.config_set_id.clone().unwrap_or_default(),
            skip_drafts: r.filters.skip_drafts.then(|| "on".into()),
            allow_forks: r.filters.allow_forks.then(|| "on".into()),
            include_labels: r.filters.include_labels.join(", "),
            exclude_labels: r.filters.exclude_labels.join(", "),
            target_branch_pattern: r.filters.target_branch_pattern.clone().unwrap_or_default(),
            default_ttl_hours: r
                .lifetime
                .default_ttl_hours
                .map(|h| h.to_string())
                .unwrap_or_default(),
            max_ttl_hours: r
                .lifetime
                .max_ttl_hours
                .map(|h| h.to_string())
                .unwrap_or_default(),
            max_environments: r
                .max_environments
                .map(|m| m.to_string())
                .unwrap_or_default(),
            sleep_after_idle_minutes: r
                .sleep_after_idle_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
            schedule_time_zone: schedule.time_zone,
            schedule_days: schedule.days.join(", "),
            schedule_from: schedule.from,
            schedule_until: schedule.until,
            webhook_signing_key: Default::default(),
        }
    }

    fn input(&self, errors: &mut FieldErrors) -> RepositoryInput {
        let project = forms::optional_int(errors, "gitlab_project_id", &self.gitlab_project_id);
        if project.is_none() && errors.of("gitlab_project_id").is_none() {
            errors.add("gitlab_project_id", "must not be empty");
        }
        RepositoryInput {
            name: self.name.trim().to_owned(),
            gitlab_project_id: project.unwrap_or_default(),
            path_with_namespace: self.path_with_namespace.trim().to_owned(),
            config_set_id: forms::optional(&self.config_set_id),
            filters: Some(RepositoryFilters {
                skip_drafts: self.skip_drafts.is_some(),
                include_labels: forms::list(&self.include_labels),
                exclude_labels: forms::list(&self.exclude_labels),
                target_branch_pattern: forms::optional(&self.target_branch_pattern),
                allow_forks: self.allow_forks.is_some(),
            }),
            webhook_signing_key: forms::optional(self.webhook_signing_key.expose())
                .map(crate::domain::Secret::new),
            lifetime: Some(Lifetime {
                default_ttl_hours: hours(errors, "lifetime", &self.default_ttl_hours),
                max_ttl_hours: hours(errors, "lifetime", &self.max_ttl_hours),
            }),
            max_environments: forms::optional_int(
                errors,
                "max_environments",
                &self.max_environments,
            ),
            sleep_after_idle_minutes: forms::optional_int(
                errors,
                "sleep_after_idle_minutes",
                &self.sleep_after_idle_minutes,
            ),
            sleep_schedule: self.schedule(),
        }
    }

    /// The schedule as typed: none when every part is blank; days separated by commas.
    fn schedule(&self) -> Option<ScheduleParts> {
        let parts = ScheduleParts {
            time_zone: self.schedule_time_zone.trim().to_owned(),
            days: forms::list(&self.schedule_days.to_ascii_lowercase()),
            from: self.schedule_from.trim().to_owned(),
            until: self.schedule_until.trim().to_owned(),
        };
        (parts != ScheduleParts::default()).then_some(parts)
    }
}

/// An optional number of hours as typed (the service checks the range).
fn hours(errors: &mut FieldErrors, field: &str, value: &str) -> Option<u16> {
    let n = forms::optional_int(errors, field, value)?;
    match u16::try_from(n) {
        Ok(h) => Some(h),
        Err(_) => {
            errors.add(field, format!("must be between 1 and 168 hours, not {n}"));
            None
        }
    }
}

pub struct RepoRow {
    pub id: String,
    pub name: String,
    pub path: String,
    pub project_id: u64,
    pub config_set: String,
    pub signing: bool,
    pub updated: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "repositories/list.html")]
pub struct ListPage {
    pub chrome: Chrome,
    pub rows: Vec<RepoRow>,
    pub form: RepoForm,
    pub errors: FieldErrors,
    pub config_sets: Vec<Choice>,
    pub webhook_url: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "repositories/connected.html")]
pub struct ConnectedPage {
    pub chrome: Chrome,
    pub id: String,
    pub path: String,
    pub webhook_url: String,
    pub webhook_secret: String,
    pub status_page_example: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "repositories/edit.html")]
pub struct EditPage {
    pub chrome: Chrome,
    pub id: String,
    pub form: RepoForm,
    pub errors: FieldErrors,
    pub config_sets: Vec<Choice>,
    pub signing: bool,
}

async fn config_set_choices(
    ctx: &Context,
    chrome: &Chrome,
    selected: &str,
) -> Result<Vec<Choice>, UiError> {
    let sets = ctx.catalog.list_config_sets().await.or_page(chrome)?;
    Ok(choices(sets.into_iter().map(|c| (c.id, c.name)), selected))
}

async fn list_page(
    ctx: &Context,
    chrome: Chrome,
    form: RepoForm,
    errors: FieldErrors,
) -> Result<ListPage, UiError> {
    let config_sets = config_set_choices(ctx, &chrome, &form.config_set_id).await?;
    let repos = ctx.catalog.list_repositories().await.or_page(&chrome)?;
    let rows = repos
        .iter()
        .map(|r| RepoRow {
            id: r.id.clone(),
            name: r.name.to_string(),
            path: r.path_with_namespace.clone(),
            project_id: r.gitlab_project_id,
            config_set: r
                .config_set_id
                .as_ref()
                .and_then(|id| config_sets.iter().find(|c| &c.value == id))
                .map_or_else(|| "—".to_owned(), |c| c.label.clone()),
            signing: r.webhook_signing_key.is_some(),
            updated: when(&r.updated_at),
        })
        .collect();
    Ok(ListPage {
        chrome,
        rows,
        form,
        errors,
        config_sets,
        webhook_url: format!("{}/webhooks/gitlab", ctx.settings.public_url),
    })
}

/// `GET /repositories`
pub async fn list(State(ctx): State<Context>, chrome: Chrome) -> Result<ListPage, UiError> {
    let form = RepoForm {
        skip_drafts: Some("on".into()),
        ..RepoForm::default()
    };
    list_page(&ctx, chrome, form, FieldErrors::default()).await
}

/// `POST /repositories`: connects a project and shows its webhook secret, once.
pub async fn create(
    State(ctx): State<Context>,
    chrome: Chrome,
    Form(form): Form<RepoForm>,
) -> Result<Response, UiError> {
    let mut errors = FieldErrors::default();
    let input = form.input(&mut errors);
    if errors.is_empty() {
        let actor = chrome.actor();
        match ctx.catalog.create_repository(input, &actor).await {
            Ok(connected) => {
                let r = &connected.repository;
                let page = ConnectedPage {
                    id: r.id.clone(),
                    path: r.path_with_namespace.clone(),
                    webhook_url: format!("{}/webhooks/gitlab", ctx.settings.public_url),
                    webhook_secret: connected.webhook_secret,
                    status_page_example: format!(
                        "{}/environments/pr-1-{}",
                        ctx.settings.public_url, r.name
                    ),
                    chrome,
                };
                return Ok((StatusCode::CREATED, page).into_response());
            }
            Err(e) => errors = FieldErrors::from_service(e, FIELDS).or_page(&chrome)?,
        }
    }
    Ok(forms::rejected(
        list_page(&ctx, chrome, form, errors).await?,
    ))
}

/// `GET /repositories/{id}`: the edit form.
pub async fn edit(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path(id): Path<String>,
) -> Result<EditPage, UiError> {
    let repo = ctx.catalog.get_repository(&id).await.or_page(&chrome)?;
    let form = RepoForm::from_repository(&repo);
    Ok(EditPage {
        config_sets: config_set_choices(&ctx, &chrome, &form.config_set_id).await?,
        form,
        signing: repo.webhook_signing_key.is_some(),
        errors: FieldErrors::default(),
        id,
        chrome,
    })
}

/// `POST /repositories/{id}`: saves the edit form.
pub async fn update(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path(id): Path<String>,
    Form(form): Form<RepoForm>,
) -> Result<Response, UiError> {
    let repo = ctx.catalog.get_repository(&id).await.or_page(&chrome)?;
    let mut errors = FieldErrors::default();
    let input = form.input(&mut errors);
    if errors.is_empty() {
        let actor = chrome.actor();
        match ctx.catalog.update_repository(&id, input, &actor).await {
            Ok(_) => return Ok(Redirect::to("/repositories?done=saved").into_response()),
            Err(e) => errors = FieldErrors::from_service(e, FIELDS).or_page(&chrome)?,
        }
    }
    let page = EditPage {
        config_sets: config_set_choices(&ctx, &chrome, &form.config_set_id).await?,
        signing: repo.webhook_signing_key.is_some(),
        form,
        errors,
        id,
        chrome,
    };
    Ok(forms::rejected(page))
}

/// `POST /repositories/{id}/delete`: asks first without `confirm=yes`.
pub async fn delete(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, UiError> {
    let repo = ctx.catalog.get_repository(&id).await.or_page(&chrome)?;
    if !form.confirmed() {
        let question = format!(
            "Disconnect {}? GitLab's webhook calls will be refused from now on.",
            repo.path_with_namespace
        );
        let (action, back) = (
            format!("/repositories/{id}/delete"),
            format!("/repositories/{id}"),
        );
        return Ok(ConfirmPage::ask(
            chrome,
            question,
            action,
            "Disconnect",
            back,
        ));
    }
    let actor = chrome.actor();
    ctx.catalog
        .delete_repository(&id, &actor)
        .await
        .or_page(&chrome)?;
    Ok(Redirect::to("/repositories?done=deleted").into_response())
}
