//! A repository's lifetime rules: its default TTL, and a ceiling that creates and extends keep
//! to (refused, saying so).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

#[tokio::test]
async fn a_repositorys_default_and_longest_lifetime_apply_to_its_environments() {
    let app = TestApp::spawn().await;
    let cs = app.create_config_set("web").await;
    let body = |lifetime: Value| {
        json!({"name": "shop", "gitlab_project_id": 15, "path_with_namespace": "acme/shop",
               "config_set_id": cs["id"], "lifetime": lifetime})
    };
    for (bad, field) in [
        (
            json!({"default_ttl_hours": 10, "max_ttl_hours": 5}),
            "lifetime.default_ttl_hours",
        ),
        (json!({"max_ttl_hours": 200}), "lifetime.max_ttl_hours"),
        (json!({"max_ttl_hours": 0}), "lifetime.max_ttl_hours"),
    ] {
        let r = app.post("/api/repositories", &body(bad)).await;
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "hours").await;
        assert_eq!(problem["field"], field, "{problem}");
    }
    let r = app
        .post(
            "/api/repositories",
            &body(json!({"default_ttl_hours": 4, "max_ttl_hours": 8})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let repo: Value = r.json().await.unwrap();
    assert_eq!(repo["lifetime"]["max_ttl_hours"], 8);
    let repo_id = repo["id"].as_str().unwrap();

    // Its default TTL.
    let env = app.create_environment("short", repo_id).await;
    assert_eq!(env["ttl_hours"], 4);

    // Longer than its ceiling: refused, naming the limit.
    let r = app
        .post(
            "/api/environments",
            &json!({"name": "long", "repository_id": repo_id, "ttl_hours": 10}),
        )
        .await;
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "at most 8 h").await;
    assert_eq!(problem["field"], "ttl_hours");

    // Extends stay within it.
    let id = env["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/environments/{id}/extend"),
            &json!({"hours": 2}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = app
        .post(
            &format!("/api/environments/{id}/extend"),
            &json!({"hours": 24}),
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT, "at most 8 h from now").await;
}
