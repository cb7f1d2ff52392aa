//! Repositories and config sets.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, assert_problem};

#[tokio::test]
async fn connecting_a_repository_shows_its_webhook_secret_once_and_stores_only_a_hash() {
    let app = TestApp::spawn().await;
    let cs = app.create_config_set("web").await;
    let created = app
        .create_repository("shop", 15, cs["id"].as_str().unwrap())
        .await;
    let secret = created["webhook_secret"].as_str().unwrap();
    assert!(
        secret.starts_with("bbwh_") && secret.len() >= 5 + 64,
        "{secret}"
    );
    assert_eq!(
        created["webhook_url"],
        format!("{}/webhooks/gitlab", app.url)
    );
    assert_eq!(created["filters"]["skip_drafts"], true);

    let id = created["id"].as_str().unwrap();
    let fetched: Value = app
        .get(&format!("/api/repositories/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(fetched.get("webhook_secret").is_none());
    let listed: Value = app.get("/api/repositories").await.json().await.unwrap();
    assert!(!listed.to_string().contains(secret));

    let stored = app
        .ctx
        .ports
        .catalog
        .get_repository(id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.webhook_secret_hash,
        hex::encode(Sha256::digest(secret.as_bytes()))
    );
    let db = std::fs::read(app.config.database_path()).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(secret),
        "the secret is not in the database file"
    );
}

#[tokio::test]
async fn repositories_can_be_updated_and_deleted_once_unused() {
    let app = TestApp::spawn().await;
    let cs = app.create_config_set("web").await;
    let repo = app
        .create_repository("shop", 15, cs["id"].as_str().unwrap())
        .await;
    let id = repo["id"].as_str().unwrap();
    let r = app
        .put(&format!("/api/repositories/{id}"), &json!({"name": "shop", "gitlab_project_id": 16,
            "path_with_namespace": "acme/shop2", "config_set_id": cs["id"], "filters": {"skip_drafts": false, "include_labels": ["preview"]}}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["gitlab_project_id"], 16);
    assert_eq!(updated["filters"]["include_labels"], json!(["preview"]));

    app.create_environment("demo", id).await;
    assert_problem(
        app.delete(&format!("/api/repositories/{id}")).await,
        StatusCode::CONFLICT,
        "live environment",
    )
    .await;
    assert_problem(
        app.delete(&format!("/api/config-sets/{}", cs["id"].as_str().unwrap()))
            .await,
        StatusCode::CONFLICT,
        "used by",
    )
    .await;
    app.delete("/api/environments/demo-shop").await;
    app.wait_for_status(
        "demo-shop",
        "terminated",
        std::time::Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/repositories/{id}"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        app.get(&format!("/api/repositories/{id}")).await,
        StatusCode::NOT_FOUND,
        id,
    )
    .await;
}

#[tokio::test]
async fn invalid_repositories_are_refused() {
    let app = TestApp::spawn().await;
    let cs = app.create_config_set("web").await;
    app.create_repository("shop", 15, cs["id"].as_str().unwrap())
        .await;
    let cases = [
        (
            json!({"name": "Shop!", "gitlab_project_id": 1, "path_with_namespace": "a/b"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            json!({"name": "x", "gitlab_project_id": 0, "path_with_namespace": "a/b"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "gitlab_project_id",
        ),
        (
            json!({"name": "x", "gitlab_project_id": 1, "path_with_namespace": "/a/../b"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "path_with_namespace",
        ),
        (
            json!({"name": "x", "gitlab_project_id": 1, "path_with_namespace": "a/b", "config_set_id": "nope"}),
            StatusCode::NOT_FOUND,
            "config_set_id",
        ),
        (
            json!({"name": "x", "gitlab_project_id": 1, "path_with_namespace": "a/b", "filters": {"unknown": 1}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field",
        ),
        (
            json!({"name": "shop", "gitlab_project_id": 99, "path_with_namespace": "a/b"}),
            StatusCode::CONFLICT,
            "already connected",
        ),
        (
            json!({"name": "other", "gitlab_project_id": 15, "path_with_namespace": "a/b"}),
            StatusCode::CONFLICT,
            "already connected",
        ),
    ];
    for (body, status, mentions) in cases {
        assert_problem(app.post("/api/repositories", &body).await, status, mentions).await;
    }
    let listed: Value = app.get("/api/repositories").await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn config_sets_round_trip_and_refuse_bad_input() {
    let app = TestApp::spawn().await;
    let cs = app.create_config_set("web").await;
    let id = cs["id"].as_str().unwrap();
    assert_eq!(cs["path"], "helm/environment");
    assert_eq!(cs["chart"], json!(null));
    let r = app
        .put(
            &format!("/api/config-sets/{id}"),
            &json!({"name": "web", "repo_url": "https://charts.example.com",
            "chart": "shop", "target_revision": "1.2.3", "values": {"a": 1}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let fetched: Value = app
        .get(&format!("/api/config-sets/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (fetched["chart"].as_str(), fetched["path"].as_str()),
        (Some("shop"), None)
    );
    assert_eq!(fetched["values"], json!({"a": 1}));

    let base = json!({"name": "x", "repo_url": "https://e.com/r.git", "path": "p", "target_revision": "main"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("chart", json!("c")), "exactly one of `chart`"),
        (with("repo_url", json!("file:///etc/passwd")), "repo_url"),
        (with("path", json!("../escape")), "path"),
        (with("target_revision", json!("")), "target_revision"),
        (with("values", json!([1])), "values"),
        (with("name", json!("web")), "already exists"),
    ];
    for (body, mentions) in cases {
        let r = app.post("/api/config-sets", &body).await;
        assert!(r.status().is_client_error());
        assert_problem(
            r,
            if mentions == "already exists" {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            },
            mentions,
        )
        .await;
    }
    assert_eq!(
        app.delete(&format!("/api/config-sets/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        app.get(&format!("/api/config-sets/{id}")).await,
        StatusCode::NOT_FOUND,
        "config set",
    )
    .await;
}

#[tokio::test]
async fn an_environment_needs_a_config_set() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/api/repositories",
            &json!({"name": "bare", "gitlab_project_id": 3, "path_with_namespace": "a/bare"}),
        )
        .await;
    let repo: Value = r.json().await.unwrap();
    let r = app
        .post(
            "/api/environments",
            &json!({"name": "demo", "repository_id": repo["id"]}),
        )
        .await;
    assert_problem(
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "has no default config set",
    )
    .await;
}
