//! Config set pages: the list with a create form, editing and deleting.

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
    forms::{self, ConfirmForm, FieldErrors},
    view::{OrPage, when},
};
use crate::{
    domain::{ChartSource, ConfigSet},
    service::{Context, catalog::ConfigSetInput},
};

const FIELDS: &[&str] = &[
    "name",
    "repo_url",
    "chart",
    "path",
    "target_revision",
    "values",
];

/// The config set form's fields, as typed. `source` is `chart` or `path`.
#[derive(Debug, Default, Deserialize)]
pub struct SetForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub repo_url: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub source_value: String,
    #[serde(default)]
    pub target_revision: String,
    #[serde(default)]
    pub values: String,
}

impl SetForm {
    fn from_set(c: &ConfigSet) -> Self {
        let (source, value) = match &c.source {
            ChartSource::Chart(v) => ("chart", v),
            ChartSource::Path(v) => ("path", v),
        };
        Self {
            name: c.name.clone(),
            repo_url: c.repo_url.clone(),
            source: source.into(),
            source_value: value.clone(),
            target_revision: c.target_revision.clone(),
            values: if c.values.is_empty() {
                String::new()
            } else {
                forms::pretty(&serde_json::Value::Object(c.values.clone()))
            },
        }
    }

    fn input(&self, errors: &mut FieldErrors) -> ConfigSetInput {
        let value = forms::optional(&self.source_value);
        let (chart, path) = match self.source.as_str() {
            "chart" => (value, None),
            "path" => (None, value),
            other => {
                errors.add("source", format!("choose chart or path, not {other:?}"));
                (None, None)
            }
        };
        ConfigSetInput {
            name: self.name.trim().to_owned(),
            repo_url: self.repo_url.trim().to_owned(),
            chart,
            path,
            target_revision: self.target_revision.trim().to_owned(),
            values: forms::optional_object(errors, "values", &self.values),
        }
    }

    /// Errors about the chart or path belong next to the one source box.
    fn source_error<'a>(&self, errors: &'a FieldErrors) -> Option<&'a str> {
        errors
            .of("source")
            .or_else(|| errors.of("chart"))
            .or_else(|| errors.of("path"))
    }
}

pub struct SetRow {
    pub id: String,
    pub name: String,
    pub repo_url: String,
    pub source: String,
    pub target_revision: String,
    pub updated: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "config_sets/list.html")]
pub struct ListPage {
    pub chrome: Chrome,
    pub rows: Vec<SetRow>,
    pub form: SetForm,
    pub errors: FieldErrors,
    pub source_error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "config_sets/edit.html")]
pub struct EditPage {
    pub chrome: Chrome,
    pub id: String,
    pub form: SetForm,
    pub errors: FieldErrors,
    pub source_error: Option<String>,
}

async fn list_page(
    ctx: &Context,
    chrome: Chrome,
    form: SetForm,
    errors: FieldErrors,
) -> Result<ListPage, UiError> {
    let rows = ctx
        .catalog
        .list_config_sets()
        .await
        .or_page(&chrome)?
        .iter()
        .map(|c| SetRow {
            id: c.id.clone(),
            name: c.name.clone(),
            repo_url: c.repo_url.clone(),
            source: match &c.source {
                ChartSource::Chart(v) => format!("chart {v}"),
                ChartSource::Path(v) => format!("path {v}"),
            },
            target_revision: c.target_revision.clone(),
            updated: when(&c.updated_at),
        })
        .collect();
    Ok(ListPage {
        chrome,
        rows,
        source_error: form.source_error(&errors).map(str::to_owned),
        form,
        errors,
    })
}

/// `GET /config-sets`
pub async fn list(State(ctx): State<Context>, chrome: Chrome) -> Result<ListPage, UiError> {
    let form = SetForm {
        source: "path".into(),
        target_revision: "main".into(),
        ..SetForm::default()
    };
    list_page(&ctx, chrome, form, FieldErrors::default()).await
}

/// `POST /config-sets`
pub async fn create(
    State(ctx): State<Context>,
    chrome: Chrome,
    Form(form): Form<SetForm>,
) -> Result<Response, UiError> {
    let mut errors = FieldErrors::default();
    let input = form.input(&mut errors);
    if errors.is_empty() {
        match ctx.catalog.create_config_set(input, &chrome.actor()).await {
            Ok(_) => return Ok(Redirect::to("/config-sets?done=created").into_response()),
            Err(e) => errors = FieldErrors::from_service(e, FIELDS).or_page(&chrome)?,
        }
    }
    Ok(forms::rejected(
        list_page(&ctx, chrome, form, errors).await?,
    ))
}

/// `GET /config-sets/{id}`: the edit form.
pub async fn edit(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path(id): Path<String>,
) -> Result<EditPage, UiError> {
    let set = ctx.catalog.get_config_set(&id).await.or_page(&chrome)?;
    Ok(EditPage {
        form: SetForm::from_set(&set),
        errors: FieldErrors::default(),
        source_error: None,
        id,
        chrome,
    })
}

/// `POST /config-sets/{id}`
pub async fn update(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path(id): Path<String>,
    Form(form): Form<SetForm>,
) -> Result<Response, UiError> {
    ctx.catalog.get_config_set(&id).await.or_page(&chrome)?;
    let mut errors = FieldErrors::default();
    let input = form.input(&mut errors);
    if errors.is_empty() {
        match ctx
            .catalog
            .update_config_set(&id, input, &chrome.actor())
            .await
        {
            Ok(_) => return Ok(Redirect::to("/config-sets?done=saved").into_response()),
            Err(e) => errors = FieldErrors::from_service(e, FIELDS).or_page(&chrome)?,
        }
    }
    let page = EditPage {
        source_error: form.source_error(&errors).map(str::to_owned),
        form,
        errors,
        id,
        chrome,
    };
    Ok(forms::rejected(page))
}

/// `POST /config-sets/{id}/delete`: asks first without `confirm=yes`.
pub async fn delete(
    State(ctx): State<Context>,
    chrome: Chrome,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, UiError> {
    let set = ctx.catalog.get_config_set(&id).await.or_page(&chrome)?;
    if !form.confirmed() {
        let question = format!("Delete the config set {}?", set.name);
        let (action, back) = (
            format!("/config-sets/{id}/delete"),
            format!("/config-sets/{id}"),
        );
        return Ok(ConfirmPage::ask(chrome, question, action, "Delete", back));
    }
    ctx.catalog
        .delete_config_set(&id, &chrome.actor())
        .await
        .or_page(&chrome)?;
    Ok(Redirect::to("/config-sets?done=deleted").into_response())
}
