//! Quotas with a visible queue: a repository's `max_environments` and the platform's
//! `--max-environments` hold new environments in line (pending, with their place shown in the
//! API, the status page and the sticky note) and start them oldest first as others end;
//! redeploys and extends of running environments are never held.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, assert_problem},
    hooks::{Project, merge_request_event, sha},
};

const WITHIN: Duration = Duration::from_secs(15);

/// Creates a repository `name` capped at `max` environments; returns its id.
async fn capped_repository(app: &TestApp, name: &str, project: u64, max: u32) -> String {
    let cs = app.create_config_set(&format!("{name}-web")).await;
    let r = app
        .post(
            "/api/repositories",
            &json!({"name": name, "gitlab_project_id": project,
                    "path_with_namespace": format!("acme/{name}"),
                    "config_set_id": cs["id"], "max_environments": max}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["max_environments"], max);
    body["id"].as_str().unwrap().to_owned()
}

fn id_of(env: &Value) -> String {
    env["id"].as_str().unwrap().to_owned()
}

/// Polls until environment `id` stands `position` in line.
async fn wait_in_line(app: &TestApp, id: &str, position: u64) -> Value {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let env = app.environment(id).await;
        if env["queue_position"] == position {
            return env;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{id} never stood {position} in line: {env}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_full_repository_lines_new_environments_up_and_starts_them_oldest_first() {
    let app = TestApp::spawn().await;
    let repo = capped_repository(&app, "shop", 15, 2).await;
    let a = id_of(&app.create_environment("a", &repo).await);
    let b = id_of(&app.create_environment("b", &repo).await);
    app.wait_for_status(&a, "ready", WITHIN).await;
    app.wait_for_status(&b, "ready", WITHIN).await;

    let c = id_of(&app.create_environment("c", &repo).await);
    let d = id_of(&app.create_environment("d", &repo).await);
    let first = wait_in_line(&app, &c, 1).await;
    assert_eq!(first["status"], "pending");
    assert_eq!(
        first["queue"],
        json!({"position": 1, "running": 2, "max": 2, "scope": "repository",
               "since": first["queue"]["since"]}),
    );
    assert_eq!(
        first["status_message"],
        "waiting: 1st in line, 2 of 2 running in this repository"
    );
    let second = wait_in_line(&app, &d, 2).await;
    assert_eq!(
        second["status_message"],
        "waiting: 2nd in line, 2 of 2 running in this repository"
    );
    let page = app
        .get(&format!("/environments/{d}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"queue\""),
        "the status page shows the line"
    );
    assert!(page.contains("<strong>2nd</strong> in line · 2 of 2 running in this repository"));
    assert!(page.contains("status-queued"));
    // Nothing in line was applied.
    let mut apps = app.applications();
    apps.sort();
    assert_eq!(apps.len(), 2, "{apps:?}");
    let waiting: Value = app
        .get(&format!(
            "/api/environments?repository_id={repo}&status=pending"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(waiting["items"].as_array().unwrap().len(), 2);

    // Running environments are never held: a redeploy and an extend go through at once.
    let before = app.environment(&a).await["version"].as_u64().unwrap();
    let r = app
        .post(&format!("/api/environments/{a}/redeploy"), &Value::Null)
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = app
        .post(
            &format!("/api/environments/{a}/extend"),
            &json!({"hours": 5}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let env = app.environment(&a).await;
        let redeployed = kinds(&app.events(&a).await)
            .iter()
            .filter(|k| *k == "healthy")
            .count()
            >= 2;
        if env["status"] == "ready" && redeployed && env["version"].as_u64().unwrap() > before {
            assert!(env.get("queue_position").is_none(), "{env}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the redeploy was held: {env}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.environment(&c).await["queue_position"], 1);

    // One ends: the oldest in line starts, the next moves up.
    let r = app.delete(&format!("/api/environments/{a}")).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    app.wait_for_status(&a, "terminated", WITHIN).await;
    let started = app.wait_for_status(&c, "ready", WITHIN).await;
    assert!(started.get("queue").is_none(), "{started}");
    wait_in_line(&app, &d, 1).await;
    let events = kinds(&app.events(&c).await);
    assert!(
        events.contains(&"queued".to_owned()) && events.contains(&"admitted".to_owned()),
        "{events:?}"
    );

    // Raising the cap starts whoever waits.
    let repo_body: Value = app
        .get(&format!("/api/repositories/{repo}"))
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .put(
            &format!("/api/repositories/{repo}"),
            &json!({"name": "shop", "gitlab_project_id": 15, "path_with_namespace": "acme/shop",
                    "config_set_id": repo_body["config_set_id"], "max_environments": 3}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    app.wait_for_status(&d, "ready", WITHIN).await;
    assert_eq!(app.environment(&b).await["status"], "ready");
}

#[tokio::test]
async fn the_platform_cap_holds_every_repository_in_one_line() {
    let app = TestApp::spawn_with(|c| c.max_environments = Some(1)).await;
    let shop = capped_repository(&app, "shop", 15, 5).await;
    let cs = app.create_config_set("plain").await;
    let blog = app
        .create_repository("blog", 16, cs["id"].as_str().unwrap())
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = id_of(&app.create_environment("one", &shop).await);
    app.wait_for_status(&first, "ready", WITHIN).await;
    let second = id_of(&app.create_environment("two", &blog).await);
    let held = wait_in_line(&app, &second, 1).await;
    assert_eq!(held["queue"]["scope"], "platform");
    assert_eq!(
        held["status_message"],
        "waiting: 1st in line, 1 of 1 running on the platform"
    );
    app.delete(&format!("/api/environments/{first}")).await;
    app.wait_for_status(&second, "ready", WITHIN).await;
}

#[tokio::test]
async fn a_waiting_merge_request_says_where_it_stands_in_its_note() {
    let p = Project::start(|c| c.max_environments = Some(1)).await;
    p.accept(&merge_request_event("open", 11, &sha(1), 10), "mr-11-open")
        .await;
    p.wait_at("pr-11-shop", "ready", &sha(1), WITHIN).await;
    p.accept(&merge_request_event("open", 12, &sha(2), 20), "mr-12-open")
        .await;
    p.wait_for_note(
        12,
        "| Queue | waiting: 1st in line, 1 of 1 running on the platform",
        WITHIN,
    )
    .await;
    // Merging the first frees its slot: the second starts and its note says so.
    p.accept(
        &merge_request_event("merge", 11, &sha(1), 30),
        "mr-11-merge",
    )
    .await;
    p.wait_at("pr-12-shop", "ready", &sha(2), WITHIN).await;
    let note = p.wait_for_note(12, "is **ready**", WITHIN).await;
    assert!(!note.contains("| Queue |"), "{note}");
}

#[tokio::test]
async fn a_cap_out_of_range_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let cs = app.create_config_set("web").await;
    for bad in [json!(0), json!(1001), json!(-3)] {
        let r = app
            .post(
                "/api/repositories",
                &json!({"name": "shop", "gitlab_project_id": 15,
                        "path_with_namespace": "acme/shop", "config_set_id": cs["id"],
                        "max_environments": bad}),
            )
            .await;
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "max_environments").await;
    }
    let r = app
        .post(
            "/api/repositories",
            &json!({"name": "shop", "gitlab_project_id": 15,
                    "path_with_namespace": "acme/shop", "config_set_id": cs["id"],
                    "max_environments": "lots"}),
        )
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, "max_environments").await;
    let listed: Value = app.get("/api/repositories").await.json().await.unwrap();
    assert!(
        listed["items"].as_array().is_none_or(|i| i.is_empty()),
        "{listed}"
    );
}
