//! A full run at debug log level leaves no token, secret or cookie value in the logs, and the
//! store holds only hashes.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, client_with, free_port};

#[tokio::test]
async fn no_secret_reaches_the_logs_and_only_hashes_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_blueberry"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
            "--sim-ready-delay-ms",
            "100",
        ])
        .arg("--data-dir")
        .arg(&data)
        .env("RUST_LOG", "debug")
        .env("BLUEBERRY_BOOTSTRAP_TOKEN", ADMIN_TOKEN)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if reqwest::get(format!("{url}/healthz")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let http = client_with(ADMIN_TOKEN);
    let cs: Value = http.post(format!("{url}/api/config-sets"))
        .json(&json!({"name": "web", "repo_url": "https://e.com/r.git", "path": "p", "target_revision": "main"}))
        .send().await.unwrap().json().await.unwrap();
    let repo: Value = http.post(format!("{url}/api/repositories"))
        .json(&json!({"name": "shop", "gitlab_project_id": 15, "path_with_namespace": "acme/shop", "config_set_id": cs["id"]}))
        .send().await.unwrap().json().await.unwrap();
    let webhook_secret = repo["webhook_secret"].as_str().unwrap().to_owned();
    let minted: Value = http
        .post(format!("{url}/api/tokens"))
        .json(&json!({"name": "ci", "role": "developer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token_secret = minted["token_secret"].as_str().unwrap().to_owned();
    // A webhook with the secret, a login by URL (token in the query string) and by form.
    let fixture = std::fs::read_to_string(format!(
        "{}/fixtures/gitlab/merge_request_open.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let hook = reqwest::Client::new()
        .post(format!("{url}/webhooks/gitlab"))
        .header("content-type", "application/json")
        .header("x-gitlab-token", &webhook_secret)
        .body(fixture)
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 202);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A token in a link is refused (it would sit in logs and history); the form takes it.
    let by_url = browser
        .get(format!("{url}/login?token={token_secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_url.status(), 400);
    assert!(by_url.headers().get("set-cookie").is_none());
    let by_form = browser
        .post(format!("{url}/login"))
        .form(&[("token", token_secret.as_str())])
        .send()
        .await
        .unwrap();
    let cookie = session_cookie(&by_form);
    browser
        .get(format!("{url}/api/me"))
        .header("cookie", format!("bb_session={cookie}"))
        .send()
        .await
        .unwrap();
    let bad = client_with("bb_wrong-guess-0123456789abcdef0123456789abcdef")
        .get(format!("{url}/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    // An operator mints one from the command line on the same data dir, with a login link.
    let cli = Command::new(env!("CARGO_BIN_EXE_blueberry"))
        .args([
            "token",
            "create",
            "--name",
            "ops",
            "--role",
            "viewer",
            "--login-link",
        ])
        .args(["--public-url", &url])
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let printed = String::from_utf8(cli.stdout).unwrap();
    let [cli_secret, link] = printed.lines().collect::<Vec<_>>()[..] else {
        panic!("the CLI prints the secret and the link: {printed}")
    };
    let cli_secret = cli_secret.to_owned();
    assert!(cli_secret.starts_with("bb_"));
    assert_eq!(
        client_with(&cli_secret)
            .get(format!("{url}/api/me"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the CLI token works"
    );
    let code = link
        .strip_prefix(&format!("{url}/login?code="))
        .unwrap_or_else(|| panic!("a login link on this server: {link}"))
        .to_owned();
    let page = browser.get(link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(page.text().await.unwrap().contains(r#"id="login-link""#));
    let linked = browser
        .post(format!("{url}/login"))
        .form(&[("code", code.as_str())])
        .send()
        .await
        .unwrap();
    let linked_cookie = session_cookie(&linked);
    let me: Value = browser
        .get(format!("{url}/api/me"))
        .header("cookie", format!("bb_session={linked_cookie}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["name"], "token:ops",
        "the link logs in as the token it was made for"
    );
    for _ in 0..100 {
        let env = http
            .get(format!("{url}/api/environments/pr-42-shop"))
            .send()
            .await
            .unwrap();
        if env.status() == 200 && env.json::<Value>().await.unwrap()["status"] == "ready" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(logs.lines().count() > 20, "the run logged (debug level)");
    for (what, secret) in [
        ("bootstrap token", ADMIN_TOKEN),
        ("webhook secret", &webhook_secret),
        ("minted token", &token_secret),
        ("session cookie", &cookie),
        ("CLI token", &cli_secret),
        ("login code", &code),
        ("session cookie from the link", &linked_cookie),
    ] {
        assert!(!logs.contains(secret), "the {what} appears in the logs");
    }
    let db = std::fs::read(data.join("blueberry.sqlite3")).unwrap();
    let db = String::from_utf8_lossy(&db);
    for secret in [
        ADMIN_TOKEN,
        &webhook_secret,
        &token_secret,
        &cli_secret,
        &code,
    ] {
        assert!(!db.contains(secret), "a secret is stored in clear");
    }
}

fn session_cookie(answer: &reqwest::Response) -> String {
    let set = answer.headers()["set-cookie"].to_str().unwrap();
    let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
    assert_eq!(name, "bb_session");
    value.to_owned()
}

/// `{:?}` of every record that holds a secret shows none of it (one `?repo` in a log line
/// would otherwise leak a webhook signing key).
#[test]
fn every_record_formats_without_its_secrets() {
    use blueberry::{
        config::Config,
        domain::{Repository, Secret},
        service::catalog::RepositoryInput,
    };
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    const KEY: &str = "whsec_c2lnbmluZy1rZXktc2lnbmluZy1rZXk=";
    let repo: Repository = serde_json::from_value(json!({
        "id": "r1", "name": "shop", "gitlab_project_id": 1, "path_with_namespace": "acme/shop",
        "config_set_id": null, "filters": {"skip_drafts": false, "include_labels": [],
            "exclude_labels": [], "target_branch_pattern": null, "allow_forks": false},
        "webhook_secret_hash": "ab", "webhook_signing_key": KEY,
        "created_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00Z"
    }))
    .unwrap();
    assert_eq!(repo.webhook_signing_key.as_ref().unwrap().expose(), KEY);
    let input = RepositoryInput {
        name: "shop".into(),
        gitlab_project_id: 1,
        path_with_namespace: "acme/shop".into(),
        config_set_id: None,
        filters: None,
        webhook_signing_key: Some(Secret::new(KEY)),
        lifetime: None,
        max_environments: None,
        sleep_after_idle_minutes: None,
        sleep_schedule: None,
    };
    let config = Cli::try_parse_from([
        "blueberry",
        "--session-key",
        "session-key-session-key-session-key-0123",
        "--gitlab-url",
        "https://gitlab.example.com",
        "--gitlab-token",
        "glpat-secret-gitlab-token",
        "--redis-url",
        "redis://:hunter2@localhost:6379",
    ])
    .unwrap()
    .config;
    for (what, text) in [
        ("Repository", format!("{repo:?}")),
        ("RepositoryInput", format!("{input:?}")),
        ("Config", format!("{config:?}")),
    ] {
        for secret in [
            KEY,
            "session-key-session-key",
            "glpat-secret-gitlab-token",
            "hunter2",
        ] {
            assert!(!text.contains(secret), "{what} shows a secret: {text}");
        }
    }
}
