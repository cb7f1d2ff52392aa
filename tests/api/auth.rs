//! Authentication and authorization: every route × every kind of caller.
//!
//! Long on purpose: the route table (every API route) and the caller kinds crossed with it;
//! splitting would split the table.

use std::collections::BTreeSet;

use blueberry::{
    domain::auth::{ApiToken, Role, token_hash},
    http::policy,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, client_with};

/// The specification: what each route needs (None = public). Written out here, not derived
/// from the policy module, so the test can disagree with it.
const ROUTES: &[(&str, &str, Option<Role>)] = &[
    ("GET", "/healthz", None),
    ("GET", "/readyz", None),
    ("GET", "/metrics", None),
    ("POST", "/webhooks/gitlab", None),
    ("GET", "/api/me", Some(Role::Viewer)),
    ("GET", "/api/environments", Some(Role::Viewer)),
    ("POST", "/api/environments", Some(Role::Developer)),
    ("GET", "/api/environments/{id}", Some(Role::Viewer)),
    ("DELETE", "/api/environments/{id}", Some(Role::Developer)),
    (
        "POST",
        "/api/environments/{id}/redeploy",
        Some(Role::Developer),
    ),
    (
        "POST",
        "/api/environments/{id}/retry",
        Some(Role::Developer),
    ),
    (
        "POST",
        "/api/environments/{id}/extend",
        Some(Role::Developer),
    ),
    ("GET", "/api/environments/{id}/events", Some(Role::Viewer)),
    ("GET", "/api/events/environments", Some(Role::Viewer)),
    ("GET", "/api/repositories", Some(Role::Viewer)),
    ("POST", "/api/repositories", Some(Role::Admin)),
    ("GET", "/api/repositories/{id}", Some(Role::Viewer)),
    ("PUT", "/api/repositories/{id}", Some(Role::Admin)),
    ("DELETE", "/api/repositories/{id}", Some(Role::Admin)),
    ("GET", "/api/config-sets", Some(Role::Viewer)),
    ("POST", "/api/config-sets", Some(Role::Admin)),
    ("GET", "/api/config-sets/{id}", Some(Role::Viewer)),
    ("PUT", "/api/config-sets/{id}", Some(Role::Admin)),
    ("DELETE", "/api/config-sets/{id}", Some(Role::Admin)),
    ("GET", "/api/tokens", Some(Role::Developer)),
    ("POST", "/api/tokens", Some(Role::Developer)),
    ("DELETE", "/api/tokens/{id}", Some(Role::Developer)),
    ("POST", "/api/sessions/end", Some(Role::Admin)),
    ("POST", "/api/environments/{id}/keep", Some(Role::Developer)),
    (
        "DELETE",
        "/api/environments/{id}/keep",
        Some(Role::Developer),
    ),
    ("GET", "/api/deletions", Some(Role::Viewer)),
    ("POST", "/api/deletions/confirm", Some(Role::Admin)),
    (
        "POST",
        "/api/environments/{id}/sleep",
        Some(Role::Developer),
    ),
    ("POST", "/api/environments/{id}/wake", Some(Role::Developer)),
    ("GET", "/api/subscriptions", Some(Role::Admin)),
    ("POST", "/api/subscriptions", Some(Role::Admin)),
    ("GET", "/api/subscriptions/{id}", Some(Role::Admin)),
    ("DELETE", "/api/subscriptions/{id}", Some(Role::Admin)),
];

async fn token(app: &TestApp, role: &str) -> String {
    app.token(role).await
}

#[tokio::test]
async fn every_route_has_a_policy_and_the_spec_covers_every_route() {
    let app = TestApp::spawn().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect();
    let specified: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, specified, "the auth spec and the routes differ");
    for (m, p) in &documented {
        assert!(
            policy::required(
                &Method::from_bytes(m.as_bytes()).unwrap(),
                p,
                policy::Options::default()
            )
            .is_some(),
            "{m} {p} has no policy"
        );
    }
}

#[tokio::test]
async fn the_auth_matrix_holds_for_every_route_and_caller() {
    let app = TestApp::spawn().await;
    let viewer = token(&app, "viewer").await;
    let developer = token(&app, "developer").await;
    let admin = token(&app, "admin").await;
    let r = app
        .post(
            "/api/tokens",
            &json!({"name": "to-revoke", "role": "developer"}),
        )
        .await;
    let created: Value = r.json().await.unwrap();
    let revoked = created["token_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        app.delete(&format!("/api/tokens/{}", created["id"].as_str().unwrap()))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let expired = "bb_expired-0123456789abcdef0123456789abcdef";
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    app.ctx
        .ports
        .tokens
        .create_token(&ApiToken {
            id: "expired".into(),
            name: "old".into(),
            role: Role::Admin,
            hash: token_hash(expired),
            owner: "test".into(),
            created_at: past - chrono::Duration::hours(2),
            expires_at: Some(past),
            revoked_at: None,
            last_used_at: None,
        })
        .await
        .unwrap();

    let callers: Vec<(&str, Option<String>, Option<Role>)> = vec![
        ("nobody", None, None),
        ("viewer", Some(viewer), Some(Role::Viewer)),
        ("developer", Some(developer), Some(Role::Developer)),
        ("admin", Some(admin), Some(Role::Admin)),
        ("expired", Some(expired.to_owned()), None),
        ("revoked", Some(revoked), None),
        (
            "forged",
            Some("bb_forged-0123456789abcdef0123456789abcdef".to_owned()),
            None,
        ),
        ("garbage", Some("not-a-token".to_owned()), None),
    ];
    for (method, route, needed) in ROUTES {
        let url = format!("{}{}", app.url, route.replace("{id}", "does-not-exist"));
        for (who, secret, role) in &callers {
            let client = match secret {
                Some(s) => client_with(s),
                None => reqwest::Client::new(),
            };
            let mut req = client
                .request(Method::from_bytes(method.as_bytes()).unwrap(), &url)
                .header("content-type", "application/json")
                .body("{}");
            if route.contains("/events/") {
                req = req.timeout(std::time::Duration::from_millis(300));
            }
            let Ok(r) = req.send().await else { continue }; // an SSE stream that opened and was cut
            let status = r.status();
            match (needed, role) {
                (None, _) => assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{who}: {method} {route} is public but got {status}"
                ),
                (Some(_), None) => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{who}: {method} {route}");
                    assert!(
                        r.headers().contains_key("www-authenticate"),
                        "{who}: {method} {route} without WWW-Authenticate"
                    );
                    let body: Value = r.json().await.unwrap();
                    assert_eq!(body["status"], 401);
                }
                (Some(n), Some(have)) if have < n => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {method} {route}")
                }
                (Some(_), Some(_)) => assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{who}: {method} {route} got {status}"
                ),
            }
        }
    }
}

#[tokio::test]
async fn tokens_are_shown_once_stored_hashed_scoped_and_revocable() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/api/tokens",
            &json!({"name": "ci", "role": "developer", "expires_in_hours": 24}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let secret = created["token_secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("bb_") && secret.len() >= 3 + 64,
        "{secret}"
    );
    let listed = app.get("/api/tokens").await.text().await.unwrap();
    assert!(!listed.contains(&secret), "listing never shows secrets");
    let stored = app
        .ctx
        .ports
        .tokens
        .find_token_by_hash(&token_hash(&secret))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.hash, token_hash(&secret));
    let db = std::fs::read(app.config.database_path()).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(&secret),
        "only the hash is stored"
    );

    let dev = client_with(&secret);
    let me: Value = dev
        .get(format!("{}/api/me", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me, json!({"name": "token:ci", "role": "developer"}));
    let listed: Value = app.get("/api/tokens").await.json().await.unwrap();
    let used = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap();
    assert!(used["last_used_at"].is_string(), "last use is recorded");
    // A developer cannot mint an admin token, nor see or revoke the admin's.
    let r = dev
        .post(format!("{}/api/tokens", app.url))
        .json(&json!({"name": "x", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::FORBIDDEN, "cannot create admin tokens").await;
    let own: Value = dev
        .get(format!("{}/api/tokens", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        own.as_array().unwrap().is_empty(),
        "the ci token's own list: tokens it created"
    );
    let bootstrap = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "bootstrap")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        dev.delete(format!("{}/api/tokens/{bootstrap}", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    // Revocation is immediate.
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/tokens/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        dev.get(format!("{}/api/me", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let bad = app
        .post("/api/tokens", &json!({"name": "", "role": "viewer"}))
        .await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "name").await;
    let bad = app
        .post("/api/tokens", &json!({"name": "x", "role": "root"}))
        .await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "role").await;
}

#[tokio::test]
async fn a_browser_session_comes_from_a_token_and_writes_need_the_csrf_token() {
    let app = TestApp::spawn().await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(format!("{}/login", app.url))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("<label for=\"token\">"));
    let bad = browser
        .post(format!("{}/login", app.url))
        .form(&[("token", "bb_wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let r = browser
        .post(format!("{}/login", app.url))
        .form(&[("token", crate::helpers::ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let me = browser
        .get(format!("{}/api/me", app.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let value = cookie.split_once('=').unwrap().1;
    let body = json!({"name": "web", "repo_url": "https://e.com/r.git", "path": "p", "target_revision": "main"});
    let no_csrf = browser
        .post(format!("{}/api/config-sets", app.url))
        .header("cookie", &cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(no_csrf, StatusCode::FORBIDDEN, "X-CSRF-Token").await;
    let csrf = blueberry::http::session::csrf_token(&app.ctx, value);
    let ok = browser
        .post(format!("{}/api/config-sets", app.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    let tampered = format!("{}x", cookie);
    assert_eq!(
        browser
            .get(format!("{}/api/me", app.url))
            .header("cookie", tampered)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let forged = browser
        .post(format!("{}/logout", app.url))
        .header("cookie", &cookie)
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::FORBIDDEN,
        "logout needs the session's CSRF token"
    );
    let out = browser
        .post(format!("{}/logout", app.url))
        .header("cookie", &cookie)
        .form(&[(
            "csrf",
            blueberry::http::session::csrf_token(&app.ctx, value).as_str(),
        )])
        .send()
        .await
        .unwrap();
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}
