//! 10,000 environments on the embedded default (the release binary, its built-in simulated
//! Argo CD with no delay): creates per second over 8 connections, time until all are ready,
//! then with half of them terminated and their remaining jobs done: API list, UI list and
//! status page latency at 8 connections, changes reaching 1,000 SSE subscribers, resident
//! memory, start-up time to `/readyz` on the existing database, and the binary's size.
//!
//! `cargo bench --bench scale`; BENCH_ENVIRONMENTS (10000), BENCH_CONNECTIONS (8),
//! BENCH_SUBSCRIBERS (1000), BENCH_SSE_ROUNDS (5 changes), BENCH_WORKERS (8).
//!
//! Long on purpose: one benchmark run from start to the printed table; each phase is a short
//! section.

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::future::join_all;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "bb_bench-admin-0123456789abcdef0123456789abcdef";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    /// Stops it gracefully (SIGTERM), so a heap profile build writes its profile.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if self.child.try_wait().is_ok_and(|s| s.is_some()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the server in `cwd`, where a heap profile build writes `dhat-heap.json`.
    fn start(
        data: &std::path::Path,
        cwd: &std::path::Path,
        workers: usize,
    ) -> anyhow::Result<Self> {
        let port = free_port();
        let child = Command::new(
            std::env::var("BENCH_BINARY")
                .unwrap_or_else(|_| env!("CARGO_BIN_EXE_blueberry").to_owned()),
        )
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .args(["--sim-ready-delay-ms", "0", "--sim-refresh-delay-ms", "0"])
        .args(["--workers", &workers.to_string()])
        // 1,000 subscribers share the bench's one token.
        .args(["--max-sse-clients-per-caller", "5000"])
        .arg("--data-dir")
        .arg(data)
        .current_dir(cwd)
        .env("BLUEBERRY_BOOTSTRAP_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
        Ok(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// A `/proc/PID/status` figure of the server process (`VmRSS`, `RssAnon`, `RssFile`), in MB.
    fn memory_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.split(':').next() == Some(field))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// Resident memory of the server process, in MB.
    fn rss_mb(&self) -> f64 {
        self.memory_mb("VmRSS")
    }

    /// CPU seconds the server process has used (all threads).
    fn cpu_secs(&self) -> f64 {
        cpu_secs(&self.child.id().to_string())
    }
}

/// CPU seconds (user + system, all threads) of `/proc/{pid}`: the machine is shared and noisy,
/// and the CPU a phase costs says more than its wall time alone.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and
    // 13th, in clock ticks (USER_HZ, 100 on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: f64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

async fn wait_ready(http: &reqwest::Client, url: &str) -> Duration {
    let t = Instant::now();
    loop {
        if http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return t.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn count(http: &reqwest::Client, url: &str, status: &str) -> anyhow::Result<usize> {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut q = format!("{url}/api/environments?limit=100&status={status}");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page: Value = http.get(q).send().await?.json().await?;
        n += page["items"].as_array().map_or(0, Vec::len);
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(n),
        }
    }
}

/// `requests` GETs of `path` over `connections` connections: (p50, p99) in ms.
async fn latency(
    client: &reqwest::Client,
    url: &str,
    path: &str,
    requests: usize,
    connections: usize,
) -> anyhow::Result<(f64, f64)> {
    let next = Arc::new(AtomicUsize::new(0));
    let runs = (0..connections).map(|_| {
        let (client, next, full) = (client.clone(), next.clone(), format!("{url}{path}"));
        async move {
            let mut ms = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let t = Instant::now();
                let r = client.get(&full).send().await?;
                anyhow::ensure!(r.status() == 200, "{full}: {}", r.status());
                r.bytes().await?;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(ms)
        }
    });
    let mut all = Vec::new();
    for r in join_all(runs).await {
        all.extend(r?);
    }
    all.sort_by(|a, b| a.total_cmp(b));
    Ok((pct(&all, 0.5), pct(&all, 0.99)))
}

/// Opens an SSE stream of `e-1-shop` over a plain socket; returns it once the answer's
/// headers (200) are read.
async fn subscribe(addr: &str) -> anyhow::Result<tokio::net::TcpStream> {
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    socket
        .write_all(
            format!(
                "GET /api/events/environments?environment_id=e-1-shop HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nAccept: text/event-stream\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        anyhow::ensure!(socket.read(&mut byte).await? == 1, "SSE: closed");
        head.push(byte[0]);
    }
    anyhow::ensure!(
        head.starts_with(b"HTTP/1.1 200"),
        "SSE: {}",
        String::from_utf8_lossy(&head)
    );
    Ok(socket)
}

/// The sum of the `/metrics` samples whose line starts with one of `prefixes`.
fn metric_sum(text: &str, prefixes: &[&str]) -> f64 {
    text.lines()
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until the server has nothing left to do: no durable job ready or running, and no job
/// or reconcile finished for a second (the teardowns' jobs, archives and notes run on after
/// the records say terminated). How long that took; `None` after two minutes.
async fn settle(http: &reqwest::Client, url: &str) -> anyhow::Result<Option<Duration>> {
    let started = Instant::now();
    let mut last = None;
    let mut quiet_since = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        let text = http
            .get(format!("{url}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let busy = metric_sum(
            &text,
            &[
                "blueberry_queue_depth{state=\"ready\"}",
                "blueberry_queue_depth{state=\"in_flight\"}",
            ],
        );
        let done = metric_sum(
            &text,
            &[
                "blueberry_job_duration_seconds_count",
                "blueberry_reconcile_duration_seconds_count",
            ],
        );
        if busy > 0.0 || last != Some(done) {
            quiet_since = Instant::now();
        }
        last = Some(done);
        if quiet_since.elapsed() >= Duration::from_secs(1) {
            return Ok(Some(started.elapsed() - Duration::from_secs(1)));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(None)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = env_or("BENCH_ENVIRONMENTS", 10_000);
    let conns = env_or("BENCH_CONNECTIONS", 8);
    let subscribers = env_or("BENCH_SUBSCRIBERS", 1000);
    let workers = env_or("BENCH_WORKERS", 8);
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let server = Server::start(&data, &std::env::current_dir()?, workers)?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {TOKEN}").parse()?,
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(64)
        .build()?;
    wait_ready(&http, &server.url).await;
    let url = server.url.clone();
    let cs: Value = http.post(format!("{url}/api/config-sets"))
        .json(&json!({"name": "web", "repo_url": "https://e.com/r.git", "path": "helm/environment", "target_revision": "main"}))
        .send().await?.json().await?;
    let repo: Value = http.post(format!("{url}/api/repositories"))
        .json(&json!({"name": "shop", "gitlab_project_id": 1, "path_with_namespace": "acme/shop", "config_set_id": cs["id"]}))
        .send().await?.json().await?;
    let repo_id = repo["id"].as_str().unwrap_or_default().to_owned();

    // Creates over `conns` connections.
    let next = Arc::new(AtomicUsize::new(0));
    let (server_cpu, client_cpu) = (server.cpu_secs(), cpu_secs("self"));
    let started = Instant::now();
    let creators = (0..conns).map(|_| {
        let (http, url, next, repo_id) = (http.clone(), url.clone(), next.clone(), repo_id.clone());
        async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(());
                }
                let r = http
                    .post(format!("{url}/api/environments"))
                    .json(&json!({"name": format!("e-{i}"), "repository_id": repo_id}))
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 201, "create {i}: {}", r.status());
            }
        }
    });
    for r in join_all(creators).await {
        r?;
    }
    let created = started.elapsed();
    let creates_cpu = (
        server.cpu_secs() - server_cpu,
        cpu_secs("self") - client_cpu,
    );
    let after_creates = Instant::now();
    while count(&http, &url, "ready").await? < n {
        anyhow::ensure!(
            after_creates.elapsed() < Duration::from_secs(900),
            "not all ready after 15 min"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let all_ready = after_creates.elapsed();
    let provisioned_cpu = server.cpu_secs() - server_cpu;
    let rss_ready = server.rss_mb();

    // Half of them terminated.
    let next = Arc::new(AtomicUsize::new(0));
    let deleters = (0..conns).map(|_| {
        let (http, url, next) = (http.clone(), url.clone(), next.clone());
        async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n / 2 {
                    return Ok::<_, anyhow::Error>(());
                }
                let r = http
                    .delete(format!("{url}/api/environments/e-{}-shop", i * 2))
                    .send()
                    .await?;
                anyhow::ensure!(r.status() == 202, "delete: {}", r.status());
            }
        }
    });
    for r in join_all(deleters).await {
        r?;
    }
    let t = Instant::now();
    while count(&http, &url, "terminated").await? < n / 2 {
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(900),
            "not all terminated after 15 min"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let settled = settle(&http, &url).await?;

    println!(
        "scale benchmark: {n} environments, embedded default, simulated Argo CD without delay, {workers} workers, {conns} connections"
    );
    println!("| figure | measured |");
    println!("|---|---|");
    println!(
        "| {n} creates over {conns} connections | {:.1} s ({:.0}/s) |",
        created.as_secs_f64(),
        n as f64 / created.as_secs_f64()
    );
    println!(
        "| CPU during the creates | server {:.2} cores, this bench's client {:.2} cores |",
        creates_cpu.0 / created.as_secs_f64(),
        creates_cpu.1 / created.as_secs_f64()
    );
    println!(
        "| all {n} ready | {:.1} s after the last create |",
        all_ready.as_secs_f64()
    );
    println!(
        "| server CPU per environment, from its create until ready | {:.2} ms |",
        provisioned_cpu * 1000.0 / n as f64
    );
    match settled {
        Some(d) => println!(
            "| the teardowns' remaining jobs done (reads below measured after) | {:.1} s after the last terminated |",
            d.as_secs_f64()
        ),
        None => println!(
            "| the teardowns' remaining jobs done | still running after 120 s (reads below measured meanwhile) |"
        ),
    }
    for (what, path) in [
        (
            "`GET /api/environments?limit=25`",
            "/api/environments?limit=25".to_owned(),
        ),
        (
            "… `?status=ready&limit=25`",
            "/api/environments?status=ready&limit=25".to_owned(),
        ),
        (
            "… `?repository_id=…&name=e-99&limit=25`",
            format!("/api/environments?repository_id={repo_id}&name=e-99&limit=25"),
        ),
    ] {
        let (p50, p99) = latency(&http, &url, &path, 4000, conns).await?;
        println!("| {what}, {conns} connections | p50 {p50:.2} ms, p99 {p99:.2} ms |");
    }
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    // Tokens are not accepted in links: the login form posts it.
    let login = browser
        .post(format!("{url}/login"))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(format!("token={TOKEN}&next=%2Fenvironments"))
        .send()
        .await?;
    anyhow::ensure!(
        login.headers().contains_key(reqwest::header::SET_COOKIE),
        "login gave no session cookie: {}",
        login.status()
    );
    let cookie = login
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut h = reqwest::header::HeaderMap::new();
    h.insert(reqwest::header::COOKIE, cookie.parse()?);
    // Not following redirects: a redirect to the login page would be measured instead.
    let pages = reqwest::Client::builder()
        .default_headers(h)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    for (what, path) in [
        ("UI list", "/environments"),
        ("status page", "/environments/e-1-shop"),
    ] {
        let (p50, p99) = latency(&pages, &url, path, 2000, conns).await?;
        println!("| {what}, {conns} connections | p50 {p50:.2} ms, p99 {p99:.2} ms |");
    }

    // `rounds` changes, one a second, each to `subscribers` SSE clients. Each reads its stream
    // straight off a socket: the clients run on the server's cores, and a full HTTP client per
    // stream (reqwest: a connection task and a body channel each) cost as much CPU as the
    // server's fan-out and was measured along with it. Subscribers elsewhere (browsers) cost
    // the server nothing. One change is 1,000 samples that share one moment's scheduling; the
    // rounds give the tail more than one chance.
    let rounds = env_or("BENCH_SSE_ROUNDS", 5);
    let arrived = Arc::new(std::sync::Mutex::new(vec![Vec::<Instant>::new(); rounds]));
    let mut streams = Vec::new();
    let addr = url.trim_start_matches("http://").to_owned();
    // A subscriber that has all its changes keeps its stream open until every subscriber has
    // them: 1,000 connections closing at once while the last change is still fanning out made
    // that change's tail the bench's own teardown (it was always the last change's p99).
    let (all_arrived, release) = tokio::sync::watch::channel(false);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    for _ in 0..subscribers {
        let mut socket = subscribe(&addr).await?;
        let arrived = arrived.clone();
        let (mut release, done) = (release.clone(), done_tx.clone());
        streams.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            let mut round = 0;
            while round < rounds {
                let n = match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let frames = buf[..n].windows(5).filter(|w| *w == b"data:").count();
                let now = Instant::now();
                let mut arrived = arrived.lock().unwrap();
                for _ in 0..frames.min(rounds - round) {
                    arrived[round].push(now);
                    round += 1;
                }
            }
            let _ = done.send(());
            let _ = release.wait_for(|r| *r).await;
            drop(socket);
        }));
    }
    drop(done_tx);
    let mut sent = Vec::new();
    for _ in 0..rounds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        sent.push(Instant::now());
        http.post(format!("{url}/api/environments/e-1-shop/extend"))
            .json(&json!({"hours": 1}))
            .send()
            .await?;
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        for _ in 0..subscribers {
            done_rx.recv().await;
        }
    })
    .await;
    let _ = all_arrived.send(true);
    for s in streams {
        let _ = tokio::time::timeout(Duration::from_secs(30), s).await;
    }
    let arrived = std::mem::take(&mut *arrived.lock().unwrap());
    let mut ms: Vec<f64> = Vec::new();
    let mut round_p99s = Vec::new();
    for (at, sent) in arrived.iter().zip(&sent) {
        let mut round: Vec<f64> = at
            .iter()
            .map(|t| (*t - *sent).as_secs_f64() * 1000.0)
            .collect();
        round.sort_by(|a, b| a.total_cmp(b));
        if !round.is_empty() {
            round_p99s.push(format!("{:.1}", pct(&round, 0.99)));
        }
        ms.extend(round);
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    if ms.is_empty() {
        println!("| {rounds} changes → {subscribers} SSE subscribers | none arrived |");
    } else {
        println!(
            "| {rounds} changes → {subscribers} SSE subscribers ({} arrivals) | first {:.1} ms, p50 {:.1} ms, p99 {:.1} ms (per change: {}) |",
            ms.len(),
            ms[0],
            pct(&ms, 0.5),
            pct(&ms, 0.99),
            round_p99s.join(", ")
        );
    }
    println!(
        "| RSS | {rss_ready:.0} MB with all ready; {:.0} MB at the end ({:.0} MB heap and stacks, {:.0} MB mapped files) |",
        server.rss_mb(),
        server.memory_mb("RssAnon"),
        server.memory_mb("RssFile")
    );
    drop(server);

    // Its heap profile, if any, stays in the temporary directory: the one that counts is the
    // first server's.
    let again = Server::start(&data, dir.path(), workers)?;
    let up = wait_ready(&http, &again.url).await;
    println!(
        "| start-up to `/readyz` on the {n}-environment database | {:.0} ms |",
        up.as_secs_f64() * 1000.0
    );
    let size = std::fs::metadata(env!("CARGO_BIN_EXE_blueberry"))?.len();
    println!("| release binary | {:.1} MB |", size as f64 / 1e6);
    Ok(())
}
