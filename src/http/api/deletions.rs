//! `/api/deletions`: the limit on teardowns Blueberry starts on its own, and an admin's
//! confirmation that lets held ones go (`service::deletions`).

use axum::{Json, extract::State};

use crate::{
    http::{auth::Caller, errors::ApiError},
    service::{
        Context,
        deletions::{self, DeletionsStatus},
    },
};

/// `GET /api/deletions`
#[utoipa::path(get, path = "/api/deletions", tag = "operations",
    responses((status = 200, body = DeletionsStatus)))]
pub async fn status(State(ctx): State<Context>) -> Result<Json<DeletionsStatus>, ApiError> {
    Ok(Json(ctx.deletions.status(ctx.ports.clock.now()).await?))
}

/// `POST /api/deletions/confirm`: the held expiry teardowns go ahead (audited).
#[utoipa::path(post, path = "/api/deletions/confirm", tag = "operations",
    responses((status = 200, body = DeletionsStatus)))]
pub async fn confirm(
    State(ctx): State<Context>,
    Caller(caller): Caller,
) -> Result<Json<DeletionsStatus>, ApiError> {
    deletions::confirm_by(&ctx, &caller.name).await?;
    Ok(Json(ctx.deletions.status(ctx.ports.clock.now()).await?))
}
