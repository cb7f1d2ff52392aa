//! The web UI: server-rendered askama pages (`templates/`), enhanced with HTMX and Alpine.js
//! (`static/`), live over the SSE stream.
//!
//! Every page reads without JavaScript; forms post as plain HTML forms (with the session's CSRF
//! token as a field) and answer with a redirect on success or the same form with inline errors
//! (422). HTMX adds live refresh on SSE events and confirmation prompts; Alpine (its CSP build,
//! so no `unsafe-eval`) adds countdowns and copy buttons.

pub mod assets;
mod config_sets;
mod environments;
mod forms;
mod repositories;
mod repository_cost;
mod rollout;
mod status_actions;
mod status_page;
mod subscriptions;
mod tokens;
mod view;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Router,
    extract::{FromRequestParts, OriginalUri},
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};

pub use self::view::{Chrome, ErrorPage, UiError};
use crate::service::Context;

/// Whether `route` (a route template) is a page of the UI rather than the API: such routes
/// send people to the login page instead of answering 401.
pub fn is_page(route: &str) -> bool {
    !(route.starts_with("/api/")
        || route.starts_with("/webhooks/")
        || matches!(route, "/healthz" | "/readyz" | "/metrics"))
}

/// The UI's routes.
pub fn router() -> Router<Context> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/environments") }))
        .route(
            "/environments",
            get(environments::list).post(environments::create),
        )
        .route("/environments/new", get(environments::new_form))
        .route("/environments/{id}", get(status_page::show))
        .route("/environments/{id}/{action}", post(status_actions::act))
        .route("/deletions/confirm", post(confirm_deletions))
        .route(
            "/repositories",
            get(repositories::list).post(repositories::create),
        )
        .route(
            "/repositories/{id}",
            get(repositories::edit).post(repositories::update),
        )
        .route("/repositories/{id}/delete", post(repositories::delete))
        .route("/repositories/{id}/cost", get(repository_cost::show))
        .route(
            "/config-sets",
            get(config_sets::list).post(config_sets::create),
        )
        .route(
            "/config-sets/{id}",
            get(config_sets::edit).post(config_sets::update),
        )
        .route("/config-sets/{id}/delete", post(config_sets::delete))
        .route(
            "/subscriptions",
            get(subscriptions::list).post(subscriptions::create),
        )
        .route("/subscriptions/{id}/delete", post(subscriptions::delete))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}/revoke", post(tokens::revoke))
        .route("/static/{*path}", get(assets::serve))
}

/// "Are you sure?": what a browser without JavaScript sees before an action or a deletion
/// (with JavaScript, htmx asks and sends `confirm=yes` itself).
#[derive(Template, WebTemplate)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub chrome: Chrome,
    pub question: String,
    /// Where the confirmed form posts.
    pub action: String,
    pub button: String,
    /// The hours field of `extend`, prefilled.
    pub hours: Option<String>,
    /// Where "Cancel" leads.
    pub back: String,
}

impl ConfirmPage {
    /// The question page for a plain confirmed post to `action`.
    pub fn ask(
        chrome: Chrome,
        question: String,
        action: String,
        button: &str,
        back: String,
    ) -> Response {
        ConfirmPage {
            chrome,
            question,
            action,
            button: button.to_owned(),
            hours: None,
            back,
        }
        .into_response()
    }
}

/// Where an unauthenticated visitor of a page is sent: the login page, coming back after.
pub fn login_redirect(parts: &Parts) -> Response {
    let back = parts
        .extensions
        .get::<OriginalUri>()
        .map(|u| u.0.clone())
        .unwrap_or_else(|| parts.uri.clone());
    let next = back
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &next)
        .finish();
    Redirect::to(&format!("/login?{query}")).into_response()
}

/// An error page for a refusal on a page route (403 and friends), outside any handler.
pub fn refusal_page(ctx: &Context, status: StatusCode, detail: &str) -> Response {
    refusal_page_for(ctx, status, detail, None)
}

/// A refusal page for `user`, who is signed in (the header names them, not "Log in").
pub fn refusal_page_for(
    ctx: &Context,
    status: StatusCode,
    detail: &str,
    user: Option<crate::service::tokens::Principal>,
) -> Response {
    let mut chrome = Chrome::anonymous(ctx);
    chrome.user = user;
    let page = ErrorPage {
        chrome,
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        detail: detail.to_owned(),
    };
    (status, page).into_response()
}

impl FromRequestParts<Context> for Chrome {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ctx: &Context) -> Result<Self, Response> {
        Ok(Chrome::from_parts(parts, ctx).await)
    }
}

/// `POST /deletions/confirm`: the banner's button (admins).
async fn confirm_deletions(
    axum::extract::State(ctx): axum::extract::State<Context>,
    chrome: view::Chrome,
) -> Result<Redirect, view::UiError> {
    crate::service::deletions::confirm_by(&ctx, &chrome.actor())
        .await
        .map_err(|e| view::UiError::new(&chrome, crate::http::errors::ApiError::from(e)))?;
    Ok(Redirect::to("/environments"))
}
