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
