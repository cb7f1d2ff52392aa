//! The web UI over HTTP, as a browser without JavaScript sees it: pages, forms with inline
//! errors, CSRF on every form, confirmation before actions, escaping, assets, access.
//!
//! Long on purpose: the UI's pages, each test short, sharing the cookie-session and CSRF helpers
//! here.

use blueberry::{domain::MergeRequest, service::environments::CreateEnvironment};
use reqwest::{StatusCode, header};

use crate::helpers::{ADMIN_TOKEN, TestApp};

pub const HOSTILE_TITLE: &str = "<script>alert(1)</script>";

/// An MR environment whose title, author and URL are hostile; returns its id.
pub async fn hostile_environment(app: &TestApp, repository_id: &str) -> String {
    let env = app
        .ctx
        .environments
        .create(
            CreateEnvironment {
                name: "pr-7".into(),
                repository_id: repository_id.into(),
                branch: Some("feature/x".into()),
                config_set_id: None,
                ttl_hours: None,
                helm_values_override: None,
                sha: None,
                merge_request: Some(MergeRequest {
                    iid: 7,
                    title: HOSTILE_TITLE.into(),
                    url: "javascript:alert(2)".into(),
                    author: "\"><img src=x onerror=alert(3)>".into(),
                }),
                fork: None,
            },
            "gitlab:mallory",
        )
        .await
        .unwrap();
    env.id.to_string()
}

/// A browser-like client: a session cookie from logging in with `token`, no redirects
/// followed, and the session's CSRF token for forms.
pub struct Session {
    pub client: reqwest::Client,
    pub csrf: String,
    url: String,
}

impl Session {
    pub async fn login(app: &TestApp, token: &str) -> Self {
        let plain = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = plain
            .post(format!("{}/login", app.url))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let cookie = r.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let value = cookie.split_once('=').unwrap().1.to_owned();
        let mut headers = header::HeaderMap::new();
        headers.insert(header::COOKIE, cookie.parse().unwrap());
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .default_headers(headers)
                .build()
                .unwrap(),
            csrf: blueberry::http::session::csrf_token(&app.ctx, &value),
            url: app.url.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    /// Posts a form with the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.client
            .post(format!("{}{path}", self.url))
            .form(&all)
            .send()
            .await
            .unwrap()
    }
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn pages_send_strangers_to_login_and_refuse_roles_too_low() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    app.create_environment("demo", &repo).await;
    let viewer = Session::login(&app, &app.token("viewer").await).await;
    let developer = Session::login(&app, &app.token("developer").await).await;
    let admin = Session::login(&app, ADMIN_TOKEN).await;
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let repo_page = format!("/repositories/{repo}");
    // (page, least role that may open it)
    let pages: Vec<(&str, &str)> = vec![
        ("/environments", "viewer"),
        ("/environments/demo-shop", "viewer"),
        ("/environments/new", "developer"),
        ("/repositories", "viewer"),
        (&repo_page, "admin"),
        ("/config-sets", "viewer"),
        ("/tokens", "developer"),
    ];
    for (page, least) in &pages {
        let r = anonymous
            .get(format!("{}{page}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{page}");
        let to = location(&r);
        assert!(to.starts_with("/login?next=%2F"), "{page} → {to}");
        for (who, session) in [
            ("viewer", &viewer),
            ("developer", &developer),
            ("admin", &admin),
        ] {
            let r = session.get(page).await;
            let allowed = match *least {
                "viewer" => true,
                "developer" => who != "viewer",
                _ => who == "admin",
            };
            if allowed {
                assert_eq!(r.status(), StatusCode::OK, "{who} {page}");
            } else {
                assert_eq!(r.status(), StatusCode::FORBIDDEN, "{who} {page}");
                assert!(
                    r.headers()[header::CONTENT_TYPE]
                        .to_str()
                        .unwrap()
                        .starts_with("text/html"),
                    "{who} {page}: refusals of pages are pages"
                );
                assert!(
                    r.text()
                        .await
                        .unwrap()
                        .contains(&format!("needs the {least} role"))
                );
            }
        }
    }
    // Writes: a viewer may not act on an environment; a stranger's post is refused.
    let r = viewer
        .post("/environments/demo-shop/redeploy", &[("confirm", "yes")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = anonymous
        .post(format!("{}/environments/demo-shop/destroy", app.url))
        .form(&[("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Viewers see no actions, developers see them.
    let page = viewer
        .get("/environments/demo-shop")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("id=\"destroy\""));
    let page = developer
        .get("/environments/demo-shop")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"destroy\""));
    assert!(
        app.environment("demo-shop").await["status"]
            .as_str()
            .is_some()
    );
    app.stop().await;
}

#[tokio::test]
async fn forms_need_the_sessions_csrf_token() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let admin = Session::login(&app, ADMIN_TOKEN).await;
    let form = [("name", "demo"), ("repository_id", repo.as_str())];
    let r = admin
        .client
        .post(format!("{}/environments", app.url))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no CSRF field");
    let mut forged = vec![("csrf", "0123456789abcdef0123456789abcdef")];
    forged.extend_from_slice(&form);
    let r = admin
        .client
        .post(format!("{}/environments", app.url))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a wrong CSRF field");
    let page = r.text().await.unwrap();
    assert!(page.contains("reload the page"), "says what to do: {page}");
    assert!(!page.contains("X-CSRF-Token"), "no header talk for people");
    assert!(
        page.contains("token:bootstrap") && !page.contains(">Log in<"),
        "the header knows who is signed in"
    );
    let list: serde_json::Value = app.get("/api/environments").await.json().await.unwrap();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
    let huge = "x".repeat(blueberry::http::BODY_LIMIT + 1);
    let r = admin
        .post(
            "/environments",
            &[("name", "big"), ("helm_values_override", huge.as_str())],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "refused, not passed on empty"
    );
    assert!(r.text().await.unwrap().contains("larger than"));
    let r = admin.post("/environments", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/environments/demo-shop?done=created");
    app.stop().await;
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[tokio::test]
async fn hostile_text_from_gitlab_renders_as_text() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let id = hostile_environment(&app, &repo).await;
    let s = Session::login(&app, ADMIN_TOKEN).await;
    for page in [format!("/environments/{id}"), "/environments".to_owned()] {
        let html = s.get(&page).await.text().await.unwrap();
        assert!(!html.contains("<script>alert"), "{page}: raw script tag");
        assert!(!html.contains("<img src=x"), "{page}: raw img tag");
        assert!(!html.contains("javascript:"), "{page}: javascript: link");
    }
    let html = s
        .get(&format!("/environments/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&html_escape(HOSTILE_TITLE)),
        "the title is shown, escaped"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_page_says_the_cluster_is_simulated_and_assets_come_from_the_binary() {
    let app = TestApp::spawn().await;
    let s = Session::login(&app, ADMIN_TOKEN).await;
    for page in [
        "/login",
        "/environments",
        "/environments/new",
        "/repositories",
        "/config-sets",
        "/tokens",
        "/environments/nope-nope",
    ] {
        let r = s.get(page).await;
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{csp}"
        );
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"simulated-banner\""), "{page}");
        assert!(
            !html.contains("https://unpkg") && !html.contains("cdn."),
            "{page}: a CDN"
        );
    }
    let r = s.get("/static/vendor/htmx-2.0.11.min.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let r = s.get("/static/app.css").await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let again = s
        .client
        .get(format!("{}/static/app.css", app.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        s.get("/static/nope.js").await.status(),
        StatusCode::NOT_FOUND
    );
    for licence in ["htmx.org", "htmx-ext-sse", "alpinejs"] {
        let r = s
            .get(&format!("/static/vendor/licenses/{licence}.txt"))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{licence}");
    }
    let unknown = s.get("/environments/nope-nope").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn public_status_pages_are_readable_without_a_session_but_not_actionable() {
    let app = TestApp::spawn_with(|c| c.public_status_pages = true).await;
    let repo = app.seed().await;
    app.create_environment("demo", &repo).await;
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anonymous
        .get(format!("{}/environments/demo-shop", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("demo-shop") && !html.contains("id=\"destroy\""));
    assert!(
        !html.contains("sse-connect"),
        "anonymous readers get no event stream"
    );
    let r = anonymous
        .get(format!("{}/environments", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "only status pages are public"
    );
    app.stop().await;
}
