//! The HTTP face: REST API, SSE, health and metrics, the OpenAPI document.

pub mod api;
pub mod auth;
pub mod errors;
pub mod extract;
pub mod feed;
pub mod health;
pub mod login;
pub mod openapi;
pub mod policy;
pub mod session;
pub mod sse;
pub mod sse_slots;
pub mod ui;
pub mod wake;
pub mod webhook;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, header},
    routing::get,
};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::service::Context;

/// Largest request body the API accepts.
pub const BODY_LIMIT: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "Blueberry", description = "Per-merge-request Kubernetes environments delivered through Argo CD."),
    tags(
        (name = "environments", description = "Environments and their lifecycle"),
        (name = "repositories", description = "Connected GitLab projects"),
        (name = "config-sets", description = "What environments deploy"),
        (name = "operations", description = "Health, readiness, metrics"),
        (name = "webhooks", description = "GitLab webhooks"),
        (name = "tokens", description = "API tokens and the caller"),
        (name = "notifications", description = "Environments' moments sent to any URL"),
    )
)]
struct ApiDoc;

/// The router and the OpenAPI document built from the same route list, so they cannot drift.
pub fn router_and_openapi() -> (Router<Context>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::environments::create, api::environments::list))
        .routes(routes!(api::environments::get, api::environments::delete))
        .routes(routes!(api::environments::redeploy))
        .routes(routes!(api::environments::retry))
        .routes(routes!(api::environments::extend))
        .routes(routes!(api::environments::keep, api::environments::unkeep))
        .routes(routes!(api::environments::sleep))
        .routes(routes!(api::environments::wake))
        .routes(routes!(api::deletions::status))
        .routes(routes!(api::deletions::confirm))
        .routes(routes!(api::environments::events))
        .routes(routes!(sse::stream))
        .routes(routes!(api::repositories::create, api::repositories::list))
        .routes(routes!(
            api::repositories::get,
            api::repositories::update,
            api::repositories::delete
        ))
        .routes(routes!(api::config_sets::create, api::config_sets::list))
        .routes(routes!(
            api::config_sets::get,
            api::config_sets::update,
            api::config_sets::delete
        ))
        .routes(routes!(
            api::subscriptions::create,
            api::subscriptions::list
        ))
        .routes(routes!(api::subscriptions::get, api::subscriptions::delete))
        .routes(routes!(api::tokens::create, api::tokens::list))
        .routes(routes!(api::tokens::revoke))
        .routes(routes!(api::tokens::me))
        .routes(routes!(api::tokens::end_sessions))
        .routes(routes!(webhook::receive))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .split_for_parts()
}

/// Pages load scripts and styles from this server only: Alpine's CSP build and htmx with
/// `allowEval: false` need no `unsafe-eval`, and no page has inline script or style. Scripts
/// may connect to this server, and to Firebase Auth when the login page signs in with it.
fn content_security_policy(settings: &crate::service::Settings) -> HeaderValue {
    let firebase = settings
        .firebase_sign_in
        .as_ref()
        .map(|f| format!(" {}", f.auth_url))
        .unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{firebase}; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"))
}

/// The whole HTTP application.
pub fn router(ctx: Context) -> Router {
    let (routes, openapi) = router_and_openapi();
    // Serialized once and shared: the router (and every handler it owns) is cloned per
    // connection, and a document owned by the handler was copied for each of them.
    let openapi: axum::body::Bytes = serde_json::to_vec(&openapi::complete(&openapi))
        .expect("the OpenAPI document serializes")
        .into();
    routes
        .route(
            "/api/openapi.json",
            get(move || {
                let body = openapi.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", axum::routing::post(login::logout))
        .merge(ui::router())
        .route_layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            auth::authorize,
        ))
        .fallback(errors::no_such_route)
        .method_not_allowed_fallback(errors::method_not_allowed)
        // A sleeping environment's host comes here: its visitors wake it.
        .layer(axum::middleware::from_fn_with_state(
            ctx.clone(),
            wake::by_host,
        ))
        .layer(DefaultBodyLimit::max(
            BODY_LIMIT.max(ctx.settings.webhook_body_limit),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            content_security_policy(&ctx.settings),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // Paths only: a query string may carry a login token.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let request_id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id)
        }))
        // Every request gets an id (or keeps the one it came with), logged and answered as
        // `X-Request-Id`.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(axum::Extension(feed::ChangeFeed::start(ctx.clone())))
        .layer(axum::Extension(sse_slots::SseSlots::new(
            ctx.settings.max_sse_clients,
            ctx.settings.max_sse_clients_per_caller,
            ctx.metrics.clone(),
        )))
        // Until the answer starts: an SSE stream is answered at once and then stays open.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            ctx.settings.request_timeout,
        ))
        .with_state(ctx)
}
