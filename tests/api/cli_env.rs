//! `blueberry env …`, the real binary against a running server: its output and its exit codes
//! (0 ready, 1 failed, 2 timed out, 3 bad input, credentials or server).

use std::{process::Output, time::Duration};

use blueberry::sim::FaultMode;

use crate::helpers::{ADMIN_TOKEN, TestApp, free_port};

async fn env(server: &str, token: &str, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_blueberry"));
    cmd.arg("env")
        .args(args)
        .env("BLUEBERRY_SERVER", server)
        .env("BLUEBERRY_TOKEN", token);
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("the CLI returns")
        .unwrap()
}

fn texts(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_creates_waits_lists_and_reports_with_its_exit_codes() {
    let app = TestApp::spawn_with(|c| {
        c.max_attempts = 1;
    })
    .await;
    app.seed().await;
    let url = app.url.clone();

    // Ready: exit 0, the URL printed.
    let o = env(
        &url,
        ADMIN_TOKEN,
        &[
            "create",
            "--repository",
            "shop",
            "--name",
            "demo",
            "--wait",
            "--timeout",
            "30s",
        ],
    )
    .await;
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("demo-shop"), "{out}");
    assert!(
        err.contains("demo-shop is ready"),
        "plain progress lines when not a terminal: {err}"
    );
    assert!(
        !err.contains(ADMIN_TOKEN) && !out.contains(ADMIN_TOKEN),
        "the token is never echoed"
    );
    let o = env(&url, ADMIN_TOKEN, &["url", "demo-shop"]).await;
    assert_eq!(texts(&o).0.trim(), "https://demo-shop.preview.localhost");

    // Tables for people, the API's JSON with --output json.
    let o = env(&url, ADMIN_TOKEN, &["list"]).await;
    let (out, _) = texts(&o);
    assert!(
        out.starts_with("ID ") && out.contains("demo-shop  ready"),
        "{out}"
    );
    let o = env(&url, ADMIN_TOKEN, &["list", "--output", "json"]).await;
    let page: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(page["items"][0]["id"], "demo-shop");

    // Failed: exit 1 with the reason and the last events.
    app.sim
        .set_fault("env-broken-shop", Some(FaultMode::Degraded));
    let o = env(
        &url,
        ADMIN_TOKEN,
        &[
            "create",
            "--repository",
            "shop",
            "--name",
            "broken",
            "--wait",
            "--timeout",
            "40s",
        ],
    )
    .await;
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("progress deadline") && err.contains("last events"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );

    // Timed out: exit 2.
    app.sim.set_fault("env-slow-shop", Some(FaultMode::Stuck));
    env(
        &url,
        ADMIN_TOKEN,
        &["create", "--repository", "shop", "--name", "slow"],
    )
    .await;
    let o = env(&url, ADMIN_TOKEN, &["wait", "slow-shop", "--timeout", "2s"]).await;
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("did not become ready within 2s"), "{err}");

    // Bad input, a bad token, no server: exit 3, one clear line.
    let o = env(
        &url,
        ADMIN_TOKEN,
        &["create", "--repository", "nope", "--name", "x"],
    )
    .await;
    assert_eq!(o.status.code(), Some(3));
    assert!(
        texts(&o)
            .1
            .contains("no repository with the id or name \"nope\"")
    );
    let o = env(&url, "bb_not-a-token-0123456789abcdef0123456789", &["list"]).await;
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.starts_with("error: the server refused the token (401)"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let down = format!("http://127.0.0.1:{}", free_port());
    let o = env(&down, ADMIN_TOKEN, &["list"]).await;
    let (_, err) = texts(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert_eq!(
        err.trim(),
        format!("error: {down} is not reachable: cannot connect")
    );
    app.stop().await;
}

/// Runs the CLI with `args`, `stdin` as its input and the client config at `config`, and none
/// of the server/token variables.
async fn cli(config: &std::path::Path, stdin: &str, args: &[&str]) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_blueberry"));
    cmd.args(args)
        .env_remove("BLUEBERRY_SERVER")
        .env_remove("BLUEBERRY_TOKEN")
        .env("BLUEBERRY_CLIENT_CONFIG", config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the CLI returns")
        .unwrap()
}

#[tokio::test]
async fn login_saves_a_checked_token_for_later_commands_and_logout_forgets_it() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("blueberry/client.json");

    // Without a login there is no token.
    let o = cli(&config, "", &["env", "list", "--server", &app.url]).await;
    assert_eq!(o.status.code(), Some(3));
    assert!(texts(&o).1.contains("blueberry login"), "{}", texts(&o).1);

    // A refused token is not saved.
    let o = cli(
        &config,
        "bb_not_a_real_token\n",
        &["login", "--server", &app.url],
    )
    .await;
    assert_eq!(o.status.code(), Some(3), "{:?}", texts(&o));
    assert!(!config.exists());

    // The token from standard input, checked, saved for its owner only, never printed.
    let o = cli(
        &config,
        &format!("{ADMIN_TOKEN}\n"),
        &["login", "--server", &app.url],
    )
    .await;
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("as ") && out.contains("admin"), "{out}");
    assert!(!out.contains(ADMIN_TOKEN) && !err.contains(ADMIN_TOKEN));
    let mode = std::fs::metadata(&config).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only its owner reads it");

    // Later commands need neither --server nor --token.
    app.create_environment("saved", &repo).await;
    let o = cli(&config, "", &["env", "list", "--output", "json"]).await;
    let (out, err) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("saved-shop"), "{out}");

    // A flag still wins over the file.
    let o = cli(&config, "", &["env", "list", "--token", "bb_wrong"]).await;
    assert_eq!(o.status.code(), Some(3));

    let o = cli(&config, "", &["logout"]).await;
    assert_eq!(o.status.code(), Some(0));
    assert!(!config.exists());
    let o = cli(&config, "", &["env", "list", "--server", &app.url]).await;
    assert_eq!(o.status.code(), Some(3));
}
