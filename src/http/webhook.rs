//! `POST /webhooks/gitlab`: GitLab merge request and comment events.
//!
//! Extracts what the request carries and hands it to `service::webhooks`, which answers only
//! once the delivery and its job are durably recorded. Answers: 202 queued; 200 ignored,
//! duplicate or stale (with the reason); 401 unknown project or bad credentials; 400 malformed
//! JSON or event; 413 too large; 415 not JSON; 429 with `Retry-After` when the repository's
//! deliveries are over `--webhook-rate`; 503 when the store is down (GitLab retries both).

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use super::errors::ApiError;
use crate::service::{
    Context,
    webhooks::{Delivery, Outcome, Signature, WebhookError},
};

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    /// `accepted`, `ignored`, `duplicate` or `stale`.
    pub status: &'static str,
    pub reason: String,
}

fn answer(code: StatusCode, status: &'static str, reason: impl Into<String>) -> Response {
    (
        code,
        Json(WebhookAnswer {
            status,
            reason: reason.into(),
        }),
    )
        .into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Unauthorized(m) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m)
            }
            WebhookError::Malformed("too-large", m) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", m)
            }
            WebhookError::Malformed(code, m) => ApiError::new(StatusCode::BAD_REQUEST, code, m),
            WebhookError::RateLimited(wait) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                format!(
                    "this repository's webhook deliveries are over the limit; retry in {} s",
                    wait.as_secs() + 1
                ),
            )
            .with_retry_after(wait.as_secs() + 1),
            WebhookError::Service(e) => e.into(),
        }
    }
}

/// `POST /webhooks/gitlab`
#[utoipa::path(post, path = "/webhooks/gitlab", tag = "webhooks",
    request_body(content = Object, content_type = "application/json", description = "A GitLab merge request or comment event"),
    responses((status = 202, body = WebhookAnswer), (status = 200, body = WebhookAnswer), (status = 400), (status = 401), (status = 413), (status = 415), (status = 429)))]
pub async fn receive(
    State(ctx): State<Context>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let json_type = header_str(&headers, header::CONTENT_TYPE.as_str())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "GitLab webhooks are JSON (Content-Type: application/json)",
        ));
    }
    let signature = header_str(&headers, "webhook-signature").map(|signature| Signature {
        id: header_str(&headers, "webhook-id"),
        timestamp: header_str(&headers, "webhook-timestamp"),
        signature,
    });
    let delivery = Delivery {
        event: header_str(&headers, "x-gitlab-event"),
        token: header_str(&headers, "x-gitlab-token"),
        signature,
        delivery_id: header_str(&headers, "idempotency-key")
            .or_else(|| header_str(&headers, "x-gitlab-event-uuid"))
            .or_else(|| header_str(&headers, "webhook-id")),
        body: &body,
    };
    Ok(match ctx.webhooks.receive(delivery).await? {
        Outcome::Accepted(job) => answer(StatusCode::ACCEPTED, "accepted", format!("{job} queued")),
        Outcome::Ignored(reason) => answer(StatusCode::OK, "ignored", reason),
        Outcome::Duplicate => answer(
            StatusCode::OK,
            "duplicate",
            "this delivery was already received",
        ),
        Outcome::Stale => answer(
            StatusCode::OK,
            "stale",
            "a newer event of this merge request was already received; this one changes nothing",
        ),
    })
}
