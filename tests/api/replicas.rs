//! Several `blueberry serve` processes on Firestore + Pub/Sub + Redis: API replicas and worker
//! replicas scale apart, SSE on any replica sees every change, a killed worker loses nothing.

use std::{
    collections::HashMap,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

use crate::{
    emulators,
    helpers::{Process, SseClient, free_port, wait_http},
};

pub struct Shared {
    pub project: String,
    pub topic: String,
    pub kubeconfig: std::path::PathBuf,
}

pub fn replica(role: &str, port: u16, shared: &Shared, dir: &Path) -> Process {
    replica_with(role, port, shared, dir, &[])
}

/// A `blueberry serve --role ROLE` on the emulators and Redis, logging JSON (with each
/// reconcile's interval) to `DIR/ROLE-PORT.log`, with `extra` arguments last.
pub fn replica_with(role: &str, port: u16, shared: &Shared, dir: &Path, extra: &[&str]) -> Process {
    let log = std::fs::File::create(dir.join(format!("{role}-{port}.log"))).unwrap();
    let log_err = log.try_clone().unwrap();
    Process(
        Command::new(env!("CARGO_BIN_EXE_blueberry"))
            .args([
                "serve",
                "--role",
                role,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args([
                "--store",
                "firestore",
                "--queue",
                "pubsub",
                "--bus",
                "redis",
                "--cache",
                "redis",
            ])
            .args([
                "--gcp-project",
                &shared.project,
                "--firestore-emulator-host",
                emulators::firestore(),
            ])
            .args(["--pubsub-endpoint", emulators::pubsub(), "--pubsub-create"])
            .args([
                "--pubsub-topic",
                &shared.topic,
                "--pubsub-subscription",
                &format!("{}-sub", shared.topic),
            ])
            .args([
                "--pubsub-dead-letter-topic",
                &format!("{}-dead", shared.topic),
            ])
            .args([
                "--redis-url",
                emulators::redis(),
                "--job-lease-secs",
                "10",
                "--retry-base-delay-ms",
                "300",
            ])
            .args([
                "--workers",
                "3",
                "--resync-secs",
                "20",
                "--reaper-interval-secs",
                "2",
                "--provision-timeout-secs",
                "15",
            ])
            .arg("--kubeconfig")
            .arg(&shared.kubeconfig)
            .arg("--data-dir")
            .arg(dir.join(format!("data-{port}")))
            .args(["--log-format", "json"])
            .args([
                "--session-key",
                "replicas-share-this-session-key-0123456789",
            ])
            .args(extra)
            .env("RUST_LOG", "info,blueberry::worker::controller=debug")
            .env_remove("FIRESTORE_EMULATOR_HOST")
            .env("BLUEBERRY_BOOTSTRAP_TOKEN", crate::helpers::ADMIN_TOKEN)
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap(),
    )
}

/// The processes' shared set-up: an external `blueberry sim-cluster` run with `sim_args`, and a
/// fresh Firestore project and Pub/Sub topic named after `name`.
pub struct Backdrop {
    pub _sim: Process,
    pub sim_port: u16,
    pub shared: Shared,
}

pub async fn backdrop(dir: &Path, name: &str, sim_args: &[&str]) -> Backdrop {
    let kubeconfig = dir.join("k.yaml");
    let sim_port = free_port();
    let sim = Process(
        Command::new(env!("CARGO_BIN_EXE_blueberry"))
            .args(["sim-cluster", "--listen", &format!("127.0.0.1:{sim_port}")])
            .args(sim_args)
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_http(&format!("http://127.0.0.1:{sim_port}/version")).await;
    Backdrop {
        _sim: sim,
        sim_port,
        shared: Shared {
            project: emulators::unique(name),
            topic: emulators::unique("jobs"),
            kubeconfig,
        },
    }
}

/// A config set and repository `shop` for GitLab project `project`, created through `base`.
pub async fn seed(http: &reqwest::Client, base: &str, project: Value) -> Value {
    let cs: Value = http
        .post(format!("{base}/api/config-sets"))
        .json(&json!({"name": "web", "repo_url": "https://e.com/r.git", "path": "p", "target_revision": "main"}))
        .send().await.unwrap().json().await.unwrap();
    http.post(format!("{base}/api/repositories"))
        .json(&json!({"name": "shop", "gitlab_project_id": project, "path_with_namespace": "acme/shop", "config_set_id": cs["id"]}))
        .send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn api_and_worker_replicas_share_the_work_and_every_sse_client_sees_every_change() {
    let _turn = crate::helpers::heavy_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let Backdrop {
        _sim,
        sim_port,
        shared,
    } = backdrop(dir.path(), "replicas", &["--ready-delay-ms", "4000"]).await;
    let (port_a, port_b) = (free_port(), free_port());
    let _api_a = replica("api", port_a, &shared, dir.path());
    let _api_b = replica("api", port_b, &shared, dir.path());
    let (a, b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    wait_http(&format!("{a}/readyz")).await;
    wait_http(&format!("{b}/readyz")).await;
    let mut worker_one = replica("worker", free_port(), &shared, dir.path());
    let _worker_two = replica("worker", free_port(), &shared, dir.path());

    let http = crate::helpers::client_with(crate::helpers::ADMIN_TOKEN);
    let mut sse = SseClient::connect_to(&http, &b, "", None).await;
    let repo = seed(&http, &a, json!(1)).await;
    const COUNT: usize = 4;
    for i in 0..COUNT {
        let r = http
            .post(format!("{a}/api/environments"))
            .json(&json!({"name": format!("r-{i}"), "repository_id": repo["id"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            reqwest::StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
    }
    // Kill one worker while jobs are in flight: no graceful shutdown.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    worker_one.0.kill().unwrap();
    worker_one.0.wait().unwrap();

    let mut statuses: HashMap<String, Vec<String>> = HashMap::new();
    let mut last_id = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while statuses
        .values()
        .filter(|s| s.last().is_some_and(|x| x == "ready"))
        .count()
        < COUNT
    {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(event) = sse.next(left).await else {
            let logs: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
                .map(|e| {
                    format!(
                        "{}:\n{}",
                        e.path().display(),
                        std::fs::read_to_string(e.path()).unwrap_or_default()
                    )
                })
                .collect();
            panic!(
                "not every environment became ready: {statuses:?}\n{}",
                logs.join("\n")
            );
        };
        let id: u64 = event.id.unwrap().parse().unwrap();
        assert!(id > last_id, "SSE ids increase");
        last_id = id;
        statuses
            .entry(event.data["id"].as_str().unwrap().to_owned())
            .or_default()
            .push(event.data["status"].as_str().unwrap().to_owned());
    }
    for (env, seen) in &statuses {
        assert_eq!(
            seen.first().map(String::as_str),
            Some("pending"),
            "{env}: {seen:?}"
        );
        assert_eq!(
            seen.last().map(String::as_str),
            Some("ready"),
            "{env}: {seen:?}"
        );
    }
    // Both API replicas agree, and the cluster has exactly one Application per environment.
    let list: Value = http
        .get(format!("{b}/api/environments?status=ready&limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), COUNT);
    // API replicas served; only workers ran jobs.
    for api in [&a, &b] {
        let metrics = http
            .get(format!("{api}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !metrics.contains("blueberry_jobs_total{"),
            "an API replica ran jobs:\n{metrics}"
        );
    }
    let apps: Value = http
        .get(format!(
            "http://127.0.0.1:{sim_port}/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(apps["items"].as_array().unwrap().len(), COUNT);
}
