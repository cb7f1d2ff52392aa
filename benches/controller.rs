//! The lifecycle controller against a simulated Argo CD as slow as a real one.
//!
//! 1. N environments (default 200) created at once, each sync drawn from 8 s ± 50 %: time until
//!    the last is ready, as a ratio to the slowest sync drawn (1.0 = nothing waited for a
//!    worker).
//! 2. M Applications stuck (default 50, never Healthy), then one of them deleted and one healthy
//!    environment created: delete-to-terminated, and the healthy one's create-to-ready minus its
//!    own drawn sync time.
//!
//! `cargo bench --bench controller`; BENCH_ENVIRONMENTS, BENCH_SYNC_MS, BENCH_JITTER_PCT,
//! BENCH_STUCK, BENCH_STUCK_SYNC_MS, BENCH_WORKERS (default: the server's default),
//! BENCH_TIMEOUT_SECS change it. Default workers, embedded default, release build.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use blueberry::{
    app::Application,
    clock::SystemClock,
    config::Config,
    domain::Status,
    sim::{FaultMode, SimCluster},
};
use futures::future::join_all;
use serde_json::{Value, json};

const TOKEN: &str = "bb_bench-admin-0123456789abcdef0123456789abcdef";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Running {
    url: String,
    http: reqwest::Client,
    sim: SimCluster,
    repo: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start(sync_ms: u64, jitter: u8) -> anyhow::Result<Running> {
    let dir = tempfile::tempdir()?;
    let mut config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.path().to_path_buf(),
        sim_ready_delay_ms: sync_ms,
        bootstrap_token: Some(TOKEN.to_owned().into()),
        ..Config::default()
    };
    if let Ok(w) = std::env::var("BENCH_WORKERS") {
        config.workers = w.parse()?;
    }
    let app = Application::build_with_clock(config, Arc::new(SystemClock)).await?;
    let (url, sim) = (app.url(), app.sim().expect("simulated").clone());
    sim.update_settings(|s| s.ready_jitter_pct = jitter);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {TOKEN}").parse()?,
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    let cs: Value = http
        .post(format!("{url}/api/config-sets"))
        .json(&json!({"name": "web", "repo_url": "https://e.com/r.git", "path": "helm/environment", "target_revision": "main"}))
        .send().await?.json().await?;
    let repo: Value = http
        .post(format!("{url}/api/repositories"))
        .json(&json!({"name": "shop", "gitlab_project_id": 1, "path_with_namespace": "acme/shop", "config_set_id": cs["id"]}))
        .send().await?.json().await?;
    Ok(Running {
        url,
        http,
        sim,
        repo: repo["id"].as_str().unwrap_or_default().to_owned(),
        stop,
        server,
        _dir: dir,
    })
}

impl Running {
    async fn create(&self, name: &str) -> anyhow::Result<()> {
        let r = self
            .http
            .post(format!("{}/api/environments", self.url))
            .json(&json!({"name": name, "repository_id": self.repo}))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 201, "create {name}: {}", r.status());
        Ok(())
    }

    async fn status(&self, id: &str) -> anyhow::Result<Option<Status>> {
        let v: Value = self
            .http
            .get(format!("{}/api/environments/{id}", self.url))
            .send()
            .await?
            .json()
            .await?;
        Ok(v["status"].as_str().and_then(Status::parse))
    }

    /// Polls until `id` has `status`; how long it took, or None after `timeout`.
    async fn wait(
        &self,
        id: &str,
        status: Status,
        timeout: Duration,
    ) -> anyhow::Result<Option<Duration>> {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if self.status(id).await? == Some(status) {
                return Ok(Some(t.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(None)
    }

    async fn count(&self, status: Status) -> anyhow::Result<usize> {
        let mut n = 0;
        let mut cursor: Option<String> = None;
        loop {
            let mut q = format!("{}/api/environments?limit=100&status={status}", self.url);
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={c}"));
            }
            let page: Value = self.http.get(q).send().await?.json().await?;
            n += page["items"].as_array().map_or(0, Vec::len);
            match page["next"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(n),
            }
        }
    }

    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await??;
        Ok(())
    }
}

fn secs(d: Option<Duration>, cap: Duration) -> String {
    match d {
        Some(d) => format!("{:.2} s", d.as_secs_f64()),
        None => format!("> {:.0} s (gave up)", cap.as_secs_f64()),
    }
}

async fn many_at_once(timeout: Duration) -> anyhow::Result<()> {
    let n = env_or("BENCH_ENVIRONMENTS", 200) as usize;
    let sync_ms = env_or("BENCH_SYNC_MS", 8000);
    let jitter = env_or("BENCH_JITTER_PCT", 50) as u8;
    let run = start(sync_ms, jitter).await?;
    let started = Instant::now();
    let names: Vec<String> = (0..n).map(|i| format!("many-{i}")).collect();
    for r in join_all(names.iter().map(|name| run.create(name))).await {
        r?;
    }
    let created = started.elapsed();
    let mut last = None;
    while started.elapsed() < timeout {
        if run.count(Status::Ready).await? == n {
            last = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let slowest = run.sim.handles.argo.slowest_drawn_sync_time();
    println!(
        "1. {n} environments created at once (creates answered in {:.2} s), sync {sync_ms} ms ± {jitter} %:",
        created.as_secs_f64()
    );
    println!(
        "   last ready after {}; slowest sync drawn {:.2} s; ratio {}",
        secs(last, timeout),
        slowest.as_secs_f64(),
        last.map(|l| format!("{:.2}", l.as_secs_f64() / slowest.as_secs_f64().max(0.001)))
            .unwrap_or_else(|| "n/a".into())
    );
    run.stop().await
}

async fn stuck_ones(timeout: Duration) -> anyhow::Result<()> {
    let m = env_or("BENCH_STUCK", 50) as usize;
    let sync_ms = env_or("BENCH_STUCK_SYNC_MS", 2000);
    let run = start(sync_ms, 50).await?;
    for i in 0..m {
        run.sim
            .set_fault(&format!("env-stuck-{i}-shop"), Some(FaultMode::Stuck));
    }
    let names: Vec<String> = (0..m).map(|i| format!("stuck-{i}")).collect();
    for r in join_all(names.iter().map(|name| run.create(name))).await {
        r?;
    }
    // Every stuck Application applied (and, on an engine that waits, holding the workers).
    let t = Instant::now();
    while run.sim.application_names().len() < m && t.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let delete = run
        .http
        .delete(format!("{}/api/environments/stuck-0-shop", run.url))
        .send();
    let (deleted, created) = tokio::join!(delete, run.create("healthy"));
    anyhow::ensure!(deleted?.status() == 202, "delete answered");
    created?;
    let (gone, ready) = tokio::join!(
        run.wait("stuck-0-shop", Status::Terminated, timeout),
        run.wait("healthy-shop", Status::Ready, timeout)
    );
    let (gone, ready) = (gone?, ready?);
    let drawn = run.sim.handles.argo.drawn_sync_time("env-healthy-shop");
    println!(
        "2. {m} Applications stuck (sync {sync_ms} ms ± 50 %), then one deleted and one healthy created:"
    );
    println!("   delete-to-terminated {}", secs(gone, timeout));
    println!(
        "   healthy create-to-ready {} (its own sync drew {}; over it by {})",
        secs(ready, timeout),
        drawn
            .map(|d| format!("{:.2} s", d.as_secs_f64()))
            .unwrap_or_else(|| "nothing: never synced".into()),
        match (ready, drawn) {
            (Some(r), Some(d)) => format!("{:.2} s", r.as_secs_f64() - d.as_secs_f64()),
            _ => "n/a".into(),
        }
    );
    run.stop().await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let timeout = Duration::from_secs(env_or("BENCH_TIMEOUT_SECS", 120));
    println!(
        "controller benchmark (embedded default, simulated Argo CD, default workers unless BENCH_WORKERS)"
    );
    many_at_once(timeout).await?;
    stuck_ones(timeout).await?;
    Ok(())
}
