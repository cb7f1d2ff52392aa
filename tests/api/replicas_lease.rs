//! Two worker replicas, one environment, many triggers at once (redeploys through the queue,
//! Argo CD's status through each worker's watch): the two never reconcile it at the same time.
//! Each worker logs every reconcile's interval (`reconciled`, with its holder, start and end in
//! microseconds) before it gives the lease back; the test reads both logs.

use std::{collections::BTreeSet, path::Path, time::Duration};

use serde_json::{Value, json};

use crate::{
    helpers::{free_port, wait_http},
    replicas::{Backdrop, backdrop, replica, seed},
};

/// `(holder, began, ended)` of every reconcile of `env_id` in the worker logs under `dir`.
pub fn reconciles(dir: &Path, env_id: &str) -> Vec<(String, i64, i64)> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("worker-"))
        .flat_map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["message"] == "reconciled" && v["env_id"] == env_id)
                .map(|v| {
                    (
                        v["holder"].as_str().unwrap_or_default().to_owned(),
                        v["began"].as_i64().unwrap_or_default(),
                        v["ended"].as_i64().unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn two_worker_replicas_never_reconcile_one_environment_at_once() {
    let _turn = crate::helpers::heavy_turn().await;
    let dir = tempfile::tempdir().unwrap();
    // Every cluster request takes 100 ms, so a reconcile that applies lasts long enough for a
    // second worker to start one beside it if nothing stops it.
    let Backdrop { _sim, shared, .. } = backdrop(
        dir.path(),
        "lease",
        &["--ready-delay-ms", "1500", "--latency-ms", "100"],
    )
    .await;
    let port = free_port();
    let _api = replica("api", port, &shared, dir.path());
    let api = format!("http://127.0.0.1:{port}");
    wait_http(&format!("{api}/readyz")).await;
    let _one = replica("worker", free_port(), &shared, dir.path());
    let _two = replica("worker", free_port(), &shared, dir.path());

    let http = crate::helpers::client_with(crate::helpers::ADMIN_TOKEN);
    let repo = seed(&http, &api, json!(1)).await;
    let env: Value = http
        .post(format!("{api}/api/environments"))
        .json(&json!({"name": "busy", "repository_id": repo["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = env["id"].as_str().unwrap().to_owned();
    // Rounds of concurrent redeploys: each queues a reconcile, and the two workers' Pub/Sub
    // subscriptions share them out.
    for _ in 0..5 {
        let redeploys = (0..6).map(|_| {
            http.post(format!("{api}/api/environments/{id}/redeploy"))
                .send()
        });
        for r in futures::future::join_all(redeploys).await {
            let r = r.unwrap();
            assert!(
                r.status().is_success() || r.status() == 409,
                "{}",
                r.status()
            );
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let now: Value = http
            .get(format!("{api}/api/environments/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if now["status"] == "ready" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never ready: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let seen = reconciles(dir.path(), &id);
    let holders: BTreeSet<&str> = seen.iter().map(|(h, _, _)| h.as_str()).collect();
    assert_eq!(
        holders.len(),
        2,
        "both workers reconciled the environment (else nothing could overlap): {seen:?}"
    );
    for (i, a) in seen.iter().enumerate() {
        for b in &seen[i + 1..] {
            assert!(
                a.0 == b.0 || a.2 <= b.1 || b.2 <= a.1,
                "two workers reconciled {id} at once: {a:?} and {b:?}"
            );
        }
    }
}
