use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

#[tokio::test]
async fn creating_an_environment_returns_201_with_the_seed_response_shape() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let r = app
        .post(
            "/api/environments",
            &json!({"name": "demo", "repository_id": repo, "ttl_hours": 4,
                                            "helm_values_override": {"backend": {"replicas": 2}}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["location"], "/api/environments/demo-shop");
    let env: serde_json::Value = r.json().await.unwrap();
    assert_eq!(env["id"], "demo-shop");
    assert_eq!(env["name"], "demo");
    assert_eq!(env["status"], "pending");
    assert_eq!(env["urls"], json!(["https://demo-shop.preview.localhost"]));
    assert_eq!(env["git"]["branch"], "main");
    assert_eq!(env["git"]["repository_id"], repo.as_str());
    assert_eq!(env["kubernetes"]["namespace"], "bb-demo-shop");
    assert_eq!(env["kubernetes"]["application"], "env-demo-shop");
    assert_eq!(env["terminated_at"], json!(null));
    let created =
        chrono::DateTime::parse_from_rfc3339(env["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(env["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::hours(4));
    assert_eq!(app.environment("demo-shop").await["id"], "demo-shop");
}

#[tokio::test]
async fn the_same_name_in_two_repositories_gets_two_ids() {
    let app = TestApp::spawn().await;
    let cs = app.create_config_set("web").await;
    let cs = cs["id"].as_str().unwrap();
    let shop = app.create_repository("shop", 1, cs).await;
    let billing = app.create_repository("billing", 2, cs).await;
    let a = app
        .create_environment("pr-42", shop["id"].as_str().unwrap())
        .await;
    let b = app
        .create_environment("pr-42", billing["id"].as_str().unwrap())
        .await;
    assert_eq!(
        (a["id"].as_str(), b["id"].as_str()),
        (Some("pr-42-shop"), Some("pr-42-billing"))
    );
}

#[tokio::test]
async fn a_second_live_environment_with_the_same_name_is_a_conflict() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    app.create_environment("demo", &repo).await;
    let r = app
        .post(
            "/api/environments",
            &json!({"name": "demo", "repository_id": repo}),
        )
        .await;
    assert_problem(r, StatusCode::CONFLICT, "already exists").await;
}

#[tokio::test]
async fn listing_pages_with_a_cursor_and_filters() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    for i in 0..5 {
        app.create_environment(&format!("env-{i}"), &repo).await;
    }
    app.create_environment("other", &repo).await;

    let page1: serde_json::Value = app
        .get("/api/environments?limit=2&name=env-")
        .await
        .json()
        .await
        .unwrap();
    let names = |p: &serde_json::Value| {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&page1), ["env-4", "env-3"], "newest first");
    let next = page1["next"].as_str().unwrap();
    let page2: serde_json::Value = app
        .get(&format!(
            "/api/environments?limit=2&name=env-&cursor={next}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&page2), ["env-2", "env-1"]);
    let page3: serde_json::Value = app
        .get(&format!(
            "/api/environments?limit=2&name=env-&cursor={}",
            page2["next"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&page3), ["env-0"]);
    assert_eq!(page3["next"], json!(null));

    let by_repo: serde_json::Value = app
        .get(&format!("/api/environments?repository_id={repo}&limit=100"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_repo["items"].as_array().unwrap().len(), 6);
    let none: serde_json::Value = app
        .get("/api/environments?status=terminated")
        .await
        .json()
        .await
        .unwrap();
    assert!(none["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_list_parameters_are_refused() {
    let app = TestApp::spawn().await;
    assert_problem(
        app.get("/api/environments?limit=0").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit",
    )
    .await;
    assert_problem(
        app.get("/api/environments?limit=101").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "limit",
    )
    .await;
    assert_problem(
        app.get("/api/environments?status=sleeping").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "status",
    )
    .await;
    assert_problem(
        app.get("/api/environments?cursor=garbage").await,
        StatusCode::BAD_REQUEST,
        "cursor",
    )
    .await;
    // A cursor is a position: one made up in the documented shape is answered.
    let invented = app
        .get("/api/environments?cursor=0000000000000000~zzz")
        .await;
    assert_eq!(invented.status(), StatusCode::OK);
    let page: Value = invented.json().await.unwrap();
    assert_eq!(page["items"], json!([]), "nothing was created before 1970");
    assert_problem(
        app.get("/api/environments?limit=abc").await,
        StatusCode::BAD_REQUEST,
        "limit",
    )
    .await;
}

#[tokio::test]
async fn deleting_answers_202_and_marks_the_environment_deleting() {
    let app = TestApp::spawn_with(|c| c.sim_ready_delay_ms = 2000).await;
    let repo = app.seed().await;
    app.create_environment("demo", &repo).await;
    let r = app.delete("/api/environments/demo-shop").await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let env: serde_json::Value = r.json().await.unwrap();
    assert_eq!(env["status"], "deleting");
    // Deleting twice is harmless.
    assert_eq!(
        app.delete("/api/environments/demo-shop").await.status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn unknown_environments_are_404() {
    let app = TestApp::spawn().await;
    assert_problem(
        app.get("/api/environments/nope").await,
        StatusCode::NOT_FOUND,
        "nope",
    )
    .await;
    assert_problem(
        app.get("/api/environments/NOT_A_LABEL").await,
        StatusCode::NOT_FOUND,
        "NOT_A_LABEL",
    )
    .await;
    assert_problem(
        app.delete("/api/environments/nope").await,
        StatusCode::NOT_FOUND,
        "nope",
    )
    .await;
    assert_problem(
        app.post("/api/environments/nope/retry", &json!({})).await,
        StatusCode::NOT_FOUND,
        "nope",
    )
    .await;
}
