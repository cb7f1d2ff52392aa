//! `/api/environments`: create, list, get, delete, redeploy, retry, extend, events.

use axum::{
    Json,
    extract::{Path, State},
    http::{StatusCode, header},
    response::IntoResponse,
};

use super::environment_models::{
    EnvironmentCreate, EnvironmentList, EnvironmentResponse, ExtendRequest, ListParams,
};
use crate::{
    domain::{EnvironmentEvent, Status},
    http::auth::Caller,
    http::{
        errors::{ApiError, Problem},
        extract::{ApiJson, ApiQuery},
    },
    ports::{EnvironmentFilter, PageRequest},
    service::{Context, archive::Found},
};

fn respond(ctx: &Context, env: &crate::domain::Environment) -> Json<EnvironmentResponse> {
    Json(EnvironmentResponse::new(
        env,
        &ctx.settings,
        ctx.ports.clock.now(),
    ))
}

/// `POST /api/environments`
#[utoipa::path(post, path = "/api/environments", tag = "environments", request_body = EnvironmentCreate,
    responses((status = 201, body = EnvironmentResponse), (status = 404, description = "`repository_id` or `config_set_id` names nothing", body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<EnvironmentCreate>,
) -> Result<impl IntoResponse, ApiError> {
    let env = ctx.environments.create(body.into(), &caller.name).await?;
    let location = format!("/api/environments/{}", env.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        respond(&ctx, &env),
    ))
}

/// `GET /api/environments`
#[utoipa::path(get, path = "/api/environments", tag = "environments", params(ListParams),
    responses((status = 200, body = EnvironmentList), (status = 422, body = Problem)))]
pub async fn list(
    State(ctx): State<Context>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<EnvironmentList>, ApiError> {
    let limit = p.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 100"));
    }
    let status = p
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    format!(
                        "unknown status {s:?}; use pending, ready, failed, deleting or terminated"
                    ),
                )
            })
        })
        .transpose()?;
    let filter = EnvironmentFilter {
        status,
        repository_id: p.repository_id,
        name_prefix: p.name,
        kept: p.kept,
        sleeping: p.sleeping,
        occupancy: None,
    };
    let page = ctx
        .environments
        .list(
            &filter,
            &PageRequest {
                limit,
                cursor: p.cursor,
            },
        )
        .await?;
    let now = ctx.ports.clock.now();
    Ok(Json(EnvironmentList {
        items: page
            .items
            .iter()
            .map(|e| EnvironmentResponse::new(e, &ctx.settings, now))
            .collect(),
        next: page.next,
    }))
}

/// `GET /api/environments/{id}`
#[utoipa::path(get, path = "/api/environments/{id}", tag = "environments", params(("id" = String, Path)),
    responses((status = 200, body = EnvironmentResponse), (status = 404, body = Problem)))]
pub async fn get(
    State(ctx): State<Context>,
    Path(id): Path<String>,
) -> Result<Json<EnvironmentResponse>, ApiError> {
    let live = ctx.environments.get(&id).await;
    Ok(match ctx.archives.unless_archived(&id, live).await? {
        Found::Live(env) => respond(&ctx, &env),
        Found::Archived(archive) => {
            let mut answer = EnvironmentResponse::new(
                &archive.environment,
                &ctx.settings,
                ctx.ports.clock.now(),
            );
            answer.archived = true;
            Json(answer)
        }
    })
}

/// `DELETE /api/environments/{id}`
#[utoipa::path(delete, path = "/api/environments/{id}", tag = "environments", params(("id" = String, Path)),
    responses((status = 202, body = EnvironmentResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let env = ctx
        .environments
        .request_teardown(&id, &caller.name, "deleted through the API")
        .await?;
    Ok((StatusCode::ACCEPTED, respond(&ctx, &env)))
}

/// `POST /api/environments/{id}/redeploy`
#[utoipa::path(post, path = "/api/environments/{id}/redeploy", tag = "environments", params(("id" = String, Path)),
    responses((status = 202, body = EnvironmentResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn redeploy(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let env = ctx.environments.redeploy(&id, None, &caller.name).await?;
    Ok((StatusCode::ACCEPTED, respond(&ctx, &env)))
}

/// `POST /api/environments/{id}/retry`
#[utoipa::path(post, path = "/api/environments/{id}/retry", tag = "environments", params(("id" = String, Path)),
    responses((status = 202, body = EnvironmentResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let env = ctx.environments.retry(&id, &caller.name).await?;
    Ok((StatusCode::ACCEPTED, respond(&ctx, &env)))
}

/// `POST /api/environments/{id}/extend`
#[utoipa::path(post, path = "/api/environments/{id}/extend", tag = "environments", params(("id" = String, Path)),
    request_body = ExtendRequest,
    responses((status = 200, body = EnvironmentResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn extend(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ExtendRequest>,
) -> Result<Json<EnvironmentResponse>, ApiError> {
    Ok(respond(
        &ctx,
        &ctx.environments
            .extend(&id, body.hours, &caller.name)
            .await?,
    ))
}

/// `POST /api/environments/{id}/keep`: never expires until let go (deleting still works).
#[utoipa::path(post, path = "/api/environments/{id}/keep", tag = "environments", params(("id" = String, Path)),
    responses((status = 200, body = EnvironmentResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn keep(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<EnvironmentResponse>, ApiError> {
    Ok(respond(
        &ctx,
        &ctx.environments.keep(&id, true, &caller.name).await?,
    ))
}

/// `DELETE /api/environments/{id}/keep`: expires again, a whole lifetime from now at the soonest.
#[utoipa::path(delete, path = "/api/environments/{id}/keep", tag = "environments", params(("id" = String, Path)),
    responses((status = 200, body = EnvironmentResponse), (status = 404, body = Problem)))]
pub async fn unkeep(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<EnvironmentResponse>, ApiError> {
    Ok(respond(
        &ctx,
        &ctx.environments.keep(&id, false, &caller.name).await?,
    ))
}

/// `POST /api/environments/{id}/sleep`: scales it to zero until woken (a visit wakes it).
#[utoipa::path(post, path = "/api/environments/{id}/sleep", tag = "environments", params(("id" = String, Path)),
    responses((status = 202, body = EnvironmentResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn sleep(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let env = ctx.environments.sleep(&id, true, &caller.name).await?;
    Ok((StatusCode::ACCEPTED, respond(&ctx, &env)))
}

/// `POST /api/environments/{id}/wake`: scales it up again; ready once Argo CD says Healthy.
#[utoipa::path(post, path = "/api/environments/{id}/wake", tag = "environments", params(("id" = String, Path)),
    responses((status = 202, body = EnvironmentResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn wake(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let env = ctx.environments.sleep(&id, false, &caller.name).await?;
    Ok((StatusCode::ACCEPTED, respond(&ctx, &env)))
}

/// `GET /api/environments/{id}/events`
#[utoipa::path(get, path = "/api/environments/{id}/events", tag = "environments", params(("id" = String, Path)),
    responses((status = 200, body = Vec<EnvironmentEvent>), (status = 404, body = Problem)))]
pub async fn events(
    State(ctx): State<Context>,
    Path(id): Path<String>,
) -> Result<Json<Vec<EnvironmentEvent>>, ApiError> {
    let live = ctx.environments.events(&id).await;
    Ok(Json(
        match ctx.archives.unless_archived(&id, live).await? {
            Found::Live(events) => events,
            Found::Archived(archive) => archive.events,
        },
    ))
}
