//! The web UI over HTTP, as a browser without JavaScript sees it: pages, forms with inline
//! errors, CSRF on every form, confirmation before actions, escaping, assets, access.

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
            csrf: blueberry::http::auth::csrf_token(&app.ctx, &value),
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

fn location(r: &reqwest::Response) -> String {
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
    assert!(r.text().await.unwrap().contains("CSRF"));
    let list: serde_json::Value = app.get("/api/environments").await.json().await.unwrap();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
    let r = admin.post("/environments", &form).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/environments/demo-shop?done=created");
    app.stop().await;
}

#[tokio::test]
async fn the_create_form_shows_each_mistake_next_to_its_field_and_keeps_the_input() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let s = Session::login(&app, ADMIN_TOKEN).await;
    // (typed fields, id of the error paragraph, what it mentions)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (&[("name", "Bad Name")], "name-error", "Bad Name"),
        (
            &[("name", "ok"), ("ttl_hours", "500")],
            "ttl_hours-error",
            "500",
        ),
        (
            &[("name", "ok"), ("ttl_hours", "soon")],
            "ttl_hours-error",
            "whole number",
        ),
        (
            &[("name", "ok"), ("helm_values_override", "{not json")],
            "helm_values_override-error",
            "not valid JSON",
        ),
        (
            &[
                ("name", "ok"),
                ("helm_values_override", r#"{"namespace": "kube-system"}"#),
            ],
            "helm_values_override-error",
            "namespace",
        ),
        (
            &[("name", "ok"), ("config_set_id", "nope")],
            "config_set_id-error",
            "nope",
        ),
    ];
    for (fields, error_id, mentions) in cases {
        let mut all = vec![("repository_id", repo.as_str())];
        all.extend_from_slice(fields);
        let r = s.post("/environments", &all).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let page = r.text().await.unwrap();
        let start = page
            .find(&format!("id=\"{error_id}\""))
            .unwrap_or_else(|| panic!("{fields:?}: no {error_id} in the page"));
        let message = &page[start..page[start..].find("</p>").unwrap() + start];
        assert!(
            message.contains(&html_escape(mentions)) || page.contains(&html_escape(mentions)),
            "{fields:?}: {message}"
        );
        // What was typed is still there.
        for (_, v) in fields.iter() {
            assert!(page.contains(&html_escape(v)), "{fields:?}: lost {v:?}");
        }
    }
    let r = s.post("/environments", &[("name", "demo")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("choose a repository"));
    app.stop().await;
}

fn html_escape(s: &str) -> String {
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
async fn actions_without_javascript_ask_first_then_act() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    app.create_environment("demo", &repo).await;
    app.wait_for_status("demo-shop", "ready", std::time::Duration::from_secs(10))
        .await;
    let s = Session::login(&app, ADMIN_TOKEN).await;

    let r = s
        .post("/environments/demo-shop/extend", &[("hours", "5")])
        .await;
    assert_eq!(r.status(), StatusCode::OK, "asks first");
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"confirm\" value=\"yes\"") && page.contains("value=\"5\""));
    let before = app.environment("demo-shop").await["expires_at"].clone();

    let r = s
        .post(
            "/environments/demo-shop/extend",
            &[("hours", "5"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/environments/demo-shop?done=extend");
    assert_ne!(app.environment("demo-shop").await["expires_at"], before);
    let page = s.get(&location(&r)).await.text().await.unwrap();
    assert!(page.contains("Expiry extended."));

    let r = s
        .post(
            "/environments/demo-shop/extend",
            &[("hours", "0"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"action-error\""));

    let r = s
        .post("/environments/demo-shop/retry", &[("confirm", "yes")])
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "only failed environments retry"
    );
    assert!(r.text().await.unwrap().contains("only failed environments"));

    let r = s
        .post("/environments/demo-shop/explode", &[("confirm", "yes")])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let r = s
        .post("/environments/demo-shop/destroy", &[("confirm", "yes")])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    app.wait_for_status(
        "demo-shop",
        "terminated",
        std::time::Duration::from_secs(10),
    )
    .await;
    let page = s.get("/environments/demo-shop").await.text().await.unwrap();
    assert!(
        !page.contains("id=\"destroy\""),
        "nothing to do on a terminated environment"
    );
    app.stop().await;
}

#[tokio::test]
async fn repositories_config_sets_and_tokens_are_managed_from_their_pages() {
    let app = TestApp::spawn().await;
    let s = Session::login(&app, ADMIN_TOKEN).await;

    // Config set: create, bad values inline, edit, delete after confirming.
    let r = s
        .post(
            "/config-sets",
            &[
                ("name", "web"),
                ("repo_url", "https://e.com/c.git"),
                ("source", "path"),
                ("source_value", "helm/environment"),
                ("target_revision", "main"),
                ("values", "[1]"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("id=\"values-error\""));
    let r = s
        .post(
            "/config-sets",
            &[
                ("name", "web"),
                ("repo_url", "https://e.com/c.git"),
                ("source", "path"),
                ("source_value", "helm/environment"),
                ("target_revision", "main"),
                ("values", r#"{"backend": {"replicas": 1}}"#),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let sets: serde_json::Value = app.get("/api/config-sets").await.json().await.unwrap();
    let set_id = sets[0]["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            &format!("/config-sets/{set_id}"),
            &[
                ("name", "web"),
                ("repo_url", "https://e.com/c.git"),
                ("source", "chart"),
                ("source_value", "environment"),
                ("target_revision", "1.2.0"),
                ("values", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set: serde_json::Value = app
        .get(&format!("/api/config-sets/{set_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(set["chart"], "environment");
    assert_eq!(set["target_revision"], "1.2.0");

    // Repository: connecting shows the secret once, with the GitLab steps.
    let r = s
        .post(
            "/repositories",
            &[
                ("name", "shop"),
                ("gitlab_project_id", "fifteen"),
                ("path_with_namespace", "acme/shop"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("id=\"gitlab_project_id-error\"")
    );
    let r = s
        .post(
            "/repositories",
            &[
                ("name", "shop"),
                ("gitlab_project_id", "15"),
                ("path_with_namespace", "acme/shop"),
                ("config_set_id", &set_id),
                ("skip_drafts", "on"),
                ("include_labels", "preview, qa"),
                (
                    "webhook_signing_key",
                    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                ),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let page = r.text().await.unwrap();
    let secret_at = page
        .find("value=\"bbwh_")
        .expect("the webhook secret is shown");
    let secret = &page[secret_at + 7..secret_at + 7 + page[secret_at + 7..].find('"').unwrap()];
    assert!(page.contains(&format!("{}/webhooks/gitlab", app.url)));
    assert!(page.contains("Merge request events") && page.contains("Comments"));
    let repos: serde_json::Value = app.get("/api/repositories").await.json().await.unwrap();
    let repo = &repos[0];
    assert_eq!(
        repo["filters"]["include_labels"],
        serde_json::json!(["preview", "qa"])
    );
    assert_eq!(repo["webhook_signing"], true);
    let repo_id = repo["id"].as_str().unwrap().to_owned();
    for page in [
        "/repositories".to_owned(),
        format!("/repositories/{repo_id}"),
    ] {
        let html = s.get(&page).await.text().await.unwrap();
        assert!(
            !html.contains(secret),
            "{page} shows the webhook secret again"
        );
        assert!(!html.contains("whsec_MfKQ"), "{page} shows the signing key");
    }
    let r = s
        .post(&format!("/repositories/{repo_id}/delete"), &[])
        .await;
    assert_eq!(r.status(), StatusCode::OK, "asks first");
    let r = s
        .post(
            &format!("/repositories/{repo_id}/delete"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(location(&r), "/repositories?done=deleted");
    assert_eq!(
        app.get(&format!("/api/repositories/{repo_id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = s
        .post(
            &format!("/config-sets/{set_id}/delete"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Tokens: the secret once, then revoked after confirming.
    let r = s
        .post("/tokens", &[("name", "ci"), ("role", "developer")])
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let page = r.text().await.unwrap();
    let at = page.find("value=\"bb_").expect("the token is shown");
    let token = page[at + 7..at + 7 + page[at + 7..].find('"').unwrap()].to_owned();
    let me_with_token = || async {
        crate::helpers::client_with(&token)
            .get(format!("{}/api/me", app.url))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(me_with_token().await, StatusCode::OK);
    let listed = s.get("/tokens").await.text().await.unwrap();
    assert!(!listed.contains(&token), "the list never shows secrets");
    let tokens: serde_json::Value = app.get("/api/tokens").await.json().await.unwrap();
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .post(&format!("/tokens/{id}/revoke"), &[("confirm", "yes")])
        .await;
    assert_eq!(location(&r), "/tokens?done=revoked");
    assert_eq!(me_with_token().await, StatusCode::UNAUTHORIZED);
    let r = s
        .post("/tokens", &[("name", ""), ("role", "developer")])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
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
