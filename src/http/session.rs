//! Browser sessions: the signed `bb_session` cookie, what it stands on, and its CSRF token.
//!
//! The cookie names the API token a session was made from (re-checked on every request, so
//! revoking the token ends the session) or the Firebase user with what their role was decided
//! from (the role rules are applied again on every request), and when it started, so an admin
//! can end a user's sessions (`service::sessions`). It is signed with `--session-key`, shared
//! by every replica.

use axum::http::{HeaderMap, header};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::service::Context;

pub const SESSION_COOKIE: &str = "bb_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Browser sessions last this long.
pub const SESSION_HOURS: i64 = 12;

/// What a session stands on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Subject {
    /// An API token, by id.
    #[serde(rename = "t")]
    Token { id: String },
    /// A Firebase user, with what their role is decided from.
    #[serde(rename = "f")]
    Firebase {
        name: String,
        email: Option<String>,
        verified: bool,
        claim: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    sub: Subject,
    /// Started at, Unix milliseconds.
    iat: i64,
    /// Ends at, Unix seconds.
    exp: i64,
}

/// An open, valid session.
#[derive(Debug, Clone)]
pub struct Session {
    pub subject: Subject,
    pub started: DateTime<Utc>,
}

fn mac(ctx: &Context, purpose: &str, payload: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(ctx.settings.session_key.expose_secret())
        .expect("any key length");
    m.update(purpose.as_bytes());
    m.update(payload.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// A signed cookie value for a session on `subject` starting now.
pub fn seal(ctx: &Context, subject: Subject) -> String {
    let now = ctx.ports.clock.now();
    let claims = Claims {
        sub: subject,
        iat: now.timestamp_millis(),
        exp: (now + chrono::Duration::hours(SESSION_HOURS)).timestamp(),
    };
    let json = serde_json::to_vec(&claims).expect("claims serialize");
    let payload = URL_SAFE_NO_PAD.encode(json);
    format!(
        "{payload}.{}",
        URL_SAFE_NO_PAD.encode(mac(ctx, "session:", &payload))
    )
}

/// The session in a cookie value this server signed and that has not expired.
pub fn open(ctx: &Context, value: &str) -> Option<Session> {
    let (payload, sig) = value.split_once('.')?;
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    if !bool::from(sig.as_slice().ct_eq(&mac(ctx, "session:", payload))) {
        return None;
    }
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    if claims.exp <= ctx.ports.clock.now().timestamp() {
        return None;
    }
    Some(Session {
        subject: claims.sub,
        started: DateTime::from_timestamp_millis(claims.iat)?,
    })
}

/// The `Set-Cookie` value that starts a session.
pub fn set_cookie(ctx: &Context, value: &str) -> String {
    let secure = if ctx.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        SESSION_HOURS * 3600
    )
}

/// The `Set-Cookie` value that ends the browser's session.
pub fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The CSRF token for a session: forms and scripts echo it in `X-CSRF-Token`.
pub fn csrf_token(ctx: &Context, cookie_value: &str) -> String {
    let payload = cookie_value.split('.').next().unwrap_or_default();
    hex::encode(&mac(ctx, "csrf:", payload)[..16])
}

/// Whether `sent` is the session's CSRF token (compared in constant time).
pub fn csrf_matches(ctx: &Context, cookie_value: &str, sent: Option<&str>) -> bool {
    let expected = csrf_token(ctx, cookie_value);
    bool::from(
        sent.unwrap_or_default()
            .as_bytes()
            .ct_eq(expected.as_bytes()),
    )
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
