//! `/api/tokens` and `/api/me`: API tokens for programs and CI.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    domain::auth::{ApiToken, Role},
    http::{
        auth::Caller,
        errors::{ApiError, Problem},
        extract::ApiJson,
    },
    service::Context,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    /// Printable text, 1 to 100 characters.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        max_length = 100
    )]
    pub name: String,
    /// No higher than the caller's role.
    pub role: Role,
    /// Hours until it expires (1..=8784); never, when absent.
    #[serde(default, deserialize_with = "crate::domain::whole::optional")]
    #[schema(minimum = 1, maximum = 8784)]
    pub expires_in_hours: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub owner: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&ApiToken> for TokenResponse {
    fn from(t: &ApiToken) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            role: t.role,
            owner: t.owner.clone(),
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// The create answer: the token's secret, shown this once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub token: TokenResponse,
    /// Send as `Authorization: Bearer <token>`. Only its hash is stored.
    pub token_secret: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub name: String,
    pub role: Role,
}

/// `POST /api/tokens`
#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = TokenCreate,
    responses((status = 201, body = TokenCreated), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<TokenCreate>,
) -> Result<impl IntoResponse, ApiError> {
    let (token, secret) = ctx
        .tokens
        .create(&caller, &body.name, body.role, body.expires_in_hours)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            token: (&token).into(),
            token_secret: secret,
        }),
    ))
}

/// `GET /api/tokens`
#[utoipa::path(get, path = "/api/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenResponse>)))]
pub async fn list(
    State(ctx): State<Context>,
    Caller(caller): Caller,
) -> Result<Json<Vec<TokenResponse>>, ApiError> {
    Ok(Json(
        ctx.tokens
            .list(&caller)
            .await?
            .iter()
            .map(Into::into)
            .collect(),
    ))
}

/// `DELETE /api/tokens/{id}`
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    ctx.tokens.revoke(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends a user's browser sessions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionsEnd {
    /// The user as Blueberry names them (`GET /api/me`, audit entries): an email for people
    /// signed in with Firebase, `token:NAME` for sessions made from an API token.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        max_length = 320
    )]
    pub user: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionsEnded {
    pub user: String,
    /// Sessions that started at or before this moment are refused from now on.
    pub ended_at: DateTime<Utc>,
}

/// `POST /api/sessions/end`: every browser session of a user ends (on every replica within
/// 30 seconds); they can log in again.
#[utoipa::path(post, path = "/api/sessions/end", tag = "tokens", request_body = SessionsEnd,
    responses((status = 200, body = SessionsEnded), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn end_sessions(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<SessionsEnd>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let ended_at = ctx.sessions.end(&caller, &body.user).await?;
    Ok(Json(SessionsEnded {
        user: body.user.trim().to_owned(),
        ended_at,
    }))
}

/// `GET /api/me`
#[utoipa::path(get, path = "/api/me", tag = "tokens", responses((status = 200, body = Me)))]
pub async fn me(Caller(caller): Caller) -> Json<Me> {
    Json(Me {
        name: caller.name,
        role: caller.role,
    })
}
