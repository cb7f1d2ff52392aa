//! Wake on visit: a sleeping environment's host (`{id}.{base_domain}`) is sent to Blueberry
//! (the chart's ExternalName Service), so its visitors land here. A visit by a person wakes it
//! and gets a "waking up" page that reloads until the app answers; a bot, a link unfurler or a
//! `HEAD` does not wake it (`--wake-on-visit`). A host naming no live environment gets a page
//! that says so.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{config::WakeOnVisit, domain::Status, service::Context};

/// Seconds between reloads of the waking page.
const RELOAD_SECS: u32 = 3;

/// User agents that only look: crawlers and the link unfurlers of chat tools.
const LOOKERS: &[&str] = &[
    "bot",
    "crawler",
    "spider",
    "slurp",
    "facebookexternalhit",
    "embedly",
    "preview",
    "unfurl",
];

/// The page a visitor of an environment's host gets from Blueberry.
#[derive(Template, WebTemplate)]
#[template(path = "visit.html")]
pub struct VisitPage {
    pub id: String,
    /// `waking`, `asleep` (not woken by this visit), `starting` or `gone`.
    pub state: &'static str,
    pub status_page: String,
    pub reload_secs: u32,
}

/// Serves requests for an environment's host; passes everything else on.
pub async fn by_host(State(ctx): State<Context>, req: Request, next: Next) -> Response {
    let named = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| environment_host(h, &ctx.settings.public_url, &ctx.settings.base_domain));
    let Some(id) = named else {
        return next.run(req).await;
    };
    let agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let wakes = wakes(ctx.settings.wake_on_visit, req.method(), agent);
    visit(&ctx, &id, wakes).await
}

/// The environment id a `Host` names, when it is `{id}.{base_domain}` (and not Blueberry's own
/// host).
fn environment_host(host: &str, public_url: &str, base: &str) -> Option<String> {
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let own = public_url.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', ':']).next().unwrap_or_default()
    });
    if host.eq_ignore_ascii_case(own) {
        return None;
    }
    let label = host
        .len()
        .checked_sub(base.len() + 1)
        .filter(|&at| host[at + 1..].eq_ignore_ascii_case(base) && host.as_bytes()[at] == b'.')
        .map(|at| &host[..at])?;
    (!label.is_empty() && !label.contains('.')).then(|| label.to_ascii_lowercase())
}

/// Whether a request with `method` from `agent` should wake a sleeping environment.
fn wakes(policy: WakeOnVisit, method: &Method, agent: &str) -> bool {
    let agent = agent.to_ascii_lowercase();
    match policy {
        WakeOnVisit::Never => false,
        _ if method == Method::HEAD => false,
        WakeOnVisit::Any => true,
        WakeOnVisit::Humans => {
            method == Method::GET && !agent.is_empty() && !LOOKERS.iter().any(|l| agent.contains(l))
        }
    }
}

async fn visit(ctx: &Context, id: &str, wakes: bool) -> Response {
    let env = match ctx.environments.get(id).await {
        Ok(env) if env.is_live_not_deleting() => Some(env),
        Ok(_) | Err(crate::service::ServiceError::NotFound(_)) => None,
        Err(e) => {
            tracing::warn!(error = %e, id, "could not read the visited environment");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "Blueberry cannot answer right now; try again shortly.",
            )
                .into_response();
        }
    };
    let status_page = crate::domain::EnvironmentId::parse(id).map_or_else(
        |_| format!("{}/environments", ctx.settings.public_url),
        |id| ctx.settings.status_page_url(&id),
    );
    let state = match &env {
        None => "gone",
        Some(e) if e.asleep.is_some() && wakes => {
            match ctx.environments.sleep(id, false, "visitor").await {
                Ok(_) | Err(crate::service::ServiceError::Conflict(_)) => "waking",
                Err(e) => {
                    tracing::warn!(error = %e, id, "a visit could not wake the environment");
                    "asleep"
                }
            }
        }
        Some(e) if e.asleep.is_some() => "asleep",
        Some(e) if e.status == Status::Pending => "starting",
        // Awake and ready: the ingress is switching back; the next reload gets the app.
        Some(_) => "starting",
    };
    let page = VisitPage {
        id: id.to_owned(),
        state,
        status_page,
        reload_secs: RELOAD_SECS,
    };
    let code = if state == "gone" {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = (code, page).into_response();
    if code == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RELOAD_SECS));
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "https://blueberry.preview.example.com";
    const BASE: &str = "preview.example.com";

    #[test]
    fn only_an_environments_own_host_is_taken() {
        let named = |h| environment_host(h, OWN, BASE);
        assert_eq!(
            named("pr-42-shop.preview.example.com").as_deref(),
            Some("pr-42-shop")
        );
        assert_eq!(
            named("PR-42-Shop.Preview.Example.com:443").as_deref(),
            Some("pr-42-shop")
        );
        assert_eq!(
            named("blueberry.preview.example.com"),
            None,
            "Blueberry's own host"
        );
        assert_eq!(named("a.b.preview.example.com"), None);
        assert_eq!(named("preview.example.com"), None);
        assert_eq!(named("evilpreview.example.com"), None);
        assert_eq!(named("127.0.0.1:8080"), None);
    }

    #[test]
    fn people_wake_environments_and_bots_only_look() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert!(wakes(WakeOnVisit::Humans, &Method::GET, firefox));
        assert!(!wakes(WakeOnVisit::Humans, &Method::HEAD, firefox));
        assert!(!wakes(
            WakeOnVisit::Humans,
            &Method::GET,
            "Slackbot-LinkExpanding 1.0"
        ));
        assert!(!wakes(WakeOnVisit::Humans, &Method::GET, "Googlebot/2.1"));
        assert!(!wakes(WakeOnVisit::Humans, &Method::GET, ""));
        assert!(!wakes(WakeOnVisit::Humans, &Method::POST, firefox));
        assert!(wakes(WakeOnVisit::Any, &Method::POST, "Slackbot"));
        assert!(!wakes(WakeOnVisit::Any, &Method::HEAD, firefox));
        assert!(!wakes(WakeOnVisit::Never, &Method::GET, firefox));
    }
}
