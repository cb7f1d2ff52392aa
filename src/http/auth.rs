//! Authentication and authorization for every route.
//!
//! Credentials: `Authorization: Bearer bb_…` (API tokens) or the `bb_session` cookie (browser
//! sessions, `session.rs`, re-checked on every request; writes need the `X-CSRF-Token`
//! header). The policy table (`policy.rs`) says what each route needs: missing or bad
//! credentials answer 401 with `WWW-Authenticate`, a role too low answers 403. Problem bodies
//! never say more than that.
//!
//! Long on purpose: every credential kind (token, session, Firebase) resolves to one caller in one
//! place, so every route is checked the same way.

use axum::{
    extract::{FromRequestParts, MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{
    errors::ApiError,
    policy::{self, Access},
    session::{self, CSRF_HEADER, SESSION_COOKIE, Subject, cookie},
};
use crate::service::{Context, ServiceError, tokens::Principal};

fn unauthorized(detail: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"blueberry\""),
    );
    r
}

/// Why credentials were refused.
enum Refusal {
    Bad,
    /// A real identity that has no role here.
    NoRole,
    /// A valid session whose write lacks its CSRF token.
    Csrf(Principal),
    Unavailable(ServiceError),
}

/// A Firebase ID token's user, with the role the rules give them, and what a session for them
/// stands on.
pub async fn firebase_login(ctx: &Context, jwt: &str) -> Option<(Principal, Subject)> {
    firebase_principal(ctx, jwt).await.ok()
}

async fn firebase_principal(ctx: &Context, jwt: &str) -> Result<(Principal, Subject), Refusal> {
    let Some(firebase) = &ctx.firebase else {
        return Err(Refusal::Bad);
    };
    let user = firebase
        .0
        .verify(jwt, ctx.ports.clock.now().timestamp())
        .await
        .map_err(|e| {
            Refusal::Unavailable(ServiceError::Unavailable(
                "Firebase keys",
                anyhow::anyhow!(e),
            ))
        })?
        .ok_or(Refusal::Bad)?;
    let subject = Subject::Firebase {
        name: user
            .email
            .clone()
            .unwrap_or_else(|| format!("firebase:{}", user.uid)),
        email: user.email,
        verified: user.email_verified,
        claim: user.role_claim,
    };
    Ok((firebase_role(ctx, &subject)?, subject))
}

/// The principal a Firebase user is under today's role rules.
fn firebase_role(ctx: &Context, subject: &Subject) -> Result<Principal, Refusal> {
    let (
        Some(firebase),
        Subject::Firebase {
            name,
            email,
            verified,
            claim,
        },
    ) = (&ctx.firebase, subject)
    else {
        return Err(Refusal::Bad);
    };
    let role = firebase
        .1
        .role_for(email.as_deref(), *verified, claim.as_deref())
        .ok_or(Refusal::NoRole)?;
    Ok(Principal {
        name: name.clone(),
        role,
        token_id: None,
    })
}

/// The principal behind a session cookie, checked again now: the token still active, the
/// Firebase user still given a role, the session not ended by an admin.
async fn session_principal(ctx: &Context, value: &str) -> Result<Principal, Refusal> {
    let session = session::open(ctx, value).ok_or(Refusal::Bad)?;
    let principal = match &session.subject {
        Subject::Token { id } => ctx
            .tokens
            .by_id(id)
            .await
            .map_err(Refusal::Unavailable)?
            .ok_or(Refusal::Bad)?,
        firebase => firebase_role(ctx, firebase)?,
    };
    if ctx
        .sessions
        .is_ended(&principal.name, session.started)
        .await
        .map_err(Refusal::Unavailable)?
    {
        return Err(Refusal::Bad);
    }
    Ok(principal)
}

/// Who the request comes from; None when it carries no credentials. `csrf` is the token sent
/// with a write (header or form field).
async fn identify(
    ctx: &Context,
    method: &Method,
    headers: &HeaderMap,
    csrf: Option<&str>,
) -> Result<Option<Principal>, Refusal> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let value = auth.to_str().map_err(|_| Refusal::Bad)?;
        let secret = value.strip_prefix("Bearer ").ok_or(Refusal::Bad)?.trim();
        if !secret.starts_with(crate::domain::auth::TOKEN_PREFIX) {
            return firebase_principal(ctx, secret).await.map(|(p, _)| Some(p));
        }
        return match ctx
            .tokens
            .authenticate(secret)
            .await
            .map_err(Refusal::Unavailable)?
        {
            Some(p) => Ok(Some(p)),
            None => Err(Refusal::Bad),
        };
    }
    if let Some(value) = cookie(headers, SESSION_COOKIE) {
        let principal = session_principal(ctx, value).await?;
        if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
            && !session::csrf_matches(ctx, value, csrf)
        {
            return Err(Refusal::Csrf(principal));
        }
        return Ok(Some(principal));
    }
    Ok(None)
}

/// The CSRF token a write carries: the `X-CSRF-Token` header, or for an HTML form posted with
/// a session cookie, its `csrf` field (the body is read and put back; a form over the body
/// limit is refused with 413 rather than passed on empty).
async fn sent_csrf(req: Request) -> Result<(Request, Option<String>), Response> {
    if let Some(v) = req.headers().get(CSRF_HEADER) {
        let v = v.to_str().ok().map(str::to_owned);
        return Ok((req, v));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || !is_form
        || cookie(req.headers(), SESSION_COOKIE).is_none()
    {
        return Ok((req, None));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, super::BODY_LIMIT)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                format!("the form is larger than {} bytes", super::BODY_LIMIT),
            )
            .into_response()
        })?;
    let token = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    Ok((
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        token,
    ))
}

/// A refusal, as a page for the UI's routes and as problem+json for the API.
fn refuse(
    ctx: &Context,
    page: bool,
    status: StatusCode,
    slug: &'static str,
    detail: &str,
) -> Response {
    if page {
        super::ui::refusal_page(ctx, status, detail)
    } else {
        ApiError::new(status, slug, detail).into_response()
    }
}

/// The middleware: applies the route's policy and hands the caller to the handler.
pub async fn authorize(
    State(ctx): State<Context>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let route = matched
        .as_ref()
        .map(MatchedPath::as_str)
        .unwrap_or_default()
        .to_owned();
    let route = route.as_str();
    let options = policy::Options {
        protect_metrics: ctx.settings.protect_metrics,
        public_status_pages: ctx.settings.public_status_pages,
    };
    let page = super::ui::is_page(route);
    let Some(access) = policy::required(req.method(), route, options) else {
        tracing::error!(route, method = %req.method(), "route without an access policy refused");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this route is not open to anyone",
        )
        .into_response();
    };
    let (mut req, csrf) = match sent_csrf(req).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let identified = identify(&ctx, req.method(), req.headers(), csrf.as_deref()).await;
    let principal = match (access, identified) {
        (Access::Public, Ok(p)) => p,
        (Access::Public, Err(_)) => None,
        (Access::Role(_), Err(Refusal::Unavailable(e))) => {
            return ApiError::from(e).into_response();
        }
        (Access::Role(_), Err(Refusal::Csrf(who))) if page => {
            return super::ui::refusal_page_for(
                &ctx,
                StatusCode::FORBIDDEN,
                "This form has expired or came from another session: reload the page and try \
                 again.",
                Some(who),
            );
        }
        (Access::Role(_), Err(Refusal::Csrf(_))) => {
            return refuse(
                &ctx,
                page,
                StatusCode::FORBIDDEN,
                "csrf",
                "missing or wrong X-CSRF-Token for this session",
            );
        }
        (Access::Role(_), Err(Refusal::Bad) | Ok(None)) if page && req.method() == Method::GET => {
            let (parts, _) = req.into_parts();
            return super::ui::login_redirect(&parts);
        }
        (Access::Role(_), Err(Refusal::Bad) | Ok(None)) if page => {
            return refuse(
                &ctx,
                page,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "your session has ended: log in again",
            );
        }
        (Access::Role(_), Err(Refusal::Bad)) => {
            return unauthorized("the credentials are not valid");
        }
        (Access::Role(_), Err(Refusal::NoRole)) => {
            return refuse(
                &ctx,
                page,
                StatusCode::FORBIDDEN,
                "forbidden",
                "this account has no Blueberry role",
            );
        }
        (Access::Role(_), Ok(None)) => {
            return unauthorized("authentication required: send Authorization: Bearer <token>");
        }
        (Access::Role(needed), Ok(Some(p))) if p.role < needed => {
            return refuse(
                &ctx,
                page,
                StatusCode::FORBIDDEN,
                "forbidden",
                &format!("this needs the {needed} role"),
            );
        }
        (Access::Role(_), Ok(Some(p))) => Some(p),
    };
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    next.run(req).await
}

/// The authenticated caller, for handlers behind a role.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| unauthorized("authentication required"))
    }
}
