//! `/api/config-sets`: charts, revisions and default values environments deploy.

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::{
    domain::{ChartSource, ConfigSet},
    http::auth::Caller,
    http::{
        errors::{ApiError, Problem},
        extract::ApiJson,
    },
    service::{Context, catalog::ConfigSetInput},
};

/// A config set: give exactly one of `chart` (a chart in a Helm repository) or `path`
/// (a directory in a git repository).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigSetRequest {
    #[schema(example = "web")]
    pub name: String,
    #[schema(example = "https://gitlab.example.com/acme/shop.git")]
    pub repo_url: String,
    #[serde(default)]
    pub chart: Option<String>,
    #[serde(default)]
    #[schema(example = "helm/environment")]
    pub path: Option<String>,
    /// Chart version or git revision (MR environments deploy their head commit instead).
    #[schema(example = "main")]
    pub target_revision: String,
    /// Default Helm values.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub values: Option<Value>,
}

impl From<ConfigSetRequest> for ConfigSetInput {
    fn from(r: ConfigSetRequest) -> Self {
        ConfigSetInput {
            name: r.name,
            repo_url: r.repo_url,
            chart: r.chart,
            path: r.path,
            target_revision: r.target_revision,
            values: r.values,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConfigSetResponse {
    pub id: String,
    pub name: String,
    pub repo_url: String,
    pub chart: Option<String>,
    pub path: Option<String>,
    pub target_revision: String,
    #[schema(value_type = Object)]
    pub values: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&ConfigSet> for ConfigSetResponse {
    fn from(c: &ConfigSet) -> Self {
        let (chart, path) = match &c.source {
            ChartSource::Chart(ch) => (Some(ch.clone()), None),
            ChartSource::Path(p) => (None, Some(p.clone())),
        };
        Self {
            id: c.id.clone(),
            name: c.name.clone(),
            repo_url: c.repo_url.clone(),
            chart,
            path,
            target_revision: c.target_revision.clone(),
            values: c.values.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// `POST /api/config-sets`
#[utoipa::path(post, path = "/api/config-sets", tag = "config-sets", request_body = ConfigSetRequest,
    responses((status = 201, body = ConfigSetResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<ConfigSetRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let set = ctx
        .catalog
        .create_config_set(body.into(), &caller.name)
        .await?;
    let location = format!("/api/config-sets/{}", set.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ConfigSetResponse::from(&set)),
    ))
}

/// `GET /api/config-sets`
#[utoipa::path(get, path = "/api/config-sets", tag = "config-sets", responses((status = 200, body = Vec<ConfigSetResponse>)))]
pub async fn list(State(ctx): State<Context>) -> Result<Json<Vec<ConfigSetResponse>>, ApiError> {
    Ok(Json(
        ctx.catalog
            .list_config_sets()
            .await?
            .iter()
            .map(Into::into)
            .collect(),
    ))
}

/// `GET /api/config-sets/{id}`
#[utoipa::path(get, path = "/api/config-sets/{id}", tag = "config-sets", params(("id" = String, Path)),
    responses((status = 200, body = ConfigSetResponse), (status = 404, body = Problem)))]
pub async fn get(
    State(ctx): State<Context>,
    Path(id): Path<String>,
) -> Result<Json<ConfigSetResponse>, ApiError> {
    Ok(Json((&ctx.catalog.get_config_set(&id).await?).into()))
}

/// `PUT /api/config-sets/{id}`
#[utoipa::path(put, path = "/api/config-sets/{id}", tag = "config-sets", params(("id" = String, Path)), request_body = ConfigSetRequest,
    responses((status = 200, body = ConfigSetResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ConfigSetRequest>,
) -> Result<Json<ConfigSetResponse>, ApiError> {
    Ok(Json(
        (&ctx
            .catalog
            .update_config_set(&id, body.into(), &caller.name)
            .await?)
            .into(),
    ))
}

/// `DELETE /api/config-sets/{id}`
#[utoipa::path(delete, path = "/api/config-sets/{id}", tag = "config-sets", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    ctx.catalog.delete_config_set(&id, &caller.name).await?;
    Ok(StatusCode::NO_CONTENT)
}
