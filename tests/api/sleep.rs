//! Sleep and wake on visit: asleep, an environment's Application carries `sleeping: true` (the
//! chart scales to 0 and sends the host to Blueberry); a person visiting its host wakes it, a
//! bot or a `HEAD` does not; a host naming no live environment says so.
//!
//! Long on purpose: five scenarios of sleep and wake sharing one app setup and the host-visiting
//! helpers.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use blueberry::clock::Clock;

use crate::{
    helpers::TestApp,
    hooks::{DEVELOPER, Project, merge_request_event, note_event, sha},
};

const WITHIN: Duration = Duration::from_secs(15);
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// The `blueberry` values of environment `id`'s Application in the simulated cluster.
fn platform_values(app: &TestApp, id: &str) -> Value {
    let a = app
        .sim
        .get("argocd", &format!("env-{id}"))
        .expect("an Application");
    a["spec"]["source"]["helm"]["valuesObject"]["blueberry"].clone()
}

/// Polls until `id` is ready with `sleeping` as given.
async fn settled(app: &TestApp, id: &str, sleeping: bool) -> Value {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let env = app.environment(id).await;
        if env["status"] == "ready" && env["sleeping"] == sleeping {
            return env;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never settled: {env}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A request to the server as if for `host`.
async fn visit(
    app: &TestApp,
    method: reqwest::Method,
    host: &str,
    agent: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .request(method, format!("{}/some/page", app.url))
        .header("host", host)
        .header("user-agent", agent)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_asleep_environment_is_woken_by_a_person_visiting_it_and_not_by_bots() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    app.create_environment("demo", &repo).await;
    app.wait_for_status("demo-shop", "ready", WITHIN).await;
    assert_eq!(platform_values(&app, "demo-shop")["sleeping"], false);

    let r = app
        .post("/api/environments/demo-shop/sleep", &Value::Null)
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let env = settled(&app, "demo-shop", true).await;
    assert!(env["asleep_since"].is_string(), "{env}");
    let values = platform_values(&app, "demo-shop");
    assert_eq!(values["sleeping"], true);
    assert!(values["wakeService"].is_string(), "{values}");
    let page = app
        .get("/environments/demo-shop")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"asleep\"") && page.contains("status-asleep"));
    let listed: Value = app
        .get("/api/environments?sleeping=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["id"], "demo-shop", "{listed}");
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let list_page = app
        .get("/environments?sleeping=yes")
        .await
        .text()
        .await
        .unwrap();
    assert!(list_page.contains("id=\"env-demo-shop\""));
    // Sleeping twice changes nothing.
    let again: Value = app
        .post("/api/environments/demo-shop/sleep", &Value::Null)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["version"], env["version"]);

    // Bots, link unfurlers and HEAD only look.
    let host = "demo-shop.preview.localhost";
    let r = visit(&app, reqwest::Method::HEAD, host, FIREFOX).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let r = visit(
        &app,
        reqwest::Method::GET,
        host,
        "Slackbot-LinkExpanding 1.0",
    )
    .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().await.unwrap().contains("is asleep"));
    assert_eq!(app.environment("demo-shop").await["sleeping"], true);

    // A person wakes it and is told so; the page reloads until the app answers.
    let r = visit(&app, reqwest::Method::GET, &format!("{host}:443"), FIREFOX).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "3");
    let page = r.text().await.unwrap();
    assert!(page.contains("Waking up <code>demo-shop</code>"), "{page}");
    assert!(page.contains("http-equiv=\"refresh\""));
    settled(&app, "demo-shop", false).await;
    assert_eq!(platform_values(&app, "demo-shop")["sleeping"], false);
    let kinds: Vec<String> = app
        .events("demo-shop")
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains(&"slept".into()) && kinds.contains(&"woke".into()),
        "{kinds:?}"
    );

    // A host that names nothing live gets a clear 404; Blueberry's own address is untouched.
    let r = visit(
        &app,
        reqwest::Method::GET,
        "nothing-shop.preview.localhost",
        FIREFOX,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("No environment <code>nothing-shop</code> here")
    );
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn merge_requests_sleep_and_wake_by_comment_and_the_note_says_so() {
    let p = Project::start(|_| {}).await;
    p.accept(&merge_request_event("open", 21, &sha(1), 10), "mr-21-open")
        .await;
    p.wait_at("pr-21-shop", "ready", &sha(1), WITHIN).await;
    p.accept(
        &note_event(21, 9501, "/blueberry sleep", DEVELOPER),
        "note-9501",
    )
    .await;
    p.wait_for_note(21, "is going to sleep", WITHIN).await;
    p.wait_for_note(21, "| Asleep | since", WITHIN).await;
    settled(&p.app, "pr-21-shop", true).await;
    p.accept(
        &note_event(21, 9502, "/blueberry wake", DEVELOPER),
        "note-9502",
    )
    .await;
    p.wait_for_note(21, "Waking `pr-21-shop`", WITHIN).await;
    settled(&p.app, "pr-21-shop", false).await;
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let note = p.wait_for_note(21, "blueberry:sticky", WITHIN).await;
        if !note.contains("| Asleep |") && note.contains("is **ready**") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{note}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_repositorys_idle_environments_go_to_sleep_and_activity_holds_it_off() {
    // The test clock jumps; the resync looks within a second.
    let app = TestApp::spawn_with(|c| c.resync_secs = 1).await;
    let cs = app.create_config_set("web").await;
    let r = app
        .post(
            "/api/repositories",
            &serde_json::json!({"name": "shop", "gitlab_project_id": 15,
                    "path_with_namespace": "acme/shop", "config_set_id": cs["id"],
                    "sleep_after_idle_minutes": 30}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let repo: Value = r.json().await.unwrap();
    assert_eq!(repo["sleep_after_idle_minutes"], 30);
    let repo = repo["id"].as_str().unwrap().to_owned();
    for bad in [serde_json::json!(4), serde_json::json!(10081)] {
        let r = app
            .put(
                &format!("/api/repositories/{repo}"),
                &serde_json::json!({"name": "shop", "gitlab_project_id": 15,
                        "path_with_namespace": "acme/shop", "sleep_after_idle_minutes": bad}),
            )
            .await;
        crate::helpers::assert_problem(
            r,
            StatusCode::UNPROCESSABLE_ENTITY,
            "sleep_after_idle_minutes",
        )
        .await;
    }
    app.create_environment("idle", &repo).await;
    app.create_environment("busy", &repo).await;
    app.wait_for_status("idle-shop", "ready", WITHIN).await;
    app.wait_for_status("busy-shop", "ready", WITHIN).await;

    // 20 minutes in, someone extends `busy`: activity. 11 more, `idle` has been idle 31.
    app.clock.advance(chrono::Duration::minutes(20));
    let r = app
        .post(
            "/api/environments/busy-shop/extend",
            &serde_json::json!({"hours": 1}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    app.clock.advance(chrono::Duration::minutes(11));
    let slept = settled(&app, "idle-shop", true).await;
    assert_eq!(slept["asleep_by"], "idle", "{slept}");
    assert_eq!(app.environment("busy-shop").await["sleeping"], false);
    // Idle for its own 30 minutes too, it sleeps in turn.
    app.clock.advance(chrono::Duration::minutes(20));
    settled(&app, "busy-shop", true).await;
}

#[tokio::test]
async fn what_an_environment_costs_is_its_requests_over_its_awake_time() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/api/config-sets",
            &serde_json::json!({"name": "priced", "repo_url": "https://gitlab.example.com/acme/shop.git",
                    "path": "helm/environment", "target_revision": "main",
                    "values": {"backend": {"replicas": 2,
                               "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}}}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let cs: Value = r.json().await.unwrap();
    let repo = app
        .create_repository("shop", 15, cs["id"].as_str().unwrap())
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create_environment("priced", &repo).await;
    app.wait_for_status("priced-shop", "ready", WITHIN).await;
    let started = app.clock.now();
    // 2 × (0.5 vCPU, 0.5 GiB) = 1 vCPU + 1 GiB: $0.0494225 an hour at the default rates.
    app.clock.advance(chrono::Duration::hours(10));
    let cost = app.environment("priced-shop").await["cost"].clone();
    assert_eq!(
        (cost["cpu_millis"].clone(), cost["memory_mib"].clone()),
        (1000.into(), 1024.into())
    );
    assert_eq!(cost["spent_usd"], 0.49, "{cost}");
    assert_eq!(cost["saved_usd"], 0.0, "{cost}");

    app.post("/api/environments/priced-shop/sleep", &Value::Null)
        .await;
    settled(&app, "priced-shop", true).await;
    app.clock.advance(chrono::Duration::hours(10));
    let cost = app.environment("priced-shop").await["cost"].clone();
    assert_eq!(cost["spent_usd"], 0.49, "asleep costs nothing: {cost}");
    assert_eq!(cost["saved_usd"], 0.49, "{cost}");
    let page = app
        .get("/environments/priced-shop")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("≈ $0.49 so far, $0.49 saved by sleeping"),
        "the status page shows it"
    );

    // The repository's week: only what fell after Monday 00:00 UTC counts (the 20 hours may
    // straddle it, depending on when the test runs).
    let now = app.clock.now();
    let monday = blueberry::domain::cost::week_start(now);
    let hours_in_week = |from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>| {
        (to - from.max(monday)).num_seconds().max(0) as f64 / 3600.0
    };
    let awake = hours_in_week(started, started + chrono::Duration::hours(10));
    let asleep = hours_in_week(started + chrono::Duration::hours(10), now);
    let page = app
        .get(&format!("/repositories/{repo}/cost"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            "<strong id=\"week-spent\">${:.2}</strong> spent, <strong id=\"week-saved\">${:.2}</strong> saved",
            awake * 0.0494225,
            asleep * 0.0494225
        )),
        "{page}"
    );
    assert!(
        page.contains(r#"<a href="/environments/priced-shop">priced</a>"#),
        "{page}"
    );
}

#[tokio::test]
async fn a_repositorys_schedule_sleeps_unused_environments_after_hours_and_wakes_them() {
    let app = TestApp::spawn_with(|c| c.resync_secs = 1).await;
    let cs = app.create_config_set("web").await;
    let repo_body = |schedule: Value| {
        serde_json::json!({"name": "shop", "gitlab_project_id": 15,
            "path_with_namespace": "acme/shop", "config_set_id": cs["id"],
            "sleep_schedule": schedule})
    };
    // Awake from an hour ago to an hour from now, every day, in UTC.
    let now = app.clock.now();
    let hhmm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    let every_day = serde_json::json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
    let schedule = serde_json::json!({"time_zone": "UTC", "days": every_day,
        "from": hhmm(now - chrono::Duration::hours(1)),
        "until": hhmm(now + chrono::Duration::hours(1))});
    let r = app.post("/api/repositories", &repo_body(schedule)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let repo: Value = r.json().await.unwrap();
    assert_eq!(repo["sleep_schedule"]["time_zone"], "UTC");
    assert!(
        repo["sleep_schedule"]["description"]
            .as_str()
            .unwrap()
            .starts_with("awake Monday to Sunday "),
        "{repo}"
    );
    let id = repo["id"].as_str().unwrap().to_owned();
    for (bad, field) in [
        (
            serde_json::json!({"time_zone": "Mars/Olympus", "days": ["mon"], "from": "08:00", "until": "19:00"}),
            "sleep_schedule.time_zone",
        ),
        (
            serde_json::json!({"time_zone": "UTC", "days": [], "from": "08:00", "until": "19:00"}),
            "sleep_schedule.days",
        ),
        (
            serde_json::json!({"time_zone": "UTC", "days": ["mon"], "from": "8am", "until": "19:00"}),
            "sleep_schedule.from",
        ),
    ] {
        let r = app
            .put(&format!("/api/repositories/{id}"), &repo_body(bad))
            .await;
        crate::helpers::assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY, field).await;
    }
    app.create_environment("day", &id).await;
    app.create_environment("night", &id).await;
    settled(&app, "day-shop", false).await;
    settled(&app, "night-shop", false).await;
    let expires = app.environment("day-shop").await["expires_at"].clone();

    // Within the hours a person puts `night` to sleep; the schedule leaves it alone.
    app.clock.advance(chrono::Duration::minutes(50));
    let r = app
        .post("/api/environments/night-shop/sleep", &serde_json::json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    settled(&app, "night-shop", true).await;
    // Half an hour after the hours end: `day` sleeps. `night` is woken by a person (used since
    // the hours ended), so the schedule does not put it back to sleep.
    app.clock.advance(chrono::Duration::minutes(30));
    let r = app
        .post("/api/environments/night-shop/wake", &serde_json::json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let slept = settled(&app, "day-shop", true).await;
    assert_eq!(slept["asleep_by"], "schedule");
    assert_eq!(platform_values(&app, "day-shop")["sleeping"], true);

    // The next morning's hours begin: the schedule wakes what it put to sleep, and that wake
    // is not activity (the expiry stays where it was).
    app.clock
        .advance(chrono::Duration::hours(22) + chrono::Duration::minutes(45));
    let woke = settled(&app, "day-shop", false).await;
    assert_eq!(woke["expires_at"], expires);
    assert_eq!(platform_values(&app, "day-shop")["sleeping"], false);
    // `night`, used after the hours ended, was never put to sleep by the schedule.
    let history: Value = app
        .get("/api/environments/night-shop/events")
        .await
        .json()
        .await
        .unwrap();
    let by_schedule = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "slept" && e["actor"] == "schedule")
        .count();
    assert_eq!(by_schedule, 0, "{history}");
    assert_eq!(app.environment("night-shop").await["sleeping"], false);
}
