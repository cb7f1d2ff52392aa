//! `/api/subscriptions`: notifications of environments' moments to any URL (admins only). The
//! signing secret is shown once, at creation; the URL is write-only (an incoming-webhook URL
//! is itself a secret), shown back without its path.

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
    domain::notification::{DeliveryAttempt, Format, Subscription, Topic, redact_url},
    http::{auth::Caller, errors::ApiError, errors::Problem, extract::ApiJson},
    service::{Context, notifications::SubscriptionInput},
};

/// A subscription to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRequest {
    /// Where to POST: any http(s) URL, or a Slack incoming-webhook URL with `format: slack`.
    #[schema(example = "https://hooks.example.com/blueberry", max_length = 2048)]
    #[schema(
        pattern = r"^https?://(([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?|((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]))(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?(/[!-~]*)?$"
    )]
    pub url: String,
    /// The moments to hear about.
    #[schema(min_items = 1)]
    pub events: Vec<Topic>,
    #[serde(default)]
    pub format: Option<Format>,
    /// Only this repository's environments; every environment when absent.
    #[serde(default)]
    pub repository_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionResponse {
    pub id: String,
    pub repository_id: Option<String>,
    /// The URL without its path or credentials.
    pub receiver: String,
    pub events: Vec<Topic>,
    pub format: Format,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The last deliveries, newest first.
    pub deliveries: Vec<DeliveryAttempt>,
}

/// The create answer: the subscription plus, for Standard Webhooks, its signing secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionCreated {
    #[serde(flatten)]
    pub subscription: SubscriptionResponse,
    /// `whsec_…`: verify `webhook-signature` with it. Shown this once.
    pub secret: Option<String>,
}

fn respond(s: &Subscription) -> SubscriptionResponse {
    SubscriptionResponse {
        id: s.id.clone(),
        repository_id: s.repository_id.clone(),
        receiver: redact_url(&s.url),
        events: s.topics.clone(),
        format: s.format,
        created_by: s.created_by.clone(),
        created_at: s.created_at,
        deliveries: s.deliveries.clone(),
    }
}

/// `POST /api/subscriptions`
#[utoipa::path(post, path = "/api/subscriptions", tag = "notifications", request_body = SubscriptionRequest,
    responses((status = 201, body = SubscriptionCreated), (status = 404, description = "`repository_id` names no repository", body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<SubscriptionRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let input = SubscriptionInput {
        repository_id: body.repository_id,
        url: body.url,
        events: body.events.iter().map(|t| t.as_str().to_owned()).collect(),
        format: body.format.map(|f| {
            match f {
                Format::StandardWebhooks => "standard_webhooks",
                Format::Slack => "slack",
            }
            .to_owned()
        }),
    };
    let created = ctx.notifications.create(input, &caller.name).await?;
    let location = format!("/api/subscriptions/{}", created.subscription.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(SubscriptionCreated {
            subscription: respond(&created.subscription),
            secret: created.secret,
        }),
    ))
}

/// `GET /api/subscriptions`
#[utoipa::path(get, path = "/api/subscriptions", tag = "notifications", responses((status = 200, body = Vec<SubscriptionResponse>)))]
pub async fn list(State(ctx): State<Context>) -> Result<Json<Vec<SubscriptionResponse>>, ApiError> {
    Ok(Json(
        ctx.notifications
            .list()
            .await?
            .iter()
            .map(respond)
            .collect(),
    ))
}

/// `GET /api/subscriptions/{id}`: with its last deliveries.
#[utoipa::path(get, path = "/api/subscriptions/{id}", tag = "notifications", params(("id" = String, Path)),
    responses((status = 200, body = SubscriptionResponse), (status = 404, body = Problem)))]
pub async fn get(
    State(ctx): State<Context>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionResponse>, ApiError> {
    Ok(Json(respond(&ctx.notifications.get(&id).await?)))
}

/// `DELETE /api/subscriptions/{id}`
#[utoipa::path(delete, path = "/api/subscriptions/{id}", tag = "notifications", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete(
    State(ctx): State<Context>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    ctx.notifications.delete(&id, &caller.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use crate::domain::notification::URL_PATTERN;

    #[test]
    fn the_schema_states_the_url_rule_the_service_keeps() {
        let (_, doc) = crate::http::router_and_openapi();
        let doc = serde_json::to_value(doc).unwrap();
        let url = &doc["components"]["schemas"]["SubscriptionRequest"]["properties"]["url"];
        assert_eq!(url["pattern"], URL_PATTERN);
        assert_eq!(url["maxLength"], 2048);
    }
}
