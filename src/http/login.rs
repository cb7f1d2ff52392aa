//! `/login` and `/logout`: browser sessions from a one-time login link, an API token or a
//! Firebase ID token.

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
    session::{self, SESSION_COOKIE, Subject},
    ui::Chrome,
};
use crate::service::Context;

#[derive(Debug, Default, Deserialize)]
pub struct LoginInput {
    /// An API token (posted from the form; never accepted in a URL).
    pub token: Option<String>,
    /// A one-time login link's code.
    pub code: Option<String>,
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
    /// A one-time login link's code, to be posted by the visitor's click.
    pub code: Option<String>,
    /// Email sign-in through Firebase Auth, when configured.
    pub firebase: Option<crate::service::FirebaseSignIn>,
}

impl LoginPage {
    fn new(ctx: &Context, error: Option<String>, next: String) -> Self {
        Self {
            chrome: Chrome::anonymous(ctx),
            error,
            next,
            code: None,
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

/// What was presented to log in with.
enum Presented<'a> {
    Code(&'a str),
    Token(&'a str),
    FirebaseIdToken(&'a str),
}

async fn start_session(ctx: &Context, presented: Presented<'_>, next: String) -> Response {
    let (found, refused) = match presented {
        Presented::Code(code) => (
            ctx.sessions
                .redeem(code)
                .await
                .map(|p| p.and_then(by_token)),
            "That login link was already used or has expired: ask for a new one \
             (`blueberry token create --login-link`) or paste a token.",
        ),
        Presented::Token(token) => (
            ctx.tokens
                .authenticate(token)
                .await
                .map(|p| p.and_then(by_token)),
            "That token is not valid (or it expired, or was revoked).",
        ),
        Presented::FirebaseIdToken(jwt) => (
            Ok(super::auth::firebase_login(ctx, jwt)
                .await
                .map(|(_, subject)| subject)),
            "That sign-in is not valid, or the account has no Blueberry role.",
        ),
    };
    match found {
        Ok(Some(subject)) => {
            let cookie = session::set_cookie(ctx, &session::seal(ctx, subject));
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        Ok(None) => {
            let page = LoginPage::new(ctx, Some(refused.into()), next);
            (StatusCode::UNAUTHORIZED, page).into_response()
        }
        Err(e) => crate::http::errors::ApiError::from(e).into_response(),
    }
}

fn by_token(p: crate::service::tokens::Principal) -> Option<Subject> {
    p.token_id.map(|id| Subject::Token { id })
}

/// `GET /login`: the form; with `?code=` (a one-time login link) a page whose button posts the
/// code. An API token in the URL is refused: it would sit in logs and browser history.
pub async fn show(State(ctx): State<Context>, Query(q): Query<LoginInput>) -> Response {
    let next = local_path(q.next.as_deref());
    if q.token.is_some() {
        let page = LoginPage::new(
            &ctx,
            Some(
                "API tokens are not accepted in links (they would end up in logs and browser \
                 history): paste the token below, or use a one-time login link."
                    .into(),
            ),
            next,
        );
        return (StatusCode::BAD_REQUEST, page).into_response();
    }
    let mut page = LoginPage::new(&ctx, None, next);
    page.code = q.code.filter(|c| !c.is_empty());
    // A page carrying a login code is never cached.
    ([(header::CACHE_CONTROL, "no-store")], page).into_response()
}

/// `POST /login`: exchanges a login link's code, an API token or a Firebase ID token for a
/// session cookie.
pub async fn submit(State(ctx): State<Context>, Form(input): Form<LoginInput>) -> Response {
    let next = local_path(input.next.as_deref());
    let presented = if let Some(code) = input.code.as_deref() {
        Presented::Code(code.trim())
    } else if let Some(jwt) = input.id_token.as_deref() {
        Presented::FirebaseIdToken(jwt.trim())
    } else {
        Presented::Token(input.token.as_deref().unwrap_or_default().trim())
    };
    start_session(&ctx, presented, next).await
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
    if let Some(value) = session::cookie(&headers, SESSION_COOKIE)
        && !session::csrf_matches(&ctx, value, input.csrf.as_deref())
    {
        return crate::http::errors::ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "missing or wrong CSRF token",
        )
        .into_response();
    }
    (
        [(header::SET_COOKIE, session::clear_cookie())],
        Redirect::to("/login"),
    )
        .into_response()
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
