//! The one place that says which role each route needs.
//!
//! `required` is matched on the route template (axum's `MatchedPath`). A route missing here
//! is refused at run time (fail closed), and a test walks every documented route and fails if
//! one has no policy.

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

/// The policy for `method` on route template `route`, or None when the route has none.
pub fn required(method: &Method, route: &str, protect_metrics: bool) -> Option<Access> {
    use Access::{Public, Role as R};
    use Role::{Admin, Developer, Viewer};
    let m = method.as_str();
    Some(match (m, route) {
        ("GET", "/healthz" | "/readyz" | "/api/openapi.json" | "/login") => Public,
        ("POST", "/login" | "/logout" | "/webhooks/gitlab") => Public,
        ("GET", "/metrics") => {
            if protect_metrics {
                R(Viewer)
            } else {
                Public
            }
        }
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
            | "/api/environments/{id}/extend",
        ) => R(Developer),
        ("DELETE", "/api/environments/{id}") => R(Developer),
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
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_needs_viewer_changing_needs_more() {
        assert_eq!(
            required(&Method::GET, "/api/environments", false),
            Some(Access::Role(Role::Viewer))
        );
        assert_eq!(
            required(&Method::POST, "/api/environments", false),
            Some(Access::Role(Role::Developer))
        );
        assert_eq!(
            required(&Method::POST, "/api/repositories", false),
            Some(Access::Role(Role::Admin))
        );
        assert_eq!(
            required(&Method::GET, "/healthz", false),
            Some(Access::Public)
        );
        assert_eq!(
            required(&Method::GET, "/metrics", true),
            Some(Access::Role(Role::Viewer))
        );
        assert_eq!(
            required(&Method::PATCH, "/api/environments", false),
            None,
            "unknown pairs have no policy"
        );
    }
}
