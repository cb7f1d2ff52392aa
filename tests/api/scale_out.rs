//! The production settings under load: 3 API + 3 worker processes on the Firestore and Pub/Sub
//! (ordered) emulators and Redis, an external simulated cluster (syncs of 500 ms ± 50 %, 5 % of
//! API calls answered 503). Environments are created through the API replicas in turn while
//! GitLab webhook events arrive; one worker and one API replica are SIGKILLed in the middle and
//! started again. Then every environment converges, no two workers ever reconciled one
//! environment at once, and an SSE client on each API replica saw the same changes in increasing
//! id order (the killed replica's client, reconnected with `Last-Event-ID`, missed none).
//!
//! Sized for CI by default; `BLUEBERRY_SCALE_OUT_ENVS=300 BLUEBERRY_SCALE_OUT_EVENTS=1000` is the
//! benchmark run. It prints the figures either way.
//!
//! Long on purpose: one scenario, the whole production topology under load and kill -9, with the
//! checks it ends on.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    helpers::{Process, SseClient, free_port, wait_http},
    hooks::{merge_request_event, sha},
    replicas::{Backdrop, backdrop, replica, seed},
    replicas_lease::reconciles,
};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One SSE event as a client saw it: when, id, environment, status, commit.
type Seen = (Instant, u64, String, String, Option<String>);

/// Follows `base`'s SSE stream (from `from`) into `seen` until it breaks or `stop`.
fn follow(
    http: reqwest::Client,
    base: String,
    from: Option<String>,
    seen: Arc<Mutex<Vec<Seen>>>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut sse = SseClient::connect_to(&http, &base, "", from.as_deref()).await;
        loop {
            tokio::select! {
                event = sse.next(Duration::from_secs(3600)) => {
                    let Some(e) = event else { return };
                    if e.event != "environment" {
                        continue;
                    }
                    seen.lock().unwrap().push((
                        Instant::now(),
                        e.id.as_deref().unwrap().parse().unwrap(),
                        e.data["id"].as_str().unwrap().to_owned(),
                        e.data["status"].as_str().unwrap().to_owned(),
                        e.data["git"]["sha"].as_str().map(str::to_owned),
                    ));
                }
                _ = stop.changed() => return,
            }
        }
    })
}

/// Sends `request` to the API replicas in turn from `start`, moving on when one is down (as
/// GitLab and a CI job would retry); the answer's status and body.
async fn send(
    http: &reqwest::Client,
    apis: &Arc<Mutex<Vec<String>>>,
    start: usize,
    request: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
) -> (u16, Value) {
    for attempt in 0..30 {
        let base = {
            let apis = apis.lock().unwrap();
            apis[(start + attempt) % apis.len()].clone()
        };
        if let Ok(r) = request(http, &base).send().await
            && r.status().as_u16() < 500
        {
            let status = r.status().as_u16();
            return (status, r.json().await.unwrap_or(Value::Null));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no API replica answered");
}

fn logs(dir: &Path) -> String {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The last lines of every process's log.
fn tails(dir: &Path) -> String {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            format!(
                "== {}\n{}",
                e.path().display(),
                lines[lines.len().saturating_sub(8)..].join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test]
async fn three_api_and_three_worker_replicas_converge_through_kills_without_overlap_or_gaps() {
    let envs = setting("BLUEBERRY_SCALE_OUT_ENVS", 24);
    let events = setting("BLUEBERRY_SCALE_OUT_EVENTS", 60);
    let merge_requests = (events / 10).max(1);
    let _turn = crate::helpers::heavy_turn().await;
    let dir = tempfile::tempdir().unwrap();
    let Backdrop { _sim, shared, .. } = backdrop(
        dir.path(),
        "scale",
        &[
            "--ready-delay-ms",
            "500",
            "--ready-jitter-pct",
            "50",
            "--error-rate",
            "0.05",
        ],
    )
    .await;
    let mut api_procs = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..3 {
        let port = free_port();
        api_procs.push(replica("api", port, &shared, dir.path()));
        bases.push(format!("http://127.0.0.1:{port}"));
    }
    for b in &bases {
        wait_http(&format!("{b}/readyz")).await;
    }
    let mut workers: Vec<Process> = (0..3)
        .map(|_| replica("worker", free_port(), &shared, dir.path()))
        .collect();
    let http = crate::helpers::client_with(crate::helpers::ADMIN_TOKEN);
    let (stop_tx, stop) = watch::channel(false);
    let seen: Vec<Arc<Mutex<Vec<Seen>>>> = (0..3).map(|_| Arc::default()).collect();
    let mut followers: Vec<JoinHandle<()>> = (0..3)
        .map(|i| {
            follow(
                http.clone(),
                bases[i].clone(),
                None,
                seen[i].clone(),
                stop.clone(),
            )
        })
        .collect();

    let project = merge_request_event("open", 1, &sha(1), 0)["project"]["id"].clone();
    let repo = seed(&http, &bases[1], project).await;
    let secret = repo["webhook_secret"].as_str().unwrap().to_owned();
    let apis = Arc::new(Mutex::new(bases.clone()));
    let started = Instant::now();

    // Webhooks: each merge request is opened, then pushed to nine times, in rounds.
    let deliveries = {
        let (http, apis) = (http.clone(), apis.clone());
        tokio::spawn(async move {
            let mut n = 0usize;
            for round in 0..10u64 {
                let batch = (1..=merge_requests as u64).map(|iid| {
                    let action = if round == 0 { "open" } else { "update" };
                    let body =
                        merge_request_event(action, iid, &sha(iid * 100 + round), round * 60);
                    n += 1;
                    let (http, apis, secret, uuid) = (
                        http.clone(),
                        apis.clone(),
                        secret.clone(),
                        format!("scale-{iid}-{round}"),
                    );
                    async move {
                        let (status, answer) = send(&http, &apis, n, |h, base| {
                            h.post(format!("{base}/webhooks/gitlab"))
                                .header("x-gitlab-event", "Merge Request Hook")
                                .header("x-gitlab-token", &secret)
                                .header("x-gitlab-event-uuid", &uuid)
                                .json(&body)
                        })
                        .await;
                        assert!(matches!(status, 200 | 202), "{status} {answer}");
                    }
                });
                futures::future::join_all(batch).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    // Creates through the API replicas in turn; halfway, SIGKILL a worker and an API replica.
    let mut created = Vec::new();
    let mut killed = false;
    for chunk in (0..envs).collect::<Vec<_>>().chunks(8) {
        if created.len() >= envs / 2 && !killed {
            killed = true;
            workers.remove(0).0.kill().unwrap();
            api_procs.remove(0).0.kill().unwrap();
            apis.lock().unwrap().remove(0);
            let _ = followers.remove(0).await;
            let port = free_port();
            api_procs.push(replica("api", port, &shared, dir.path()));
            workers.push(replica("worker", free_port(), &shared, dir.path()));
            let base = format!("http://127.0.0.1:{port}");
            wait_http(&format!("{base}/readyz")).await;
            // The killed replica's client reconnects to its replacement where it left off.
            let last = seen[0].lock().unwrap().last().map(|s| s.1.to_string());
            followers.push(follow(
                http.clone(),
                base.clone(),
                last,
                seen[0].clone(),
                stop.clone(),
            ));
            apis.lock().unwrap().push(base);
        }
        let batch = chunk.iter().map(|i| {
            let body = json!({"name": format!("load-{i}"), "repository_id": repo["id"]});
            let (http, apis) = (http.clone(), apis.clone());
            async move {
                send(&http, &apis, *i, |h, base| {
                    h.post(format!("{base}/api/environments")).json(&body)
                })
                .await
            }
        });
        for (status, body) in futures::future::join_all(batch).await {
            // 409: a create whose answer was lost with its replica, retried elsewhere.
            assert!(matches!(status, 201 | 409), "{status} {body}");
        }
        created.extend_from_slice(chunk);
    }
    deliveries.await.unwrap();

    // Converged: every environment ready, merge request environments at their last push.
    let expected: HashMap<String, Option<String>> = (0..envs)
        .map(|i| (format!("load-{i}-shop"), None))
        .chain(
            (1..=merge_requests as u64)
                .map(|iid| (format!("pr-{iid}-shop"), Some(sha(iid * 100 + 9)))),
        )
        .collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        for p in api_procs.iter_mut().chain(workers.iter_mut()) {
            if let Ok(Some(exit)) = p.0.try_wait() {
                panic!(
                    "a replica exited by itself ({exit}):\n{}",
                    tails(dir.path())
                );
            }
        }
        let mut done = 0;
        let mut behind = Vec::new();
        for (n, (id, head)) in expected.iter().enumerate() {
            let (_, env) = send(&http, &apis, n, |h, base| {
                h.get(format!("{base}/api/environments/{id}"))
            })
            .await;
            if env["status"] == "ready"
                && head
                    .as_ref()
                    .is_none_or(|h| env["git"]["sha"] == h.as_str())
            {
                done += 1;
            } else {
                behind.push(env);
            }
        }
        if done == expected.len() {
            break;
        }
        if Instant::now() >= deadline {
            let names: Vec<&str> = behind.iter().filter_map(|e| e["id"].as_str()).collect();
            let log = logs(dir.path());
            let related: Vec<&str> = log
                .lines()
                .filter(|l| {
                    names.iter().any(|n| l.contains(n))
                        || l.contains("\"WARN\"")
                        || l.contains("\"ERROR\"")
                })
                .collect();
            panic!(
                "{done} of {} converged; behind: {behind:#?}\n{}",
                expected.len(),
                related.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let converged = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop_tx.send(true);
    for f in followers {
        let _ = f.await;
    }

    // Every client saw the same changes, in increasing id order, ending ready.
    let views: Vec<Vec<Seen>> = seen.iter().map(|s| s.lock().unwrap().clone()).collect();
    let ids: Vec<Vec<u64>> = views
        .iter()
        .map(|v| v.iter().map(|s| s.1).collect())
        .collect();
    for (i, v) in ids.iter().enumerate() {
        assert!(
            v.windows(2).all(|w| w[0] < w[1]),
            "client {i}: ids must increase"
        );
    }
    assert_eq!(
        ids[0], ids[1],
        "the reconnected client missed or repeated changes"
    );
    assert_eq!(ids[1], ids[2]);
    let mut last: HashMap<&str, &str> = HashMap::new();
    for s in &views[1] {
        last.insert(&s.2, &s.3);
    }
    for id in expected.keys() {
        assert_eq!(
            last.get(id.as_str()),
            Some(&"ready"),
            "{id} as the stream last said"
        );
    }

    // No environment was ever reconciled by two workers at once.
    let mut checked = 0;
    for id in expected.keys() {
        let runs = reconciles(dir.path(), id);
        for (i, a) in runs.iter().enumerate() {
            for b in &runs[i + 1..] {
                assert!(
                    a.0 == b.0 || a.2 <= b.1 || b.2 <= a.1,
                    "two workers reconciled {id} at once: {a:?} {b:?}"
                );
            }
        }
        checked += runs.len();
    }
    assert!(
        checked >= expected.len(),
        "every environment was reconciled"
    );

    let all_logs = logs(dir.path());
    let retry_lines: Vec<&str> = all_logs
        .lines()
        .filter(|l| l.contains("Transient error occurred in transaction"))
        .collect();
    let retries = retry_lines.len();
    let mut retried_in: HashMap<String, usize> = HashMap::new();
    for l in &retry_lines {
        let v: Value = serde_json::from_str(l).unwrap_or_default();
        let place =
            v["spans"]
                .as_array()
                .and_then(|s| s.last())
                .map_or("no span".to_owned(), |s| {
                    format!(
                        "{} {}",
                        s["name"].as_str().unwrap_or(""),
                        s["path"]
                            .as_str()
                            .or(s["job"].as_str())
                            .or(s["step"].as_str())
                            .unwrap_or("")
                    )
                });
        *retried_in.entry(place).or_default() += 1;
    }
    let mut ready_after: Vec<f64> = {
        let mut first: HashMap<&str, Instant> = HashMap::new();
        let mut ready: HashMap<&str, Instant> = HashMap::new();
        for s in &views[1] {
            first.entry(&s.2).or_insert(s.0);
            if s.3 == "ready" {
                ready.entry(&s.2).or_insert(s.0);
            }
        }
        ready
            .iter()
            .filter_map(|(id, r)| Some(r.duration_since(*first.get(id)?).as_secs_f64()))
            .collect()
    };
    ready_after.sort_by(f64::total_cmp);
    println!(
        "scale-out: {} environments ({envs} created, {merge_requests} merge requests from {} webhook events), 3 API + 3 workers, one of each killed: converged in {:.1} s; {} transitions ({:.1}/s); create-to-ready p50 {:.2} s, p99 {:.2} s; {checked} reconciles; Firestore transaction retries: {retries} ({retried_in:?})",
        expected.len(),
        merge_requests * 10,
        converged.as_secs_f64(),
        ids[1].len(),
        ids[1].len() as f64 / converged.as_secs_f64(),
        pct(&ready_after, 0.5),
        pct(&ready_after, 0.99),
    );
    // The emulator locks pessimistically (production runs OPTIMISTIC): a handful of retries
    // per environment is contention between the writers of that environment, more would be a
    // document every write shares again.
    assert!(
        retries <= 5 * expected.len(),
        "Firestore transactions contend: {retries} retries for {} environments: {retried_in:?}",
        expected.len()
    );
}
