//! The storm: the real binary on the embedded default against an external simulated cluster
//! (sync 200 ms ± 50 %, 10 % of API calls 503, watches dropped now and then) and a recording
//! GitLab, fed 2,000 GitLab events over 100 merge requests (redeliveries, late deliveries),
//! killed with SIGKILL five times and restarted on the same data. Then every merge request's
//! environment must be what its newest event asks for, with one Application per live one, one
//! sticky note each, every command answered once, and a commit status on every newest commit.
//!
//! `BLUEBERRY_STORM_EVENTS` (default 2000) and `BLUEBERRY_STORM_MRS` (default 100) size it.
//!
//! Long on purpose: one scenario (the storm and its five kills) and the model-based checks it ends
//! on.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::Command,
    time::{Duration, Instant},
};

use blueberry::domain::feedback::MARKER;
use serde_json::{Value, json};

use crate::{
    fake_gitlab::FakeGitLab,
    helpers::{ADMIN_TOKEN, Process, client_with, free_port, heavy_turn, wait_http},
    hooks::{DEVELOPER, PROJECT},
    storm_model::{Expected, commands, expected, script},
};

const KILLS: usize = 5;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Server {
    process: Option<Process>,
    url: String,
}

impl Server {
    fn start(data: &std::path::Path, kubeconfig: &std::path::Path, gitlab: &str) -> Self {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.with_extension("log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_blueberry"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--retry-base-delay-ms", "200", "--job-lease-secs", "5"])
            .args(["--reaper-interval-secs", "1", "--resync-secs", "15"])
            .args(["--gitlab-url", gitlab, "--log-format", "json"])
            // Exactly-once is tested here, not GitLab's budget (contract_githost.rs).
            .args(["--gitlab-requests-per-second", "10000"])
            .arg("--data-dir")
            .arg(data)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .env("BLUEBERRY_GITLAB_TOKEN", "glpat-storm")
            .env("BLUEBERRY_BOOTSTRAP_TOKEN", ADMIN_TOKEN)
            // Each job's decision is in the log, for a failure's post-mortem (printed below).
            .env("RUST_LOG", "warn,blueberry::worker::jobs=debug")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Self {
            process: Some(Process(child)),
            url,
        }
    }

    fn kill(&mut self) {
        if let Some(mut p) = self.process.take() {
            p.0.kill().unwrap();
            p.0.wait().unwrap();
        }
    }
}

/// Delivers once; the answer's `status` (`accepted`, `duplicate`, `stale`, `ignored`) on a 2xx.
async fn deliver(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    d: &crate::storm_model::Delivery,
) -> Option<String> {
    let event = if d.payload["object_kind"] == "note" {
        "Note Hook"
    } else {
        "Merge Request Hook"
    };
    match http
        .post(format!("{url}/webhooks/gitlab"))
        .header("x-gitlab-event", event)
        .header("x-gitlab-token", secret)
        .header("x-gitlab-event-uuid", &d.uuid)
        .timeout(Duration::from_secs(10))
        .json(&d.payload)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v["status"].as_str().map(str::to_owned)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_events_with_five_kills_loses_nothing_and_does_nothing_twice() {
    let _turn = heavy_turn().await;
    let events = env_or("BLUEBERRY_STORM_EVENTS", 2000);
    let mrs = env_or("BLUEBERRY_STORM_MRS", 100) as u64;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let sim_port = free_port();
    let _sim = Process(
        Command::new(env!("CARGO_BIN_EXE_blueberry"))
            .args(["sim-cluster", "--listen", &format!("127.0.0.1:{sim_port}")])
            .args(["--ready-delay-ms", "200", "--ready-jitter-pct", "50"])
            .args(["--refresh-delay-ms", "100", "--error-rate", "0.1"])
            .args(["--drop-watches-every-ms", "3000", "--kubeconfig-out"])
            .arg(&kubeconfig)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_http(&format!("http://127.0.0.1:{sim_port}/version")).await;
    let gitlab = FakeGitLab::start(&[(DEVELOPER, 30)]).await;
    let data = dir.path().join("data");
    let mut server = Server::start(&data, &kubeconfig, &gitlab.uri());
    wait_http(&format!("{}/healthz", server.url)).await;
    let http = client_with(ADMIN_TOKEN);
    let cs: Value = http
        .post(format!("{}/api/config-sets", server.url))
        .json(&json!({"name": "web", "repo_url": "https://e.com/r.git", "path": "helm/environment", "target_revision": "main"}))
        .send().await.unwrap().json().await.unwrap();
    let repo: Value = http
        .post(format!("{}/api/repositories", server.url))
        .json(&json!({"name": "shop", "gitlab_project_id": PROJECT, "path_with_namespace": "acme/shop", "config_set_id": cs["id"]}))
        .send().await.unwrap().json().await.unwrap();
    let secret = repo["webhook_secret"].as_str().unwrap().to_owned();

    let script = script(mrs, events, 42);
    let kill_at: BTreeSet<usize> = (1..=KILLS)
        .map(|k| k * script.len() / (KILLS + 1))
        .collect();
    let started = Instant::now();
    let (mut kills, mut retried) = (0, 0);
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    let mut last_kill = Instant::now();
    for (i, d) in script.iter().enumerate() {
        if kill_at.contains(&i) {
            // kill -9 while this delivery is on the wire.
            let send = {
                let (http, url, secret, d) =
                    (http.clone(), server.url.clone(), secret.clone(), d.clone());
                tokio::spawn(async move { deliver(&http, &url, &secret, &d).await })
            };
            tokio::time::sleep(Duration::from_millis(rand::random_range(0..4))).await;
            server.kill();
            kills += 1;
            last_kill = Instant::now();
            let _ = send.await;
            server = Server::start(&data, &kubeconfig, &gitlab.uri());
            wait_http(&format!("{}/healthz", server.url)).await;
        }
        // As GitLab does: again until it is answered with a 2xx.
        loop {
            if let Some(answer) = deliver(&http, &server.url, &secret, d).await {
                *answers.entry(answer).or_default() += 1;
                break;
            }
            retried += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let delivered = started.elapsed();

    let want = expected(&script);
    let notes = commands(&script);
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut problems;
    loop {
        problems = check(&http, &server.url, &gitlab, sim_port, &want, &notes).await;
        if problems.is_empty() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let live = want
        .values()
        .filter(|e| matches!(e, Expected::Ready(_)))
        .count();
    println!(
        "storm: {} deliveries ({} unique events) over {mrs} merge requests in {:.1} s, {kills} kills, {retried} retried deliveries, answers {answers:?}; converged {:.1} s after the last kill; {live} live, {} terminated",
        script.len(),
        script
            .iter()
            .map(|d| d.uuid.as_str())
            .collect::<BTreeSet<_>>()
            .len(),
        delivered.as_secs_f64(),
        last_kill.elapsed().as_secs_f64(),
        want.len() - live,
    );
    assert_eq!(kills, KILLS);
    if !problems.is_empty() {
        for item in apps(&http, sim_port).await["items"].as_array().unwrap() {
            let name = item["metadata"]["name"].as_str().unwrap_or_default();
            if problems.iter().any(|p| {
                name.ends_with(&format!(
                    "-{}-shop",
                    p.trim_start_matches('!').split(':').next().unwrap_or("")
                ))
            }) {
                eprintln!(
                    "{name}: annotations {} operation {} state {}",
                    item["metadata"]["annotations"],
                    item["operation"],
                    item["status"]["operationState"]
                );
            }
        }
    }
    if !problems.is_empty() {
        post_mortem(&http, &server.url, &data.with_extension("log"), &problems).await;
    }
    assert!(
        problems.is_empty(),
        "{} problems, e.g.:\n{}",
        problems.len(),
        problems
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// For the first few merge requests with problems: their environment's history and every log
/// line that names it, so that a failure in CI can be understood from its output alone.
async fn post_mortem(
    http: &reqwest::Client,
    url: &str,
    log: &std::path::Path,
    problems: &[String],
) {
    let iids: BTreeSet<&str> = problems
        .iter()
        .filter_map(|p| p.strip_prefix('!')?.split(':').next())
        .take(3)
        .collect();
    let log = std::fs::read_to_string(log).unwrap_or_default();
    for iid in iids {
        let id = format!("pr-{iid}-shop");
        eprintln!("--- {id}: history");
        if let Ok(r) = http
            .get(format!("{url}/api/environments/{id}/events"))
            .send()
            .await
            && let Ok(events) = r.json::<Value>().await
        {
            for e in events.as_array().into_iter().flatten() {
                eprintln!("{} {} {} {}", e["at"], e["kind"], e["actor"], e["message"]);
            }
        }
        eprintln!("--- {id}: log");
        for line in log.lines().filter(|l| l.contains(&id)) {
            eprintln!("{line}");
        }
    }
}

/// The Applications in the simulated cluster (it answers 10 % of calls with 503: ask again).
async fn apps(http: &reqwest::Client, sim_port: u16) -> Value {
    loop {
        let r = http
            .get(format!("http://127.0.0.1:{sim_port}/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"))
            .send()
            .await
            .unwrap();
        if r.status().is_success() {
            return r.json::<Value>().await.unwrap();
        }
    }
}

/// What is not yet as it must end (empty when converged).
async fn check(
    http: &reqwest::Client,
    url: &str,
    gitlab: &FakeGitLab,
    sim_port: u16,
    want: &BTreeMap<u64, Expected>,
    notes: &BTreeMap<u64, std::collections::HashSet<u64>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let apps = apps(http, sim_port).await;
    let in_cluster: BTreeSet<String> = apps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    // A copy, so GitLab's fake is not held while Blueberry is asked.
    let (all_notes, statuses) = {
        let st = gitlab.state();
        (st.notes.clone(), st.statuses.clone())
    };
    let notes_with = |iid: u64, marker: &str| -> Vec<crate::fake_gitlab::Note> {
        all_notes
            .get(&(PROJECT, iid))
            .map(|n| {
                n.iter()
                    .filter(|n| n.body.contains(marker))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    for (iid, expected) in want {
        let id = format!("pr-{iid}-shop");
        let r = http
            .get(format!("{url}/api/environments/{id}"))
            .send()
            .await
            .unwrap();
        let env: Value = if r.status() == reqwest::StatusCode::NOT_FOUND {
            Value::Null
        } else {
            r.json().await.unwrap_or(Value::Null)
        };
        let app = format!("env-{id}");
        let sticky = notes_with(*iid, MARKER);
        match expected {
            Expected::Ready(head) => {
                if env["status"] != "ready" || env["git"]["sha"] != head.as_str() {
                    problems.push(format!(
                        "!{iid}: want ready at {}, is {} at {}",
                        &head[30..],
                        env["status"],
                        env["git"]["sha"]
                    ));
                }
                if !in_cluster.contains(&app) {
                    problems.push(format!("!{iid}: no Application"));
                }
                if !sticky.first().is_some_and(|n| {
                    n.body.contains("is **ready**") && n.body.contains(head.as_str())
                }) {
                    problems.push(format!("!{iid}: sticky note not ready at the head"));
                }
                let last_status = statuses
                    .get(&(PROJECT, head.clone()))
                    .and_then(|s| s.last().cloned());
                if last_status.as_ref().is_none_or(|s| s["state"] != "success") {
                    problems.push(format!("!{iid}: commit status {last_status:?}"));
                }
            }
            // Never had an environment (its open came after its close, or never): nothing to do.
            Expected::Terminated if env["status"].is_null() && sticky.is_empty() => continue,
            Expected::Terminated => {
                if env["status"] != "terminated" {
                    problems.push(format!("!{iid}: want terminated, is {}", env["status"]));
                }
                if in_cluster.contains(&app) {
                    problems.push(format!("!{iid}: Application left behind"));
                }
                if !sticky
                    .first()
                    .is_some_and(|n| n.body.contains("is **terminated**"))
                {
                    problems.push(format!("!{iid}: sticky note not terminated"));
                }
            }
        }
        if sticky.len() != 1 {
            problems.push(format!("!{iid}: {} sticky notes", sticky.len()));
        }
        for note in notes.get(iid).into_iter().flatten() {
            let replies = notes_with(*iid, &format!("reply:note:{note}")).len();
            if replies != 1 {
                problems.push(format!("!{iid}: note {note} answered {replies} times"));
            }
        }
        // Each extend took effect once: as many extensions as replies saying so.
        if env["status"].is_string() {
            let history: Value = http
                .get(format!("{url}/api/environments/{id}/events"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let extended = history
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "extended")
                .count();
            let told = notes_with(*iid, "now expires at").len();
            if extended != told {
                problems.push(format!("!{iid}: {extended} extensions, {told} told"));
            }
        }
    }
    let extra: Vec<_> = in_cluster
        .iter()
        .filter(|a| !want.keys().any(|iid| **a == format!("env-pr-{iid}-shop")))
        .collect();
    if !extra.is_empty() {
        problems.push(format!("unexpected Applications: {extra:?}"));
    }
    problems
}
