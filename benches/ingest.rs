//! Webhook ingest, side by side with a generic receiver in one run: Blueberry's
//! `POST /webhooks/gitlab` (the release binary, embedded default: each 202 only once the event
//! and its job are committed) against adnanh/webhook (Debian's `webhook`: a token rule, runs
//! `/bin/true`, persists nothing), both driven by `wrk` with the same GitLab merge request event
//! and a unique `X-Gitlab-Event-UUID` per request. Prints requests/s, p50, p99, errors and the
//! ratio.
//!
//! `cargo bench --bench ingest` (needs `apt-get install wrk webhook`; without `webhook` only
//! Blueberry is measured). BENCH_CONNECTIONS (64), BENCH_THREADS (2), BENCH_SECONDS (10);
//! BENCH_BINARY runs another build of `blueberry` (before and after a change, side by side).

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

const TOKEN: &str = "bb_bench-admin-0123456789abcdef0123456789abcdef";
const SECRET_HEADER: &str = "X-Gitlab-Token";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_or(name: &str, default: u64) -> u64 {
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

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn wait_up(url: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if reqwest::get(url).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("{url} never answered")
}

/// One wrk run's figures.
#[derive(Debug, Default)]
struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    errors: u64,
    /// How the receiver answered, when the script counts it.
    answers: String,
}

fn millis(s: &str) -> f64 {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "ms"));
    let n: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => n,
    }
}

/// Runs wrk against `url` with `script` and reads its report.
fn wrk(url: &str, script: &Path) -> anyhow::Result<Figures> {
    let out = Command::new("wrk")
        .arg(format!("-t{}", env_or("BENCH_THREADS", 2)))
        .arg(format!("-c{}", env_or("BENCH_CONNECTIONS", 64)))
        .arg(format!("-d{}s", env_or("BENCH_SECONDS", 10)))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut f = Figures::default();
    if let Some(line) = text.lines().find(|l| l.starts_with("answers:")) {
        f.answers = line.trim_start_matches("answers:").trim().to_owned();
    }
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => f.rps = n.parse().unwrap_or(0.0),
            ["50%", v] => f.p50_ms = millis(v),
            ["99%", v] => f.p99_ms = millis(v),
            [n, "requests", "in", ..] => f.requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => f.errors += n.parse::<u64>().unwrap_or(0),
            ["Socket", "errors:", rest @ ..] => {
                f.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    anyhow::ensure!(f.requests > 0, "wrk printed no figures:\n{text}");
    Ok(f)
}

/// A wrk script that posts `body` with `headers` and a fresh delivery id per request.
fn script(dir: &Path, body: &Path, headers: &[(&str, &str)]) -> anyhow::Result<std::path::PathBuf> {
    let mut lua = String::from("local f = io.open(\"");
    lua.push_str(&body.display().to_string());
    lua.push_str("\", \"rb\")\nlocal body = f:read(\"*a\")\nf:close()\n");
    // `thread_id` must be a global: `thread:set` writes the thread's globals.
    lua.push_str("local counter = 0\nthread_id = 0\nlocal threads = 0\n");
    lua.push_str("wrk.method = \"POST\"\nwrk.body = body\n");
    for (k, v) in headers {
        lua.push_str(&format!("wrk.headers[\"{k}\"] = \"{v}\"\n"));
    }
    lua.push_str("function request()\n  counter = counter + 1\n  wrk.headers[\"X-Gitlab-Event-UUID\"] = thread_id .. \"-\" .. counter\n  return wrk.format(nil, nil, nil, nil)\nend\n");
    // Each thread counts the answers it got; `done` prints them (threads' globals).
    lua.push_str("answers = {}\nfunction response(status, headers, body)\n  local kind = string.match(body, '\"status\":\"(%a+)\"') or tostring(status)\n  answers[kind] = (answers[kind] or 0) + 1\nend\n");
    lua.push_str("local all = {}\nfunction setup(thread)\n  threads = threads + 1\n  thread:set(\"thread_id\", threads)\n  table.insert(all, thread)\nend\n");
    lua.push_str("function done(summary, latency, requests)\n  local total = {}\n  for _, t in ipairs(all) do\n    for k, v in pairs(t:get(\"answers\")) do total[k] = (total[k] or 0) + v end\n  end\n  local parts = {}\n  for k, v in pairs(total) do table.insert(parts, k .. \"=\" .. v) end\n  table.sort(parts)\n  io.write(\"answers: \" .. table.concat(parts, \" \") .. \"\\n\")\nend\n");
    let path = dir.join(format!("post-{}.lua", headers.len()));
    std::fs::write(&path, lua)?;
    Ok(path)
}

fn row(name: &str, f: &Figures) -> String {
    format!(
        "| {name} | {:.0} | {:.2} ms | {:.2} ms | {} of {} | {} |",
        f.rps, f.p50_ms, f.p99_ms, f.errors, f.requests, f.answers
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    anyhow::ensure!(have("wrk"), "wrk is missing: apt-get install wrk");
    let dir = tempfile::tempdir()?;
    let body = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/gitlab/merge_request_update_new_commits.json");
    let size = std::fs::metadata(&body)?.len();

    // Blueberry, the release binary, embedded default.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = Killed(
        Command::new(
            std::env::var("BENCH_BINARY")
                .unwrap_or_else(|_| env!("CARGO_BIN_EXE_blueberry").to_owned()),
        )
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
            // One repository at line rate: the per-repository limit would be what is measured.
            "--webhook-rate",
            "0",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("BLUEBERRY_BOOTSTRAP_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?,
    );
    wait_up(&format!("{url}/healthz")).await?;
    let http = reqwest::Client::new();
    let auth = format!("Bearer {TOKEN}");
    let cs: Value = http
        .post(format!("{url}/api/config-sets"))
        .header("authorization", &auth)
        .json(&json!({"name": "web", "repo_url": "https://e.com/r.git", "path": "helm/environment", "target_revision": "main"}))
        .send().await?.json().await?;
    let repo: Value = http
        .post(format!("{url}/api/repositories"))
        .header("authorization", &auth)
        .json(&json!({"name": "shop", "gitlab_project_id": 15, "path_with_namespace": "acme/shop", "config_set_id": cs["id"]}))
        .send().await?.json().await?;
    let secret = repo["webhook_secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let ours = script(
        dir.path(),
        &body,
        &[
            ("Content-Type", "application/json"),
            ("X-Gitlab-Event", "Merge Request Hook"),
            (SECRET_HEADER, &secret),
        ],
    )?;
    let blueberry = wrk(&format!("{url}/webhooks/gitlab"), &ours)?;

    // adnanh/webhook with the equivalent token rule.
    let generic = if have("webhook") {
        let port = free_port();
        let hooks = dir.path().join("hooks.json");
        std::fs::write(
            &hooks,
            serde_json::to_string(&json!([{
                "id": "gitlab", "execute-command": "/bin/true",
                "trigger-rule": {"match": {"type": "value", "value": secret,
                    "parameter": {"source": "header", "name": SECRET_HEADER}}}
            }]))?,
        )?;
        let _webhook = Killed(
            Command::new("webhook")
                .args(["-hooks"])
                .arg(&hooks)
                .args(["-ip", "127.0.0.1", "-port", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
        let url = format!("http://127.0.0.1:{port}/hooks/gitlab");
        wait_up(&url).await?;
        let theirs = script(
            dir.path(),
            &body,
            &[
                ("Content-Type", "application/json"),
                (SECRET_HEADER, &secret),
            ],
        )?;
        Some(wrk(&url, &theirs)?)
    } else {
        None
    };

    println!(
        "webhook ingest: a {size}-byte GitLab merge request event, a unique X-Gitlab-Event-UUID per request, wrk -t{} -c{} -d{}s on loopback",
        env_or("BENCH_THREADS", 2),
        env_or("BENCH_CONNECTIONS", 64),
        env_or("BENCH_SECONDS", 10)
    );
    println!("| receiver | req/s | p50 | p99 | errors | answers |");
    println!("|---|---|---|---|---|---|");
    println!(
        "{}",
        row(
            "Blueberry `POST /webhooks/gitlab`, embedded default (each 202 committed)",
            &blueberry
        )
    );
    match &generic {
        Some(g) => {
            println!(
                "{}",
                row(
                    "adnanh/webhook (token rule, runs /bin/true, persists nothing)",
                    g
                )
            );
            println!(
                "Blueberry / adnanh/webhook: {:.2}x",
                blueberry.rps / g.rps.max(1.0)
            );
        }
        None => println!("(adnanh/webhook not installed: apt-get install webhook)"),
    }
    Ok(())
}
