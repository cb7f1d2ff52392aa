//! Restarts: graceful on the same data dir, and kill -9 mid-provision.

use std::{process::Command, sync::Arc, time::Duration};

use serde_json::{Value, json};

use crate::helpers::{Process, TestApp, free_port, wait_http};

#[tokio::test]
async fn restarting_on_the_same_data_dir_keeps_everything() {
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    app.create_environment("demo", &repo).await;
    app.wait_for_status("demo-shop", "ready", Duration::from_secs(10))
        .await;
    let (config, dir) = (app.config.clone(), app.dir.clone());
    app.stop().await;

    let app = TestApp::start(config, dir).await;
    let repos: Value = app.get("/api/repositories").await.json().await.unwrap();
    assert_eq!(repos[0]["id"], repo.as_str());
    assert_eq!(
        app.get("/api/config-sets")
            .await
            .json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The in-process simulated cluster starts empty; the reconciler notices and redeploys (the
    // record still says ready meanwhile: wait for the Application, not the status).
    let redeployed = crate::helpers::wait_until(Duration::from_secs(10), || {
        app.applications() == ["env-demo-shop"]
    })
    .await;
    assert!(redeployed.is_ok(), "{:?}", app.applications());
    let env = app
        .wait_for_status("demo-shop", "ready", Duration::from_secs(10))
        .await;
    assert_eq!(env["name"], "demo");
    assert!(app.events("demo-shop").await.len() >= 4, "history survives");
}

fn serve(data_dir: &std::path::Path, port: u16, kubeconfig: &std::path::Path) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_blueberry"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--retry-base-delay-ms",
                "200",
                "--job-lease-secs",
                "5",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .env("BLUEBERRY_BOOTSTRAP_TOKEN", crate::helpers::ADMIN_TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    )
}

#[tokio::test]
async fn killing_the_server_mid_provision_loses_nothing() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // The cluster outlives Blueberry, as a real one would.
    let kubeconfig = dir.path().join("k.yaml");
    let sim_port = free_port();
    let _sim = Process(
        Command::new(env!("CARGO_BIN_EXE_blueberry"))
            .args([
                "sim-cluster",
                "--listen",
                &format!("127.0.0.1:{sim_port}"),
                "--ready-delay-ms",
                "1500",
                "--kubeconfig-out",
            ])
            .arg(&kubeconfig)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_http(&format!("http://127.0.0.1:{sim_port}/version")).await;
    let data = dir.path().join("data");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut server = serve(&data, port, &kubeconfig);
    wait_http(&format!("{url}/healthz")).await;

    let http = crate::helpers::client_with(crate::helpers::ADMIN_TOKEN);
    let post = |path: &str, body: Value| http.post(format!("{url}{path}")).json(&body).send();
    let cs: Value = post("/api/config-sets", json!({"name": "web", "repo_url": "https://e.com/r.git", "path": "p", "target_revision": "main"}))
        .await.unwrap().json().await.unwrap();
    let repo: Value = post("/api/repositories", json!({"name": "shop", "gitlab_project_id": 1, "path_with_namespace": "a/shop", "config_set_id": cs["id"]}))
        .await.unwrap().json().await.unwrap();
    for i in 0..20 {
        let r = post(
            "/api/environments",
            json!({"name": format!("k-{i}"), "repository_id": repo["id"]}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    // kill -9: no graceful shutdown, leases held, watches open.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    drop(server);

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = serve(&data, port, &kubeconfig);
    wait_http(&format!("{url}/healthz")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let list: Value = http
            .get(format!("{url}/api/environments?limit=100"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = list["items"].as_array().unwrap();
        let ready = items.iter().filter(|e| e["status"] == "ready").count();
        if ready == 20 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {ready} of 20 ready after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let apps: Value = http
        .get(format!(
            "http://127.0.0.1:{sim_port}/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut names: Vec<String> = apps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("env-k-{i}-shop")).collect();
    expected.sort();
    assert_eq!(
        names, expected,
        "exactly one Application per live environment"
    );
}
