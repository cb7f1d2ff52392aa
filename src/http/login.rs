//! `/login` and `/logout`: browser sessions from an API token or a Firebase ID token.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    auth::{SESSION_COOKIE, SESSION_HOURS, session_cookie_value},
    ui::Chrome,
};
use crate::service::Context;

#[derive(Debug, Default, Deserialize)]
pub struct LoginInput {
    /// An API token.
    pub token: Option<String>,
    /// A Firebase ID token (posted by the Firebase sign-in flow).
    pub id_token: Option<String>,
    /// Where to go after logging in: a path on this server.
    pub next: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub chrome: Chrome,
    pub error: Option<String>,
    pub next: String,
    /// Email sign-in through Firebase Auth, when configured.
    pub firebase: Option<crate::service::FirebaseSignIn>,
}

impl LoginPage {
    fn new(ctx: &Context, error: Option<String>, next: String) -> Self {
        Self {
            chrome: Chrome::anonymous(ctx),
            error,
            next,
            firebase: ctx.settings.firebase_sign_in.clone(),
        }
    }
}

/// Only paths on this server: `/x`, never `//host` or `/\host` (which browsers treat as hosts).
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_owned()
        }
        _ => "/environments".to_owned(),
    }
}

async fn start_session(ctx: &Context, token: &str, next: String) -> Response {
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
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        Ok(None) => {
            let page = LoginPage::new(
                ctx,
                Some("That token is not valid (or it expired, or was revoked).".into()),
                next,
            );
            (StatusCode::UNAUTHORIZED, page).into_response()
        }
        Err(e) => crate::http::errors::ApiError::from(e).into_response(),
    }
}

/// `GET /login`: the form, or a login link with `?token=` (the one printed at first start).
pub async fn show(State(ctx): State<Context>, Query(q): Query<LoginInput>) -> Response {
    let next = local_path(q.next.as_deref());
    match q.token {
        Some(token) => start_session(&ctx, &token, next).await,
        None => LoginPage::new(&ctx, None, next).into_response(),
    }
}

/// `POST /login`: exchanges an API token (or Firebase ID token) for a session cookie.
pub async fn submit(State(ctx): State<Context>, Form(input): Form<LoginInput>) -> Response {
    let next = local_path(input.next.as_deref());
    let presented = input.id_token.or(input.token).unwrap_or_default();
    start_session(&ctx, presented.trim(), next).await
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

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(
            local_path(Some("/environments/pr-1-shop")),
            "/environments/pr-1-shop"
        );
        assert_eq!(local_path(Some("//evil.example")), "/environments");
        assert_eq!(local_path(Some("/\\evil.example")), "/environments");
        assert_eq!(local_path(Some("https://evil.example")), "/environments");
        assert_eq!(local_path(None), "/environments");
    }
}
