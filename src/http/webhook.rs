//! `POST /webhooks/gitlab`: GitLab merge request and comment events.
//!
//! Fast and durable: the handler authenticates, drops redeliveries, decides from the payload
//! alone whether the event matters, and answers 202 only once the job is queued. Nothing here
//! calls GitLab or Kubernetes. Answers: 202 queued; 200 ignored (with the reason); 401 unknown
//! project or bad credentials; 400 malformed JSON; 413 too large; 415 not JSON; 503 when the
//! queue is down (GitLab retries).

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::Duration;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::errors::ApiError;
use crate::{
    domain::{
        EnvironmentId, EnvironmentName, LifecycleJob, Repository, commands,
        feedback::MARKER,
        gitlab::{CommandEvent, MergeRequestEvent, MergeRequestHook, NoteHook},
        webhook::{token_matches, verify_signature},
    },
    service::{Context, ServiceError},
};

/// How long a delivery id is remembered to drop redeliveries.
const DEDUPE_HOURS: i64 = 48;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    /// `accepted`, `ignored` or `duplicate`.
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

fn unauthorized(detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks `X-Gitlab-Token`, or a Standard Webhooks signature when the repository has a key.
fn authenticate(
    repo: &Repository,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), ApiError> {
    if let (Some(key), Some(sig)) = (
        &repo.webhook_signing_key,
        header_str(headers, "webhook-signature"),
    ) {
        let id = header_str(headers, "webhook-id")
            .ok_or_else(|| unauthorized("webhook-id header missing"))?;
        let ts = header_str(headers, "webhook-timestamp")
            .ok_or_else(|| unauthorized("webhook-timestamp header missing"))?;
        return verify_signature(key, id, ts, body, sig, now)
            .map_err(|e| unauthorized(&e.to_string()));
    }
    match header_str(headers, "x-gitlab-token") {
        Some(token) if token_matches(token, &repo.webhook_secret_hash) => Ok(()),
        Some(_) => Err(unauthorized(
            "X-Gitlab-Token does not match this project's webhook secret",
        )),
        None => Err(unauthorized(
            "X-Gitlab-Token (or a webhook signature) is required",
        )),
    }
}

/// What the event asks for, decided from the payload alone.
enum Intent {
    Queue(Box<LifecycleJob>),
    Ignore(String),
}

fn parse<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-event",
            format!("not a GitLab {what} event: {e}"),
        )
    })
}

fn intent(repo: &Repository, kind: &str, payload: Value) -> Result<Intent, ApiError> {
    let env_id = |iid| EnvironmentId::derive(&EnvironmentName::for_merge_request(iid), &repo.name);
    match kind {
        "merge_request" => {
            let hook: MergeRequestHook = parse(payload, "merge request")?;
            let event = MergeRequestEvent::from(&hook);
            Ok(Intent::Queue(Box::new(LifecycleJob::MergeRequest {
                environment_id: env_id(event.iid),
                repository_id: repo.id.clone(),
                event,
            })))
        }
        "note" => {
            let hook: NoteHook = parse(payload, "comment")?;
            let note = &hook.object_attributes;
            let Some(mr) = hook
                .merge_request
                .as_ref()
                .filter(|_| note.noteable_type == "MergeRequest")
            else {
                return Ok(Intent::Ignore(
                    "only comments on merge requests carry commands".into(),
                ));
            };
            if note.system {
                return Ok(Intent::Ignore("system notes are not commands".into()));
            }
            if note.note.contains(MARKER) {
                return Ok(Intent::Ignore("Blueberry's own note".into()));
            }
            let Some(command) = commands::parse(&note.note) else {
                return Ok(Intent::Ignore(
                    "no /blueberry command in the comment".into(),
                ));
            };
            let event = CommandEvent {
                project_id: hook.project.id,
                iid: mr.iid,
                note_id: note.id,
                user_id: hook.user.id,
                username: hook.user.username.clone(),
                command,
            };
            Ok(Intent::Queue(Box::new(LifecycleJob::Command {
                environment_id: env_id(mr.iid),
                repository_id: repo.id.clone(),
                event,
            })))
        }
        other => Ok(Intent::Ignore(format!(
            "`{other}` events do not affect environments"
        ))),
    }
}

/// `POST /webhooks/gitlab`
#[utoipa::path(post, path = "/webhooks/gitlab", tag = "webhooks",
    request_body(content = Object, content_type = "application/json", description = "A GitLab merge request or comment event"),
    responses((status = 202, body = WebhookAnswer), (status = 200, body = WebhookAnswer), (status = 400), (status = 401), (status = 413), (status = 415)))]
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
    if body.len() > ctx.settings.webhook_body_limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!(
                "the body is over the {} byte limit",
                ctx.settings.webhook_body_limit
            ),
        ));
    }
    let payload: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let kind = payload["object_kind"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let project_id = payload["project"]["id"]
        .as_u64()
        .or_else(|| payload["project_id"].as_u64());
    let Some(project_id) = project_id else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-event",
            "the event names no project (project.id)",
        ));
    };
    let repo = ctx
        .ports
        .store
        .find_repository_by_project(project_id)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| unauthorized("unknown project or bad credentials"))?;
    authenticate(&repo, &headers, &body, ctx.ports.clock.now().timestamp())?;

    let job = match intent(&repo, &kind, payload)? {
        Intent::Ignore(reason) => return Ok(answer(StatusCode::OK, "ignored", reason)),
        Intent::Queue(job) => *job,
    };
    let delivery = header_str(&headers, "idempotency-key")
        .or_else(|| header_str(&headers, "x-gitlab-event-uuid"))
        .or_else(|| header_str(&headers, "webhook-id"))
        .map(|k| format!("{}:{k}", repo.id));
    let store = &ctx.ports.store;
    if let Some(key) = &delivery {
        let expires = ctx.ports.clock.now() + Duration::hours(DEDUPE_HOURS);
        if !store
            .remember_delivery(key, expires)
            .await
            .map_err(ServiceError::from)?
        {
            return Ok(answer(
                StatusCode::OK,
                "duplicate",
                "this delivery was already received",
            ));
        }
    }
    let name = job.name();
    if let Err(e) = ctx.environments.enqueue(job, None).await {
        if let Some(key) = &delivery {
            // Not queued: GitLab's retry of this delivery must not be taken for a duplicate.
            let _ = store.forget_delivery(key).await;
        }
        return Err(e.into());
    }
    Ok(answer(
        StatusCode::ACCEPTED,
        "accepted",
        format!("{name} queued"),
    ))
}
