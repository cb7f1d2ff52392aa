//! Lifecycle throughput: N environments created at once against the simulated cluster with zero
//! Argo CD delay; prints create-to-ready latency percentiles and jobs per second, then how
//! fast the web UI renders the list and a status page with them.
//!
//! `cargo bench --bench lifecycle` (BENCH_ENVIRONMENTS, BENCH_WORKERS to change the load).

use std::{sync::Arc, time::Instant};

use blueberry::{app::Application, clock::SystemClock, config::Config, domain::Status};
use futures::future::join_all;
use serde_json::{Value, json};

const TOKEN: &str = "bb_bench-admin-0123456789abcdef0123456789abcdef";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count = env_or("BENCH_ENVIRONMENTS", 100);
    let workers = env_or("BENCH_WORKERS", 8) as u32;
    let dir = tempfile::tempdir()?;
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.path().to_path_buf(),
        sim_ready_delay_ms: 0,
        workers,
        bootstrap_token: Some(TOKEN.to_owned().into()),
        ..Config::default()
    };
    let app = Application::build_with_clock(config, Arc::new(SystemClock)).await?;
    let (url, ctx) = (app.url(), app.context().clone());
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

    let started = Instant::now();
    let bodies: Vec<Value> = (0..count)
        .map(|i| json!({"name": format!("bench-{i}"), "repository_id": repo["id"]}))
        .collect();
    let creates = join_all(
        bodies
            .iter()
            .map(|b| http.post(format!("{url}/api/environments")).json(b).send()),
    )
    .await;
    let create_secs = started.elapsed().as_secs_f64();
    assert!(
        creates
            .iter()
            .all(|r| r.as_ref().is_ok_and(|r| r.status() == 201)),
        "every create answered 201"
    );

    while ready_count(&ctx).await? < count {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let wall = started.elapsed().as_secs_f64();

    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let env = ctx.environments.get(&format!("bench-{i}-shop")).await?;
        let ready = env.ready_at.expect("ready");
        latencies.push(
            (ready - env.deployment_started_at)
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0,
        );
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let jobs: f64 = ctx
        .metrics
        .render()
        .lines()
        .filter(|l| l.starts_with("blueberry_jobs_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();

    println!(
        "lifecycle benchmark: {count} environments created at once, {workers} workers, simulated Argo CD delay 0 ms"
    );
    println!(
        "  {count} creates answered in {:.0} ms ({:.0} creates/s)",
        create_secs * 1000.0,
        count as f64 / create_secs
    );
    println!(
        "  create-to-ready ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    println!(
        "  all ready after {:.0} ms; {jobs:.0} jobs run, {:.0} jobs/s",
        wall * 1000.0,
        jobs / wall
    );

    pages(&url).await?;

    let _ = stop.send(());
    server.await??;
    Ok(())
}

/// The web UI with the environments above: server-side render time as a browser sees it
/// (sequential requests over one session), for the list and for a status page.
async fn pages(url: &str) -> anyhow::Result<()> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = browser
        .get(format!("{url}/login?token={TOKEN}"))
        .send()
        .await?;
    let cookie = login.headers()[reqwest::header::SET_COOKIE]
        .to_str()?
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let rounds = env_or("BENCH_PAGE_ROUNDS", 300);
    println!("  web UI, {rounds} sequential requests each:");
    for (what, path) in [
        ("environment list (25 rows)", "/environments".to_owned()),
        ("status page", "/environments/bench-0-shop".to_owned()),
    ] {
        let mut ms = Vec::with_capacity(rounds);
        let mut bytes = 0;
        for _ in 0..rounds {
            let t = Instant::now();
            let r = browser
                .get(format!("{url}{path}"))
                .header(reqwest::header::COOKIE, &cookie)
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "{path} answered {}", r.status());
            bytes = r.bytes().await?.len();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(|a, b| a.total_cmp(b));
        println!(
            "    {what}: p50 {:.2} ms  p99 {:.2} ms  ({} KiB)",
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            bytes / 1024
        );
    }
    Ok(())
}

async fn ready_count(ctx: &blueberry::service::Context) -> anyhow::Result<usize> {
    let mut n = 0;
    let mut cursor = None;
    loop {
        let page = ctx
            .environments
            .list(
                &blueberry::ports::EnvironmentFilter {
                    status: Some(Status::Ready),
                    ..Default::default()
                },
                &blueberry::ports::PageRequest { limit: 100, cursor },
            )
            .await?;
        n += page.items.len();
        match page.next {
            Some(c) => cursor = Some(c),
            None => return Ok(n),
        }
    }
}
