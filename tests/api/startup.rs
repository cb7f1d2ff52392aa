//! Start-up errors people meet: each names the flag they used, the path involved and the fix,
//! is printed once, and comes before anything else starts.

use std::process::{Command, Stdio};

use crate::helpers::{ProcessGroup, free_port, wait_http, wait_until};

/// Runs `blueberry serve` with `args`; returns its exit success and what it printed.
fn serve(args: &[&str]) -> (bool, String) {
    let listen: &[&str] = if args.contains(&"--listen") {
        &[]
    } else {
        &["--listen", "127.0.0.1:0"]
    };
    let out = Command::new(env!("CARGO_BIN_EXE_blueberry"))
        .arg("serve")
        .args(["--log-format", "text"])
        .args(listen)
        .args(args)
        .env_remove("BLUEBERRY_BOOTSTRAP_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn once(text: &str, needle: &str) {
    assert_eq!(
        text.matches(needle).count(),
        1,
        "{needle:?} once in:\n{text}"
    );
}

#[test]
fn start_up_errors_name_the_flag_the_path_and_the_fix_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let file = file.to_str().unwrap();

    let (ok, text) = serve(&["--data-dir", file]);
    assert!(!ok);
    once(&text, &format!("--data-dir {file} is a file, not a folder"));
    once(&text, "error:");

    // A database that cannot be opened for writing (here: a folder where the file should be;
    // as root, file permissions would not stop the process).
    let blocked = dir.path().join("blocked");
    std::fs::create_dir_all(blocked.join("blueberry.sqlite3")).unwrap();
    let blocked = blocked.to_str().unwrap();
    let (ok, text) = serve(&["--data-dir", blocked]);
    assert!(!ok);
    once(
        &text,
        &format!("opening the database {blocked}/blueberry.sqlite3 (--data-dir {blocked})"),
    );
    once(&text, "error:");

    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let kubeconfig = dir.path().join("nope.yaml");
    let kubeconfig = kubeconfig.to_str().unwrap();
    let (ok, text) = serve(&["--data-dir", data, "--kubeconfig", kubeconfig]);
    assert!(!ok);
    once(&text, kubeconfig);
    assert!(
        text.contains("no such file") && text.contains("leave --kubeconfig out"),
        "{text}"
    );
    assert!(!text.contains('"'), "the path is not quoted: {text}");

    let (ok, text) = serve(&["--data-dir", data, "--bootstrap-token", "short"]);
    assert!(!ok);
    once(
        &text,
        "--bootstrap-token (BLUEBERRY_BOOTSTRAP_TOKEN) must start with `bb_`",
    );
    assert!(!text.contains("SIMULATED"), "nothing started first: {text}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let (ok, text) = serve(&["--data-dir", data, "--listen", &port]);
    assert!(!ok);
    once(&text, &format!("--listen {port}"));
    assert!(text.contains("another server using that port"), "{text}");
    assert!(
        !text.contains("SIMULATED"),
        "the port is checked first: {text}"
    );
}

/// `blueberry serve` on a free port and `dir/data`, its standard error in `log`; ready to
/// answer when it returns.
async fn serve_logging(
    dir: &std::path::Path,
    log: &std::path::Path,
    env: &[(&str, &str)],
) -> (ProcessGroup, u16) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blueberry"));
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("BLUEBERRY_BOOTSTRAP_TOKEN")
        .env_remove("BLUEBERRY_LOG_FORMAT")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    let server = ProcessGroup::spawn(&mut cmd).unwrap();
    wait_http(&format!("http://127.0.0.1:{port}/healthz")).await;
    (server, port)
}

#[tokio::test]
async fn a_restart_says_how_to_get_a_token_again() {
    let dir = tempfile::tempdir().unwrap();
    for (run, wanted) in [
        ("first", "created an admin token"),
        (
            "second",
            "blueberry token create --name me --role admin --login-link",
        ),
    ] {
        let log = dir.path().join(format!("{run}.log"));
        let (server, _) = serve_logging(dir.path(), &log, &[]).await;
        drop(server);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains(wanted), "{run} start: {text}");
    }
}

/// `blueberry serve 2> file`: JSON lines without colour codes, each request's id in its log
/// lines and in its `X-Request-Id` answer.
#[tokio::test]
async fn logs_to_a_file_are_json_lines_that_carry_request_ids() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let (server, port) = serve_logging(
        dir.path(),
        &log,
        &[
            // No first-start banner: that one is for a person at a terminal.
            ("BLUEBERRY_BOOTSTRAP_TOKEN", crate::helpers::ADMIN_TOKEN),
            ("RUST_LOG", "info,tower_http=debug,blueberry::worker=debug"),
        ],
    )
    .await;
    let answer = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .unwrap();
    let id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let kept = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .header("x-request-id", "ci-job-42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        kept.headers()["x-request-id"],
        "ci-job-42",
        "a caller's id is kept"
    );
    // A lifecycle: its log lines name the environment and the attempt.
    let api = crate::helpers::client_with(crate::helpers::ADMIN_TOKEN);
    let base = format!("http://127.0.0.1:{port}");
    let cs: serde_json::Value = api
        .post(format!("{base}/api/config-sets"))
        .json(&serde_json::json!({"name": "web", "repo_url": "https://e.com/r.git", "path": "p", "target_revision": "main"}))
        .send().await.unwrap().json().await.unwrap();
    let repo: serde_json::Value = api
        .post(format!("{base}/api/repositories"))
        .json(&serde_json::json!({"name": "shop", "gitlab_project_id": 15, "path_with_namespace": "acme/shop", "config_set_id": cs["id"]}))
        .send().await.unwrap().json().await.unwrap();
    let created = api
        .post(format!("{base}/api/environments"))
        .json(&serde_json::json!({"name": "demo", "repository_id": repo["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let lifecycle_logged = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(r#""env_id":"demo-shop""#) && l.contains(r#""attempt":1"#))
    };
    let waited = wait_until(std::time::Duration::from_secs(10), lifecycle_logged).await;
    drop(server);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains('\u{1b}'), "no escape codes in a file");
    let mut lines = 0;
    for line in text.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        lines += 1;
    }
    assert!(lines > 3, "{text}");
    assert!(text.contains(&id), "the request id is in the log: {text}");
    assert!(
        waited.is_ok(),
        "lifecycle lines carry the environment and the attempt: {text}"
    );
}

/// Transparent huge pages are off for the server (they kept whole 2 MB pages of mimalloc's
/// arena resident for single allocations). Kernels before 6.x do not report it; then there is
/// nothing to check.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_server_runs_without_transparent_huge_pages() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let (server, _) = serve_logging(dir.path(), &log, &[]).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.0.id())).unwrap();
    if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
}
