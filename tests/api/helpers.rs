//! `TestApp`: the real application on port 0 with a fresh data dir, its in-process simulated
//! cluster, and one method per endpoint.
//!
//! Long on purpose: `TestApp` has one method per endpoint the tests call; one short method each.

use std::{sync::Arc, time::Duration};

use blueberry::{
    app::{Adapt, Application},
    clock::OffsetClock,
    config::Config,
    service::Context,
    sim::SimCluster,
};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::{sync::oneshot, task::JoinHandle};

pub use crate::sse_client::{SseClient, SseEvent};

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub ctx: Context,
    pub sim: SimCluster,
    pub clock: Arc<OffsetClock>,
    pub config: Config,
    pub dir: Arc<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The admin token every TestApp is bootstrapped with.
pub const ADMIN_TOKEN: &str = "bb_test-admin-0123456789abcdef0123456789abcdef";

/// An HTTP client that sends `token` on every request.
pub fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Settings that keep tests fast: a quick simulated Argo CD, short retry delays.
pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        sim_ready_delay_ms: 150,
        retry_base_delay_ms: 100,
        provision_timeout_secs: 20,
        reaper_interval_secs: 1,
        job_lease_secs: 10,
        bootstrap_token: Some(ADMIN_TOKEN.to_owned().into()),
        // The GitLab budget has its own tests; elsewhere it must not slow the fake GitLab.
        gitlab_requests_per_second: 10_000,
        ..Config::default()
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_adapted(adjust, Adapt::default()).await
    }

    /// Spawns with adapters wrapped by `adapt` (fault injection).
    pub async fn spawn_adapted(adjust: impl FnOnce(&mut Config), adapt: Adapt) -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let mut config = test_config(dir.path());
        adjust(&mut config);
        Self::start_adapted(config, dir, adapt).await
    }

    /// Starts an app on an existing data dir (restarts).
    pub async fn start(config: Config, dir: Arc<tempfile::TempDir>) -> Self {
        Self::start_adapted(config, dir, Adapt::default()).await
    }

    async fn start_adapted(config: Config, dir: Arc<tempfile::TempDir>, adapt: Adapt) -> Self {
        let clock = Arc::new(OffsetClock::default());
        let app = Application::build_adapted(config.clone(), clock.clone(), adapt)
            .await
            .expect("app builds");
        let (url, ctx, sim) = (
            app.url(),
            app.context().clone(),
            app.sim().expect("simulated cluster").clone(),
        );
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Self {
            url,
            client: client_with(ADMIN_TOKEN),
            ctx,
            sim,
            clock,
            config,
            dir,
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    /// Graceful shutdown, waiting until everything stopped.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.client
            .put(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Response {
        self.client
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client
            .delete(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    /// A new API token with `role`, minted by the admin; returns its secret.
    pub async fn token(&self, role: &str) -> String {
        let r = self
            .post(
                "/api/tokens",
                &json!({"name": format!("{role}-token"), "role": role}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["token_secret"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates the config set and repository most tests need; returns the repository id.
    pub async fn seed(&self) -> String {
        let cs = self.create_config_set("web").await;
        let repo = self
            .create_repository("shop", 15, cs["id"].as_str().unwrap())
            .await;
        repo["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_config_set(&self, name: &str) -> Value {
        let r = self
            .post(
                "/api/config-sets",
                &json!({"name": name, "repo_url": "https://gitlab.example.com/acme/shop.git",
                        "path": "helm/environment", "target_revision": "main",
                        "values": {"backend": {"replicas": 1}}}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json().await.unwrap()
    }

    pub async fn create_repository(
        &self,
        name: &str,
        project_id: u64,
        config_set_id: &str,
    ) -> Value {
        let r = self
            .post(
                "/api/repositories",
                &json!({"name": name, "gitlab_project_id": project_id,
                        "path_with_namespace": format!("acme/{name}"), "config_set_id": config_set_id}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
        r.json().await.unwrap()
    }

    /// Creates an environment and returns its body (asserting 201).
    pub async fn create_environment(&self, name: &str, repository_id: &str) -> Value {
        let r = self
            .post(
                "/api/environments",
                &json!({"name": name, "repository_id": repository_id}),
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
        r.json().await.unwrap()
    }

    pub async fn environment(&self, id: &str) -> Value {
        let r = self.get(&format!("/api/environments/{id}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    /// Polls until the environment exists and has `status`, failing after `within`.
    pub async fn wait_for_status(&self, id: &str, status: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let r = self.get(&format!("/api/environments/{id}")).await;
            let env: Value = if r.status() == StatusCode::NOT_FOUND {
                Value::Null
            } else {
                r.json().await.unwrap()
            };
            if env["status"] == status {
                return env;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{id} did not become {status} within {within:?}; it is {} ({})",
                env["status"],
                env["status_message"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn events(&self, id: &str) -> Vec<Value> {
        self.get(&format!("/api/environments/{id}/events"))
            .await
            .json()
            .await
            .unwrap()
    }

    /// Names of the Applications in the simulated cluster.
    pub fn applications(&self) -> Vec<String> {
        self.sim.application_names()
    }
}

/// Asserts a problem+json answer with `status` whose detail mentions `mentions`.
pub async fn assert_problem(r: Response, status: StatusCode, mentions: &str) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(mentions),
        "{detail:?} should mention {mentions:?}"
    );
    assert_eq!(body["status"], status.as_u16());
    body
}

/// A child process killed (and reaped) when dropped, so no test leaves one behind.
pub struct Process(pub std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Tests that load the machine most (real Chromium; several server processes on the emulators)
/// take turns, so that on a 2-core CI machine one does not starve another past its deadline.
pub async fn heavy_turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// A child started as the leader of its own process group; dropping it kills the whole group,
/// so what it started (ChromeDriver's Chromium) goes too, even when a test panics.
pub struct ProcessGroup(pub std::process::Child);

impl ProcessGroup {
    pub fn spawn(command: &mut std::process::Command) -> std::io::Result<Self> {
        use std::os::unix::process::CommandExt;
        command.process_group(0).spawn().map(Self)
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `url` answers with a success status.
pub async fn wait_http(url: &str) {
    for _ in 0..300 {
        if reqwest::get(url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered");
}

/// Polls `check` every 20 ms until it holds; Ok(how long it took), or Err after `within`.
pub async fn wait_until(
    within: Duration,
    mut check: impl FnMut() -> bool,
) -> Result<Duration, Duration> {
    let start = tokio::time::Instant::now();
    loop {
        if check() {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= within {
            return Err(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
