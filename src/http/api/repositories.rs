//! `/api/repositories`: connect GitLab projects (create shows the webhook secret once).

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    domain::{
        Repository, RepositoryFilters,
        repository::Lifetime,
        schedule::{ScheduleParts, SleepSchedule},
    },
    http::auth::Caller,
    http::{
        errors::{ApiError, Problem},
        extract::ApiJson,
    },
    service::{Context, catalog::RepositoryInput},
};

/// A repository to connect, or its new settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryRequest {
    /// Short DNS-1123 label; becomes part of environment ids (`pr-42-{name}`).
    #[schema(example = "shop")]
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length = 63)]
    pub name: String,
    #[schema(example = 15, minimum = 1)]
    #[serde(deserialize_with = "crate::domain::whole::integer")]
    pub gitlab_project_id: i64,
    /// The project's path in GitLab: segments separated by `/`, none empty or `..`.
    #[schema(example = "acme/shop")]
    #[schema(
        pattern = r"^(?!/)(?!.*/$)(?!.*//)(?!(?:.*/)?\.\.(?:/|$))(?=.*\S)[^\x00-\x1f\x7f-\x9f]+$",
        max_length = 255
    )]
    pub path_with_namespace: String,
    /// Config set environments use unless they name one.
    #[serde(default)]
    #[schema(min_length = 1)]
    pub config_set_id: Option<String>,
    #[serde(default)]
    pub filters: Option<RepositoryFilters>,
    /// GitLab's signing token (`whsec_…`) to accept signed webhooks; write-only.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^whsec_(?:[A-Za-z0-9+/]{4}){5,}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/]{4})$")]
    pub webhook_signing_key: Option<crate::domain::Secret>,
    /// Default and ceiling of its environments' TTL (the platform's when absent).
    #[serde(default)]
    pub lifetime: Option<Lifetime>,
    /// At most this many of its environments run at once; more wait in line, oldest first
    /// (no limit of its own when absent; the platform's `--max-environments` still applies).
    #[serde(default, deserialize_with = "crate::domain::whole::optional")]
    #[schema(minimum = 1, maximum = 1000, example = 5)]
    pub max_environments: Option<i64>,
    /// Minutes without activity (pushes, commands, wakes, status-page visits) before a ready
    /// environment is put to sleep; never when absent.
    #[serde(default, deserialize_with = "crate::domain::whole::optional")]
    #[schema(minimum = 5, maximum = 10080, example = 120)]
    pub sleep_after_idle_minutes: Option<i64>,
    /// Awake hours in a time zone; outside them, environments with no activity since the hours
    /// ended sleep, and wake when they begin. Always awake when absent.
    #[serde(default)]
    pub sleep_schedule: Option<SleepScheduleBody>,
}

/// Awake hours: from `from` to `until` on each of `days`, local time in `time_zone`. `from`
/// equal to `until` is the whole day; `until` before `from` runs past midnight.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SleepScheduleBody {
    #[schema(value_type = TimeZoneName)]
    pub time_zone: String,
    /// The days a window starts on (repeats are ignored).
    #[schema(min_items = 1, example = json!(["mon", "tue", "wed", "thu", "fri"]))]
    pub days: Vec<Day>,
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "08:00")]
    pub from: String,
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "19:00")]
    pub until: String,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn key(self) -> &'static str {
        crate::domain::schedule::DAY_KEYS[self as usize]
    }

    fn of(key: &str) -> Option<Self> {
        use Day::*;
        let i = crate::domain::schedule::DAY_KEYS
            .iter()
            .position(|k| *k == key)?;
        Some([Mon, Tue, Wed, Thu, Fri, Sat, Sun][i])
    }
}

/// An IANA time zone name, e.g. `Europe/Berlin` or `UTC` (the tz database Blueberry carries).
pub struct TimeZoneName;

impl utoipa::PartialSchema for TimeZoneName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "An IANA time zone name, e.g. `Europe/Berlin` or `UTC`.",
            ))
            .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
            .into()
    }
}

impl ToSchema for TimeZoneName {}

impl From<SleepScheduleBody> for ScheduleParts {
    fn from(b: SleepScheduleBody) -> Self {
        ScheduleParts {
            time_zone: b.time_zone,
            days: b.days.iter().map(|d| d.key().to_owned()).collect(),
            from: b.from,
            until: b.until,
        }
    }
}

/// A repository's schedule as the API shows it, with a sentence saying what it means.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SleepScheduleView {
    #[serde(flatten)]
    pub schedule: SleepScheduleBody,
    /// E.g. "awake Monday to Friday 08:00–19:00 (Europe/Berlin)".
    pub description: String,
}

impl SleepScheduleView {
    fn of(s: &SleepSchedule) -> Self {
        let parts = ScheduleParts::of(s);
        Self {
            schedule: SleepScheduleBody {
                time_zone: parts.time_zone,
                days: parts.days.iter().filter_map(|d| Day::of(d)).collect(),
                from: parts.from,
                until: parts.until,
            },
            description: s.describe(),
        }
    }
}

impl From<RepositoryRequest> for RepositoryInput {
    fn from(r: RepositoryRequest) -> Self {
        RepositoryInput {
            name: r.name,
            gitlab_project_id: r.gitlab_project_id,
            path_with_namespace: r.path_with_namespace,
            config_set_id: r.config_set_id,
            filters: r.filters,
            webhook_signing_key: r.webhook_signing_key,
            lifetime: r.lifetime,
            max_environments: r.max_environments,
            sleep_after_idle_minutes: r.sleep_after_idle_minutes,
            sleep_schedule: r.sleep_schedule.map(Into::into),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RepositoryResponse {
    pub id: String,
    pub name: String,
    pub gitlab_project_id: u64,
    pub path_with_namespace: String,
    pub config_set_id: Option<String>,
    pub filters: RepositoryFilters,
    /// Where GitLab should send merge request and comment events.
    pub webhook_url: String,
    /// Whether signed webhooks (a signing key) are configured.
    pub webhook_signing: bool,
    pub lifetime: Lifetime,
    /// Its quota of running environments, if any.
    pub max_environments: Option<u32>,
    /// Idle minutes before its ready environments sleep, if they do.
    pub sleep_after_idle_minutes: Option<u32>,
    /// Its awake hours, if it has them.
    pub sleep_schedule: Option<SleepScheduleView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The create answer: the repository plus its webhook secret, shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RepositoryCreated {
    #[serde(flatten)]
    pub repository: RepositoryResponse,
    /// Paste into GitLab's webhook "Secret token". Only a hash is stored; it is not shown again.
    pub webhook_secret: String,
}

fn respond(ctx: &Context, r: &Repository) -> RepositoryResponse {
    RepositoryResponse {
        id: r.id.clone(),
        name: r.name.to_string(),
        gitlab_project_id: r.gitlab_project_id,
        path_with_namespace: r.path_with_namespace.clone(),
        config_set_id: r.config_set_id.clone(),
        filters: r.filters.clone(),
        webhook_url: format!("{}/webhooks/gitlab", ctx.settings.public_url),
        webhook_signing: r.webhook_signing_key.is_some(),
        lifetime: r.lifetime.clone(),
        max_environments: r.max_environments,
        sleep_after_idle_minutes: r.sleep_after_idle_minutes,
        sleep_schedule: r.sleep_schedule.as_ref().map(SleepScheduleView::of),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// `POST /api/repositories`
#[utoipa::path(post, path = "/api/repositories", tag = "repositories", request_body = RepositoryRequest,
    responses((status = 201, body = RepositoryCreated), (status = 404, description = "`config_set_id` names no config set", body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<RepositoryRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let connected = ctx
        .catalog
        .create_repository(body.into(), &caller.name)
        .await?;
    let location = format!("/api/repositories/{}", connected.repository.id);
    let body = RepositoryCreated {
        repository: respond(&ctx, &connected.repository),
        webhook_secret: connected.webhook_secret,
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    ))
}

/// `GET /api/repositories`
#[utoipa::path(get, path = "/api/repositories", tag = "repositories", responses((status = 200, body = Vec<RepositoryResponse>)))]
pub async fn list(State(ctx): State<Context>) -> Result<Json<Vec<RepositoryResponse>>, ApiError> {
    let repos = ctx.catalog.list_repositories().await?;
    Ok(Json(repos.iter().map(|r| respond(&ctx, r)).collect()))
}

/// `GET /api/repositories/{id}`
#[utoipa::path(get, path = "/api/repositories/{id}", tag = "repositories", params(("id" = String, Path)),
    responses((status = 200, body = RepositoryResponse), (status = 404, body = Problem)))]
pub async fn get(
    State(ctx): State<Context>,
    Path(id): Path<String>,
) -> Result<Json<RepositoryResponse>, ApiError> {
    Ok(Json(respond(&ctx, &ctx.catalog.get_repository(&id).await?)))
}

/// `PUT /api/repositories/{id}`
#[utoipa::path(put, path = "/api/repositories/{id}", tag = "repositories", params(("id" = String, Path)), request_body = RepositoryRequest,
    responses((status = 200, body = RepositoryResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RepositoryRequest>,
) -> Result<Json<RepositoryResponse>, ApiError> {
    Ok(Json(respond(
        &ctx,
        &ctx.catalog
            .update_repository(&id, body.into(), &caller.name)
            .await?,
    )))
}

/// `DELETE /api/repositories/{id}`
#[utoipa::path(delete, path = "/api/repositories/{id}", tag = "repositories", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    ctx.catalog.delete_repository(&id, &caller.name).await?;
    Ok(StatusCode::NO_CONTENT)
}
