//! Keep: an environment pinned against expiry by the API, a `/blueberry keep` comment or the
//! merge request's `blueberry::keep` label; shown in the API, the note and the UI; closing the
//! merge request still tears it down.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::TestApp,
    hooks::{DEVELOPER, Project, merge_request_event, note_event, sha},
};

#[tokio::test]
async fn a_kept_environment_outlives_its_expiry_until_let_go() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let id = app.create_environment("pinned", &repo).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for_status(&id, "ready", Duration::from_secs(10))
        .await;

    let kept: Value = app
        .post(&format!("/api/environments/{id}/keep"), &Value::Null)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept["kept"]["by_label"], false, "{kept}");
    assert!(kept["kept"]["by"].is_string());
    let listed: Value = app
        .get("/api/environments?kept=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let others: Value = app
        .get("/api/environments?kept=false")
        .await
        .json()
        .await
        .unwrap();
    assert!(others["items"].as_array().unwrap().is_empty());

    // Far past its expiry, the reaper (every second here) leaves it alone.
    app.clock.advance(chrono::Duration::days(30));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.environment(&id).await["status"], "ready");
    let page = app
        .get(&format!("/environments/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"kept\""),
        "the status page says it is kept"
    );

    // Let go: a whole lifetime from now, not an instant teardown.
    let let_go: Value = app
        .delete(&format!("/api/environments/{id}/keep"))
        .await
        .json()
        .await
        .unwrap();
    assert!(let_go.get("kept").is_none(), "{let_go}");
    let expires: chrono::DateTime<chrono::Utc> =
        let_go["expires_at"].as_str().unwrap().parse().unwrap();
    let now = chrono::Utc::now() + chrono::Duration::days(30);
    assert!(
        expires > now + chrono::Duration::hours(71),
        "{expires} vs {now}"
    );
    app.clock.advance(chrono::Duration::hours(73));
    app.wait_for_status(&id, "terminated", Duration::from_secs(15))
        .await;
    let kinds: Vec<String> = app
        .events(&id)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains(&"kept".to_owned()) && kinds.contains(&"unkept".to_owned()),
        "{kinds:?}"
    );

    // A terminated environment cannot be kept.
    let r = app
        .post(&format!("/api/environments/{id}/keep"), &Value::Null)
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn merge_requests_keep_by_comment_or_label_and_closing_still_tears_down() {
    let p = Project::start(|_| {}).await;
    p.accept(&merge_request_event("open", 11, &sha(1), 10), "mr-11-open")
        .await;
    p.wait_at("pr-11-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;
    p.accept(
        &note_event(11, 9101, "/blueberry keep", DEVELOPER),
        "note-9101",
    )
    .await;
    p.wait_for_note(11, "is kept: it will not expire", Duration::from_secs(15))
        .await;
    p.wait_for_note(11, "| Expires | never: kept by", Duration::from_secs(15))
        .await;
    p.accept(
        &note_event(11, 9102, "/blueberry unkeep", DEVELOPER),
        "note-9102",
    )
    .await;
    p.wait_for_note(11, "is no longer kept", Duration::from_secs(15))
        .await;
    assert!(p.app.environment("pr-11-shop").await.get("kept").is_none());

    // The label keeps it; an update without the label lets the label's keep go.
    let mut labelled = merge_request_event("update", 11, &sha(1), 20);
    labelled["labels"] = json!([{"id": 1, "title": "blueberry::keep"}]);
    labelled["object_attributes"]["oldrev"] = Value::Null;
    p.accept(&labelled, "mr-11-label").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let kept = loop {
        let env = p.app.environment("pr-11-shop").await;
        if env.get("kept").is_some() {
            break env;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the label never kept it: {env}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(kept["kept"]["by_label"], true, "{kept}");

    // Closing tears a kept environment down all the same.
    p.accept(
        &merge_request_event("close", 11, &sha(1), 30),
        "mr-11-close",
    )
    .await;
    p.app
        .wait_for_status("pr-11-shop", "terminated", Duration::from_secs(15))
        .await;
}
