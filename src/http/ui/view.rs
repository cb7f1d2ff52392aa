//! What every page shows around its content (the "chrome"), UI errors, and small formatting
//! helpers the templates use.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    http::request::Parts,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};

use crate::{
    domain::auth::Role,
    http::{
        errors::ApiError,
        session::{SESSION_COOKIE, cookie, csrf_token},
    },
    service::{Context, ServiceError, tokens::Principal},
};

/// The page shown for errors on UI routes (not found, forbidden, unavailable…).
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub status: u16,
    pub title: String,
    pub detail: String,
}

/// The header, navigation and banners of a page, and what the caller may do.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Who is signed in; None on public pages seen anonymously.
    pub user: Option<Principal>,
    /// The session's CSRF token, echoed by every form.
    pub csrf: String,
    /// The cluster is the built-in simulation: every page says so.
    pub simulated: bool,
    /// A message after a redirect (`?done=…`), from a fixed list.
    pub flash: Option<&'static str>,
    /// The URL path, to mark the current section in the navigation.
    pub path: String,
    /// Expiry teardowns held over `--max-deletions-per-minute` (a banner until confirmed).
    pub deletions_held: Option<usize>,
}

impl Chrome {
    pub async fn from_parts(parts: &Parts, ctx: &Context) -> Self {
        let user = parts.extensions.get::<Principal>().cloned();
        let csrf = cookie(&parts.headers, SESSION_COOKIE)
            .map(|value| csrf_token(ctx, value))
            .unwrap_or_default();
        let flash = parts.uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "done")
                .and_then(|(_, v)| flash_message(&v))
        });
        Self {
            user,
            csrf,
            simulated: ctx.settings.simulated_cluster,
            flash,
            path: parts.uri.path().to_owned(),
            deletions_held: ctx.deletions.held_for_banner().await,
        }
    }

    pub fn anonymous(ctx: &Context) -> Self {
        Self {
            user: None,
            csrf: String::new(),
            simulated: ctx.settings.simulated_cluster,
            flash: None,
            // Pages without a signed-in user (login, errors) carry no operator banner.
            deletions_held: None,
            path: String::new(),
        }
    }

    fn role(&self) -> Option<Role> {
        self.user.as_ref().map(|u| u.role)
    }

    /// Developers and admins change environments and their own tokens.
    pub fn can_write(&self) -> bool {
        self.role() >= Some(Role::Developer)
    }

    /// Admins manage repositories and config sets.
    pub fn is_admin(&self) -> bool {
        self.role() == Some(Role::Admin)
    }

    /// The name recorded in audits and events for what this caller does.
    pub fn actor(&self) -> String {
        self.user
            .as_ref()
            .map(|u| u.name.clone())
            .unwrap_or_default()
    }

    /// `aria-current` for the navigation link to `section`.
    pub fn current(&self, section: &str) -> &'static str {
        if self.path == section || self.path.starts_with(&format!("{section}/")) {
            "page"
        } else {
            "false"
        }
    }
}

/// An option of a `<select>` (or a radio button).
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// Options from `(value, label)` pairs, `selected` marking the current value.
pub fn choices<I, V, L>(items: I, selected: &str) -> Vec<Choice>
where
    I: IntoIterator<Item = (V, L)>,
    V: Into<String>,
    L: Into<String>,
{
    items
        .into_iter()
        .map(|(v, l)| {
            let value = v.into();
            Choice {
                selected: value == selected,
                label: l.into(),
                value,
            }
        })
        .collect()
}

fn flash_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "Created.",
        "saved" => "Saved.",
        "deleted" => "Deleted.",
        "redeploy" => "Redeploy started.",
        "retry" => "Retry started.",
        "extend" => "Expiry extended.",
        "destroy" => "Teardown started.",
        "sleep" => "Going to sleep.",
        "wake" => "Waking up.",
        "revoked" => "Token revoked.",
        _ => return None,
    })
}

/// An error on a page: rendered as an HTML page with the API's status and message. Boxed:
/// the chrome is large and errors are rare.
pub struct UiError(Box<(Chrome, ApiError)>);

impl UiError {
    pub fn new(chrome: &Chrome, error: impl Into<ApiError>) -> Self {
        Self(Box::new((chrome.clone(), error.into())))
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (chrome, error) = *self.0;
        let status = error.status;
        let page = ErrorPage {
            chrome,
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            detail: error.detail,
        };
        (status, page).into_response()
    }
}

/// Attaches the page chrome to a service result's error.
pub trait OrPage<T> {
    fn or_page(self, chrome: &Chrome) -> Result<T, UiError>;
}

impl<T> OrPage<T> for Result<T, ServiceError> {
    fn or_page(self, chrome: &Chrome) -> Result<T, UiError> {
        self.map_err(|e| UiError::new(chrome, e))
    }
}

/// `2026-11-23 16:04 UTC`
pub fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A time as people read it next to a countdown: `07:29 UTC` today, `Dec 3, 07:29 UTC` on
/// another day.
pub fn clock(t: &DateTime<Utc>, now: DateTime<Utc>) -> String {
    if t.date_naive() == now.date_naive() {
        t.format("%H:%M UTC").to_string()
    } else {
        t.format("%b %-d, %H:%M UTC").to_string()
    }
}

/// `in 3 h 05 min`, `2 h 10 min ago`, `now`.
pub fn relative(t: &DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (*t - now).num_seconds();
    let abs = secs.unsigned_abs();
    let text = match abs {
        0..60 => return "now".to_owned(),
        60..3600 => format!("{} min", abs / 60),
        3600..86_400 => format!("{} h {:02} min", abs / 3600, abs % 3600 / 60),
        _ => format!("{} d {} h", abs / 86_400, abs % 86_400 / 3600),
    };
    if secs > 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: i64| now + chrono::Duration::seconds(s);
        assert_eq!(relative(&at(30), now), "now");
        assert_eq!(relative(&at(-30), now), "now");
        assert_eq!(relative(&at(5 * 60), now), "in 5 min");
        assert_eq!(relative(&at(-(2 * 3600 + 10 * 60)), now), "2 h 10 min ago");
        assert_eq!(relative(&at(3 * 3600 + 5 * 60), now), "in 3 h 05 min");
        assert_eq!(relative(&at(3 * 86_400 + 7200), now), "in 3 d 2 h");
    }

    #[test]
    fn only_known_flash_codes_become_messages() {
        assert_eq!(flash_message("extend"), Some("Expiry extended."));
        assert_eq!(flash_message("<script>"), None);
    }
}
