//! `/login` and `/logout`: browser sessions from an API token.

use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::auth::{SESSION_COOKIE, SESSION_HOURS, session_cookie_value};
use crate::service::Context;

#[derive(Debug, Default, Deserialize)]
pub struct LoginInput {
    /// An API token.
    pub token: Option<String>,
    /// A Firebase ID token (posted by the Firebase sign-in flow).
    pub id_token: Option<String>,
}

fn page(message: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Log in · Blueberry</title></head>\
<body><main><h1>Log in to Blueberry</h1><p>{message}</p><form method=\"post\" action=\"/login\"><label for=\"token\">API token</label> \
<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required> <button type=\"submit\">Log in</button></form></main></body></html>"
    ))
}

async fn start_session(ctx: &Context, token: &str) -> Response {
    let principal = if token.starts_with(crate::domain::auth::TOKEN_PREFIX) {
        ctx.tokens.authenticate(token).await
    } else {
        Ok(super::auth::firebase_principal_for_login(ctx, token).await)
    };
    match principal {
        Ok(Some(p)) => {
            let value = session_cookie_value(ctx, &p);
            let secure = if ctx.settings.public_url.starts_with("https://") {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                SESSION_HOURS * 3600
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to("/api/me")).into_response()
        }
        Ok(None) => (
            StatusCode::UNAUTHORIZED,
            page("That token is not valid (or expired, or revoked)."),
        )
            .into_response(),
        Err(e) => crate::http::errors::ApiError::from(e).into_response(),
    }
}

/// `GET /login`: the form, or a login link with `?token=` (the one printed at first start).
pub async fn show(State(ctx): State<Context>, Query(q): Query<LoginInput>) -> Response {
    match q.token {
        Some(token) => start_session(&ctx, &token).await,
        None => page("Paste an API token.").into_response(),
    }
}

/// `POST /login`: exchanges an API token for a session cookie.
pub async fn submit(State(ctx): State<Context>, Form(input): Form<LoginInput>) -> Response {
    let presented = input.id_token.or(input.token).unwrap_or_default();
    start_session(&ctx, &presented).await
}

#[derive(Debug, Default, Deserialize)]
pub struct LogoutInput {
    /// The session's CSRF token (the page that shows the logout button embeds it).
    pub csrf: Option<String>,
}

/// `POST /logout`: ends the session; the form must carry the session's CSRF token.
pub async fn logout(
    State(ctx): State<Context>,
    headers: HeaderMap,
    Form(input): Form<LogoutInput>,
) -> Response {
    if let Some(value) = super::auth::cookie(&headers, SESSION_COOKIE) {
        let expected = super::auth::csrf_token(&ctx, value);
        let sent = input.csrf.unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            sent.as_bytes(),
            expected.as_bytes(),
        )) {
            return crate::http::errors::ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "missing or wrong CSRF token",
            )
            .into_response();
        }
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}
