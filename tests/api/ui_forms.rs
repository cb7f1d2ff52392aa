//! The web UI's forms over HTTP, as a browser without JavaScript posts them: inline errors,
//! confirmation before actions, and managing repositories, config sets and tokens.
//!
//! Long on purpose: three form journeys end to end, sharing the form-posting helpers here.

use reqwest::StatusCode;

use crate::{
    helpers::{ADMIN_TOKEN, TestApp},
    ui::{Session, html_escape, location},
};

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
    // Every mistake at once: a bad name and a TTL of 999 both show.
    let r = s
        .post(
            "/environments",
            &[
                ("repository_id", repo.as_str()),
                ("name", "Bad Name"),
                ("ttl_hours", "999"),
                ("branch", "a..b"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    for id in ["name-error", "ttl_hours-error", "branch-error"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "no {id}");
    }
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
                ("max_environments", "0"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("id=\"max_environments-error\"") && page.contains("between 1 and 1000"),
        "the cap's error is shown at its field"
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
                ("max_environments", "4"),
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
    assert_eq!(repo["max_environments"], 4);
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
