//! The one place that says which role each route needs.
//!
//! `required` is matched on the route template (axum's `MatchedPath`). A route missing here
//! is refused at run time (fail closed), and tests walk every API and UI route and fail if one
//! has no policy.

use axum::http::Method;

use crate::domain::auth::Role;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials: health, readiness, webhooks (their own credentials), the login page,
    /// static assets, the API description.
    Public,
    /// At least this role.
    Role(Role),
}

/// Settings that open routes up.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `/metrics` needs a viewer.
    pub protect_metrics: bool,
    /// Environment status pages are readable without logging in.
    pub public_status_pages: bool,
}

/// The policy for `method` on route template `route`, or None when the route has none.
pub fn required(method: &Method, route: &str, options: Options) -> Option<Access> {
    use Access::{Public, Role as R};
    use Role::{Admin, Developer, Viewer};
    let m = method.as_str();
    Some(match (m, route) {
        ("GET", "/healthz" | "/readyz" | "/api/openapi.json" | "/login") => Public,
        ("POST", "/login" | "/logout" | "/webhooks/gitlab") => Public,
        ("GET", "/metrics") if options.protect_metrics => R(Viewer),
        ("GET", "/metrics") => Public,
        ("GET", "/api/me") => R(Viewer),
        (
            "GET",
            "/api/environments"
            | "/api/environments/{id}"
            | "/api/environments/{id}/events"
            | "/api/events/environments",
        ) => R(Viewer),
        (
            "POST",
            "/api/environments"
            | "/api/environments/{id}/redeploy"
            | "/api/environments/{id}/retry"
            | "/api/environments/{id}/extend"
            | "/api/environments/{id}/keep"
            | "/api/environments/{id}/sleep"
            | "/api/environments/{id}/wake",
        ) => R(Developer),
        ("DELETE", "/api/environments/{id}" | "/api/environments/{id}/keep") => R(Developer),
        (
            "GET",
            "/api/repositories"
            | "/api/repositories/{id}"
            | "/api/config-sets"
            | "/api/config-sets/{id}",
        ) => R(Viewer),
        ("POST", "/api/repositories" | "/api/config-sets") => R(Admin),
        ("PUT" | "DELETE", "/api/repositories/{id}" | "/api/config-sets/{id}") => R(Admin),
        // Developers manage their own tokens; admins everyone's (checked in the handler).
        ("GET" | "POST", "/api/tokens") => R(Developer),
        ("DELETE", "/api/tokens/{id}") => R(Developer),
        ("POST", "/api/sessions/end") => R(Admin),
        // Receivers' URLs are secrets of their own: admins only.
        ("GET" | "POST", "/api/subscriptions") => R(Admin),
        ("GET" | "DELETE", "/api/subscriptions/{id}") => R(Admin),
        ("GET", "/api/deletions") => R(Viewer),
        ("POST", "/api/deletions/confirm") => R(Admin),

        // The web UI: the same roles as the API behind each page.
        ("GET", "/" | "/static/{*path}") => Public,
        ("GET", "/environments/{id}") if options.public_status_pages => Public,
        ("GET", "/environments" | "/environments/{id}") => R(Viewer),
        ("GET", "/environments/new") => R(Developer),
        ("POST", "/environments" | "/environments/{id}/{action}") => R(Developer),
        ("POST", "/deletions/confirm") => R(Admin),
        ("GET", "/repositories" | "/config-sets" | "/repositories/{id}/cost") => R(Viewer),
        ("GET" | "POST", "/repositories/{id}" | "/config-sets/{id}") => R(Admin),
        (
            "POST",
            "/repositories"
            | "/config-sets"
            | "/repositories/{id}/delete"
            | "/config-sets/{id}/delete",
        ) => R(Admin),
        ("GET" | "POST", "/subscriptions") => R(Admin),
        ("POST", "/subscriptions/{id}/delete") => R(Admin),
        ("GET" | "POST", "/tokens") => R(Developer),
        ("POST", "/tokens/{id}/revoke") => R(Developer),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_needs_viewer_changing_needs_more() {
        let o = Options::default();
        assert_eq!(
            required(&Method::GET, "/api/environments", o),
            Some(Access::Role(Role::Viewer))
        );
        assert_eq!(
            required(&Method::POST, "/api/environments", o),
            Some(Access::Role(Role::Developer))
        );
        assert_eq!(
            required(&Method::POST, "/api/repositories", o),
            Some(Access::Role(Role::Admin))
        );
        assert_eq!(required(&Method::GET, "/healthz", o), Some(Access::Public));
        let protected = Options {
            protect_metrics: true,
            ..o
        };
        assert_eq!(
            required(&Method::GET, "/metrics", protected),
            Some(Access::Role(Role::Viewer))
        );
        assert_eq!(
            required(&Method::PATCH, "/api/environments", o),
            None,
            "unknown pairs have no policy"
        );
    }

    #[test]
    fn public_status_pages_open_only_the_status_page() {
        let open = Options {
            public_status_pages: true,
            ..Options::default()
        };
        assert_eq!(
            required(&Method::GET, "/environments/{id}", open),
            Some(Access::Public)
        );
        assert_eq!(
            required(&Method::GET, "/environments/{id}", Options::default()),
            Some(Access::Role(Role::Viewer))
        );
        assert_eq!(
            required(&Method::POST, "/environments/{id}/{action}", open),
            Some(Access::Role(Role::Developer))
        );
        assert_eq!(
            required(&Method::GET, "/environments", open),
            Some(Access::Role(Role::Viewer))
        );
    }
}
