//! The web UI in real headless Chromium (Debian's `chromium` + `chromium-driver`), driven over
//! WebDriver with fantoccini: log in with a token, connect a repository, create an environment
//! from the form, watch it turn ready on the list without a reload, open its status page,
//! extend it, destroy it, see it terminated. Screenshots land in
//! `target/tmp/screenshots/` (`CARGO_TARGET_TMPDIR`).
//!
//! Long on purpose: one journey in a real browser, step by step, and the WebDriver set-up it needs.

use std::{path::PathBuf, process::Command, time::Duration};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, ProcessGroup, TestApp, free_port, heavy_turn, wait_http};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    pub client: Client,
    _driver: ProcessGroup,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Self {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: install Debian's chromium and chromium-driver \
                 (apt-get install -y chromium chromium-driver; .ci/run does this)"
            );
        }
        let port = free_port();
        let driver = ProcessGroup::spawn(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null()),
        )
        .expect("chromedriver starts");
        wait_http(&format!("http://127.0.0.1:{port}/status")).await;
        let profile = tempfile::tempdir().unwrap();
        // The flags this machine needs: no sandbox as root, and no background connections
        // (the network is closed; they would only fail and slow the start).
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            },
            "unhandledPromptBehavior": "ignore",
        });
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session in Chromium");
        Self {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn select(&self, css: &str, label: &str) {
        self.find(css)
            .await
            .select_by_label(label)
            .await
            .unwrap_or_else(|e| panic!("{css} has no option {label:?}: {e}"));
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Waits until `css` exists and its text contains `wanted`.
    pub async fn wait_text(&self, css: &str, wanted: &str, within: Duration) -> String {
        let deadline = tokio::time::Instant::now() + within;
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            if let Ok(e) = self.client.find(Locator::Css(css)).await
                && let Ok(t) = e.text().await
            {
                if t.contains(wanted) {
                    return t;
                }
                last = t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{css} never showed {wanted:?}; last text {last:?}");
    }

    /// Clicks a button guarded by `hx-confirm` and accepts the browser's confirmation.
    pub async fn click_and_confirm(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
        for _ in 0..50 {
            if self.client.accept_alert().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("clicking {css} asked for no confirmation");
    }

    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await.unwrap()).unwrap();
        path
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_runs_an_environments_whole_life_in_chromium() {
    let _turn = heavy_turn().await;
    // Slow enough that the list shows `pending` before `ready`.
    let app = TestApp::spawn_with(|c| c.sim_ready_delay_ms = 2_500).await;
    let browser = Browser::start().await;
    let b = &browser;
    let url = |path: &str| format!("{}{path}", app.url);

    // Pages send visitors without a session to the login page, and back afterwards.
    b.client.goto(&url("/environments")).await.unwrap();
    b.find("#token").await;
    assert!(
        b.client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains("/login?next=")
    );
    b.screenshot("login").await;
    b.fill("#token", "bb_not-a-real-token").await;
    b.find("form[action='/login'] button")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("#login-error", "not valid", Duration::from_secs(5))
        .await;
    b.fill("#token", ADMIN_TOKEN).await;
    b.find("form[action='/login'] button")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("h1", "Environments", Duration::from_secs(5))
        .await;
    b.wait_text(
        "#empty-state",
        "No environments yet",
        Duration::from_secs(5),
    )
    .await;
    b.screenshot("environments-empty").await;
    assert!(
        b.text("#simulated-banner")
            .await
            .contains("Simulated cluster")
    );

    // A config set and a repository, from their forms.
    b.client.goto(&url("/config-sets")).await.unwrap();
    b.fill("#name", "web").await;
    b.fill(
        "#repo_url",
        "https://gitlab.example.com/platform/charts.git",
    )
    .await;
    b.fill("#source_value", "helm/environment").await;
    b.fill("#values", r#"{"backend": {"replicas": 1}}"#).await;
    b.find("form[action='/config-sets'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text(".flash", "Created", Duration::from_secs(5))
        .await;

    b.client.goto(&url("/repositories")).await.unwrap();
    b.fill("#name", "shop").await;
    b.fill("#gitlab_project_id", "15").await;
    b.fill("#path_with_namespace", "acme/shop").await;
    b.select("#config_set_id", "web").await;
    b.find("form[action='/repositories'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_text("h1", "acme/shop is connected", Duration::from_secs(5))
        .await;
    let secret = b
        .find("#webhook-secret")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(secret.starts_with("bbwh_"), "{secret}");

    // An environment from the create form: first a mistake, shown next to its field.
    b.client.goto(&url("/environments/new")).await.unwrap();
    b.fill("#name", "Not A Label").await;
    b.select("#repository_id", "acme/shop").await;
    b.find("#create").await.click().await.unwrap();
    b.wait_text("#name-error", "", Duration::from_secs(5)).await;
    assert_eq!(
        b.find("#name")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    b.fill("#name", "demo").await;
    b.fill("#ttl_hours", "4").await;
    b.find("#create").await.click().await.unwrap();
    b.wait_text("h1", "demo-shop", Duration::from_secs(5)).await;

    // The list turns the row ready by itself: the page is never reloaded.
    b.client.goto(&url("/environments")).await.unwrap();
    let row = "#env-demo-shop";
    b.find(row).await;
    b.client
        .execute("window.__notReloaded = true; return true;", vec![])
        .await
        .unwrap();
    let first = b.find(row).await.attr("data-status").await.unwrap();
    assert_eq!(
        first.as_deref(),
        Some("pending"),
        "the simulated Argo CD takes 2.5 s"
    );
    b.wait_text(&format!("{row} .status"), "ready", Duration::from_secs(20))
        .await;
    let same_page = b
        .client
        .execute("return window.__notReloaded === true;", vec![])
        .await
        .unwrap();
    assert_eq!(
        same_page,
        json!(true),
        "the list was reloaded instead of updated"
    );
    let list_shot = b.screenshot("environments-list").await;

    // The status page, from the list.
    b.find(&format!("{row} a")).await.click().await.unwrap();
    b.wait_text("#env-status", "ready", Duration::from_secs(5))
        .await;
    assert!(b.text("#h-k8s + dl").await.contains("Healthy"));
    let before = b.text("#time-left").await;
    assert!(
        before.starts_with("in 3 h") || before.starts_with("in 4 h"),
        "{before}"
    );
    let status_shot = b.screenshot("environment-status").await;

    // Extend: confirmed in the browser, applied without leaving the page.
    b.fill("#extend-hours", "10").await;
    b.click_and_confirm("#extend").await;
    b.wait_text(
        "#env-detail .flash",
        "Expiry extended",
        Duration::from_secs(5),
    )
    .await;
    let after = b.text("#time-left").await;
    assert!(
        after.starts_with("in 13 h") || after.starts_with("in 14 h"),
        "{after}"
    );
    let api = app.environment("demo-shop").await;
    assert_eq!(api["status"], "ready");

    // Destroy: deleting, then terminated, shown live.
    b.click_and_confirm("#destroy").await;
    b.wait_text("#env-status", "terminated", Duration::from_secs(20))
        .await;
    assert!(b.text(".timeline").await.contains("terminated"));
    b.screenshot("environment-terminated").await;

    // A phone-sized window still shows the status and the timeline.
    b.client.set_window_size(390, 844).await.unwrap();
    b.client.refresh().await.unwrap();
    b.wait_text("#env-status", "terminated", Duration::from_secs(5))
        .await;
    b.screenshot("environment-status-phone").await;

    for shot in [list_shot, status_shot] {
        assert!(
            std::fs::metadata(&shot).unwrap().len() > 10_000,
            "{shot:?} is empty"
        );
    }
    browser.client.close().await.unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_merge_request_titles_render_as_text_in_chromium() {
    let _turn = heavy_turn().await;
    let app = TestApp::spawn().await;
    let repo = app.seed().await;
    let hostile = crate::ui::hostile_environment(&app, &repo).await;
    let browser = Browser::start().await;
    let b = &browser;
    // In through a one-time login link: the code leaves the address bar before the click.
    let tokens: serde_json::Value = app.get("/api/tokens").await.json().await.unwrap();
    let admin_id = tokens[0]["id"].as_str().unwrap();
    let code = app.ctx.sessions.login_code(admin_id).await.unwrap();
    b.client
        .goto(&format!(
            "{}/login?code={code}&next=/environments/{hostile}",
            app.url
        ))
        .await
        .unwrap();
    b.find("#login-link button").await;
    let address = b.client.current_url().await.unwrap();
    assert!(!address.as_str().contains(&code), "{address}");
    assert!(address.as_str().contains("next="), "{address}");
    b.find("#login-link button").await.click().await.unwrap();
    let title = b.text(".mr-title").await;
    assert_eq!(title, crate::ui::HOSTILE_TITLE);
    assert!(
        b.client.get_alert_text().await.is_err(),
        "a script from the title ran"
    );
    let injected = b
        .client
        .execute(
            "return document.querySelectorAll('main script, main img').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(injected, json!(0));
    browser.client.close().await.unwrap();
    app.stop().await;
}
