//! The lifecycle controller: verdicts only on status Argo CD produced after it saw the current
//! deployment, and no worker held by a sync, so deletes, redeploys, extends and commands take
//! effect at once while Applications are stuck.

use std::time::{Duration, Instant};

use blueberry::sim::FaultMode;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, wait_until},
    hooks::{DEVELOPER, Project, merge_request_event, note_event, sha},
};

/// `operationState.operation.info[blueberry.io/deployment]` and `phase` as the cluster reports.
fn operation_of(app: &TestApp, name: &str) -> (Option<String>, Option<String>) {
    let obj = app.sim.get("argocd", name).unwrap_or(Value::Null);
    let op = &obj["status"]["operationState"];
    let info = op["operation"]["info"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["name"] == "blueberry.io/deployment"))
        .and_then(|i| i["value"].as_str())
        .map(str::to_owned);
    (info, op["phase"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn a_redeploy_of_a_healthy_branch_environment_is_ready_only_after_argo_cd_synced_it() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    app.create_environment("demo", &repo).await;
    app.wait_for_status("demo-shop", "ready", Duration::from_secs(10))
        .await;
    // Argo CD now takes 0.4 s to notice the new spec and 0.8 s to sync it.
    app.sim.update_settings(|s| {
        s.refresh_delay = Duration::from_millis(400);
        s.ready_delay = Duration::from_millis(800);
    });
    let asked = Instant::now();
    let r = app
        .post("/api/environments/demo-shop/redeploy", &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mut seen_ready = None;
    let mut op_when_ready = (None, None);
    while asked.elapsed() < Duration::from_secs(10) {
        // Read the cluster first: if the environment is ready now, Argo CD had finished before.
        let op = operation_of(&app, "env-demo-shop");
        if app.environment("demo-shop").await["status"] == "ready" {
            seen_ready = Some(asked.elapsed());
            op_when_ready = op;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = seen_ready.expect("ready again after the redeploy");
    assert!(
        took >= Duration::from_millis(1100),
        "ready {took:?} after the redeploy: before Argo CD could have synced the new spec"
    );
    assert_eq!(
        op_when_ready,
        (Some("2.1".to_owned()), Some("Succeeded".to_owned())),
        "ready on the status of the redeploy's own sync"
    );
}

#[tokio::test]
async fn a_retry_after_degraded_waits_for_the_new_operation_and_recovers() {
    let app = TestApp::spawn_with(|c| {
        c.max_attempts = 3;
        c.retry_base_delay_ms = 600;
    })
    .await;
    let repo = app.seed().await;
    app.sim
        .set_fault("env-demo-shop", Some(FaultMode::Degraded));
    app.create_environment("demo", &repo).await;
    let mut events = Vec::new();
    for _ in 0..400 {
        events = app.events("demo-shop").await;
        if events.iter().any(|e| e["kind"] == "degraded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        events.iter().any(|e| e["kind"] == "degraded"),
        "attempt 1 fails on Degraded"
    );
    // Fixed before attempt 2 starts: its own sync makes it Healthy.
    app.sim.set_fault("env-demo-shop", None);
    let ready = app
        .wait_for_status("demo-shop", "ready", Duration::from_secs(15))
        .await;
    assert_eq!(
        ready["attempt"], 2,
        "attempt 2 judged on its own sync, not on attempt 1's status"
    );
    let failures = app
        .events("demo-shop")
        .await
        .iter()
        .filter(|e| e["kind"] == "degraded")
        .count();
    assert_eq!(failures, 1);
}

/// Creates `n` environments whose Applications never become Healthy, and waits until all are
/// applied (and so, on an engine that waits on syncs, holding workers).
async fn stuck(app: &TestApp, repo: &str, n: usize) {
    for i in 0..n {
        app.sim
            .set_fault(&format!("env-stuck-{i}-shop"), Some(FaultMode::Stuck));
        app.create_environment(&format!("stuck-{i}"), repo).await;
    }
    wait_until(Duration::from_secs(10), || app.applications().len() >= n)
        .await
        .expect("every stuck environment applied");
    tokio::time::sleep(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn delete_redeploy_and_extend_take_effect_at_once_while_applications_are_stuck() {
    let app = TestApp::spawn_with(|c| c.provision_timeout_secs = 600).await;
    let repo = app.seed().await;
    stuck(&app, &repo, 6).await;

    let asked = Instant::now();
    assert_eq!(
        app.delete("/api/environments/stuck-0-shop").await.status(),
        StatusCode::ACCEPTED
    );
    let deleted = wait_until(Duration::from_secs(5), || {
        app.sim
            .get("argocd", "env-stuck-0-shop")
            .is_none_or(|o| o["metadata"]["deletionTimestamp"].is_string())
    })
    .await;
    assert!(
        deleted.is_ok_and(|_| asked.elapsed() <= Duration::from_secs(1)),
        "the Application's deletion started {:?} after DELETE",
        asked.elapsed()
    );

    let asked = Instant::now();
    let r = app
        .post("/api/environments/stuck-1-shop/redeploy", &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let reapplied = wait_until(Duration::from_secs(5), || {
        app.sim
            .get("argocd", "env-stuck-1-shop")
            .is_some_and(|o| o["metadata"]["annotations"]["blueberry.io/deployment"] == "2.1")
    })
    .await;
    assert!(
        reapplied.is_ok_and(|_| asked.elapsed() <= Duration::from_secs(1)),
        "the redeploy was applied {:?} after it was asked for",
        asked.elapsed()
    );

    let asked = Instant::now();
    let before = app.environment("stuck-2-shop").await["expires_at"].clone();
    let r = app
        .post(
            "/api/environments/stuck-2-shop/extend",
            &json!({"hours": 24}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let after: Value = r.json().await.unwrap();
    assert_ne!(after["expires_at"], before);
    assert!(asked.elapsed() <= Duration::from_secs(1));

    // And the deleted one finishes: the finalizer ran, the environment is terminated.
    app.wait_for_status("stuck-0-shop", "terminated", Duration::from_secs(5))
        .await;
}

#[tokio::test]
async fn commands_take_effect_within_a_second_while_every_worker_would_wait_on_a_sync() {
    let p = Project::start(|c| c.provision_timeout_secs = 600).await;
    for iid in 1..=6 {
        p.app
            .sim
            .set_fault(&format!("env-pr-{iid}-shop"), Some(FaultMode::Stuck));
        p.accept(
            &merge_request_event("open", iid, &sha(iid), 10),
            &format!("open-{iid}"),
        )
        .await;
    }
    wait_until(Duration::from_secs(10), || p.app.applications().len() >= 6)
        .await
        .expect("every merge request's Application applied");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let asked = Instant::now();
    p.accept(
        &note_event(1, 9001, "/blueberry status", DEVELOPER),
        "note-1",
    )
    .await;
    let reply = p
        .wait_for_note(1, "is **pending**", Duration::from_secs(5))
        .await;
    assert!(
        asked.elapsed() <= Duration::from_secs(1),
        "`/blueberry status` answered after {:?}: {reply}",
        asked.elapsed()
    );

    let before = p.app.environment("pr-2-shop").await["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let asked = Instant::now();
    p.accept(
        &note_event(2, 9002, "/blueberry extend 24", DEVELOPER),
        "note-2",
    )
    .await;
    let mut extended = false;
    for _ in 0..250 {
        let now = p.app.environment("pr-2-shop").await["expires_at"]
            .as_str()
            .unwrap()
            .to_owned();
        if now != before {
            extended = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        extended && asked.elapsed() <= Duration::from_secs(1),
        "`/blueberry extend 24` took effect after {:?}",
        asked.elapsed()
    );
}

#[tokio::test]
async fn an_attempt_argo_cd_never_finishes_fails_at_its_deadline_on_the_test_clock() {
    let app = TestApp::spawn_with(|c| {
        c.provision_timeout_secs = 600;
        c.resync_secs = 1;
        c.max_attempts = 2;
    })
    .await;
    let repo = app.seed().await;
    app.sim
        .set_fault("env-slowpoke-shop", Some(FaultMode::Stuck));
    app.create_environment("slowpoke", &repo).await;
    let mut waiting = false;
    for _ in 0..200 {
        let env = app.environment("slowpoke-shop").await;
        if env["status_message"]
            .as_str()
            .is_some_and(|m| m.contains("waiting for healthy state"))
        {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(waiting, "Argo CD's progress is shown while it syncs");
    // Ten minutes pass on the clock the controller reads; no worker was held meanwhile.
    app.clock.advance(chrono::Duration::seconds(601));
    let mut failed = None;
    for _ in 0..200 {
        let events = app.events("slowpoke-shop").await;
        failed = events
            .iter()
            .find(|e| e["kind"] == "degraded")
            .map(|e| e["message"].as_str().unwrap().to_owned());
        if failed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let failed = failed.expect("the attempt failed at its deadline");
    assert!(
        failed.contains("not Healthy and Synced within 600 s")
            && failed.contains("waiting for healthy state"),
        "{failed}"
    );
    assert_eq!(app.environment("slowpoke-shop").await["attempt"], 2);
}
