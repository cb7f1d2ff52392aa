//! Invalid input gets a 4xx problem+json naming the problem, and nothing is stored.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

async fn stored(app: &TestApp) -> usize {
    let list: Value = app
        .get("/api/environments?limit=100")
        .await
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn invalid_environments_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let long = "a".repeat(64);
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"name": "PR_42!", "repository_id": repo}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name: must be a DNS-1123 label",
        ),
        (
            json!({"name": long, "repository_id": repo}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name: must be at most 63 characters",
        ),
        (
            json!({"name": "x", "repository_id": repo, "ttl_hours": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ttl_hours: must be between 1 and 168",
        ),
        (
            json!({"name": "x", "repository_id": repo, "ttl_hours": 500}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ttl_hours",
        ),
        (
            json!({"name": "x", "repository_id": repo, "colour": "blue"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `colour`",
        ),
        (
            json!({"name": "x", "repository_id": "no-such-repo"}),
            StatusCode::NOT_FOUND,
            "no repository with id `no-such-repo`",
        ),
        (
            json!({"name": "x", "repository_id": repo, "config_set_id": "nope"}),
            StatusCode::NOT_FOUND,
            "no config set with id `nope`",
        ),
        (
            json!({"name": "x", "repository_id": repo, "helm_values_override": {"namespace": "kube-system"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "helm_values_override.namespace",
        ),
        (
            json!({"name": "x", "repository_id": repo, "helm_values_override": {"app": {"project": "default"}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "helm_values_override.app.project",
        ),
        (
            json!({"name": "x", "repository_id": repo, "helm_values_override": {"blueberry": {"hostname": "evil"}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "owned by the platform",
        ),
        (
            json!({"name": "x", "repository_id": repo, "helm_values_override": [1, 2]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "must be a JSON object",
        ),
        (
            json!({"name": "x", "repository_id": repo, "branch": "a..b"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "branch",
        ),
        (
            json!({"name": 42, "repository_id": repo}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name: invalid type",
        ),
        (
            json!({"repository_id": repo}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing field `name`",
        ),
    ];
    for (body, status, mentions) in cases {
        let r = app.post("/api/environments", &body).await;
        let problem = assert_problem(r, status, mentions).await;
        assert!(problem["field"].is_string(), "{problem}");
    }
    let big = "x".repeat(70 * 1024);
    let r = app
        .post(
            "/api/environments",
            &json!({"name": "x", "repository_id": repo, "helm_values_override": {"blob": big}}),
        )
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "at most 65536 bytes").await;
    assert_eq!(stored(&app).await, 0);
}

#[tokio::test]
async fn bodies_that_are_not_json_are_refused() {
    let app = TestApp::spawn().await;
    let r = app
        .post_raw("/api/environments", "application/json", "{not json")
        .await;
    assert_problem(r, StatusCode::BAD_REQUEST, "not valid JSON").await;
    let r = app.post_raw("/api/environments", "text/plain", "{}").await;
    assert_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/json").await;
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = app
        .post_raw("/api/environments", "application/json", &huge)
        .await;
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE, "larger").await;
    assert_eq!(stored(&app).await, 0);
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_same_shape() {
    let app = TestApp::spawn().await;
    assert_problem(
        app.get("/api/nothing-here").await,
        StatusCode::NOT_FOUND,
        "no such route",
    )
    .await;
    let r = app.put("/api/environments", &json!({})).await;
    assert_problem(r, StatusCode::METHOD_NOT_ALLOWED, "method").await;
}
