//! A TestApp connected to a fake GitLab, with GitLab's webhook events built from the fixtures:
//! any merge request, commit, action and time, and any comment.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    fake_gitlab::FakeGitLab,
    helpers::{TestApp, wait_until},
};

/// The GitLab project the fixtures describe.
pub const PROJECT: u64 = 15;
/// A Developer of the project (as `FakeGitLab` members).
pub const DEVELOPER: u64 = 7;

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/fixtures/gitlab/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A commit sha made from a number, so tests can name many commits.
pub fn sha(n: u64) -> String {
    format!("{n:040x}")
}

/// GitLab's time format, `seconds` after a fixed start.
pub fn gitlab_time(seconds: u64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z").unwrap()
        + chrono::Duration::seconds(seconds as i64);
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A merge request event: `action` on MR `iid` whose head is `head`, as of `at` seconds.
pub fn merge_request_event(action: &str, iid: u64, head: &str, at: u64) -> Value {
    let mut ev = fixture("merge_request_open.json");
    let a = &mut ev["object_attributes"];
    a["iid"] = json!(iid);
    a["action"] = json!(action);
    a["state"] = json!(match action {
        "close" => "closed",
        "merge" => "merged",
        _ => "opened",
    });
    a["url"] = json!(format!(
        "https://gitlab.example.com/acme/shop/-/merge_requests/{iid}"
    ));
    a["title"] = json!(format!("Change number {iid}"));
    a["source_branch"] = json!(format!("feature/{iid}"));
    a["updated_at"] = json!(gitlab_time(at));
    a["last_commit"]["id"] = json!(head);
    a["last_commit"]["timestamp"] = json!(gitlab_time(at));
    if action == "update" {
        a["oldrev"] = json!(sha(0));
    }
    ev
}

/// A label-only update (no new commits).
pub fn label_update_event(iid: u64, head: &str, at: u64) -> Value {
    let mut ev = merge_request_event("update", iid, head, at);
    ev["object_attributes"]
        .as_object_mut()
        .unwrap()
        .remove("oldrev");
    ev
}

/// A comment `text` on MR `iid` by `user_id`, GitLab note id `note_id`.
pub fn note_event(iid: u64, note_id: u64, text: &str, user_id: u64) -> Value {
    let mut ev = fixture("note_extend_24.json");
    ev["object_attributes"]["id"] = json!(note_id);
    ev["object_attributes"]["note"] = json!(text);
    ev["merge_request"]["iid"] = json!(iid);
    ev["user"]["id"] = json!(user_id);
    ev
}

/// A TestApp whose repository `shop` is GitLab project 15 on a fake GitLab.
pub struct Project {
    pub app: TestApp,
    pub gitlab: FakeGitLab,
    pub secret: String,
}

impl Project {
    pub async fn start(adjust: impl FnOnce(&mut blueberry::config::Config)) -> Self {
        Self::start_adapted(adjust, blueberry::app::Adapt::default()).await
    }

    /// Starts with adapters wrapped by `adapt` (fault injection).
    pub async fn start_adapted(
        adjust: impl FnOnce(&mut blueberry::config::Config),
        adapt: blueberry::app::Adapt,
    ) -> Self {
        let gitlab = FakeGitLab::start(&[(DEVELOPER, 30)]).await;
        let uri = gitlab.uri();
        let app = TestApp::spawn_adapted(
            |c| {
                c.gitlab_url = Some(uri);
                c.gitlab_token = Some("glpat-test-token".to_owned().into());
                adjust(c);
            },
            adapt,
        )
        .await;
        let cs = app.create_config_set("web").await;
        let repo = app
            .create_repository("shop", PROJECT, cs["id"].as_str().unwrap())
            .await;
        let secret = repo["webhook_secret"].as_str().unwrap().to_owned();
        Self {
            app,
            gitlab,
            secret,
        }
    }

    /// Delivers `payload` as GitLab would, with delivery id `uuid`.
    pub async fn deliver(&self, payload: &Value, uuid: &str) -> reqwest::Response {
        let event = match payload["object_kind"].as_str() {
            Some("note") => "Note Hook",
            _ => "Merge Request Hook",
        };
        self.app
            .client
            .post(format!("{}/webhooks/gitlab", self.app.url))
            .header("content-type", "application/json")
            .header("x-gitlab-event", event)
            .header("x-gitlab-token", &self.secret)
            .header("x-gitlab-event-uuid", uuid)
            .json(payload)
            .send()
            .await
            .unwrap()
    }

    /// Delivers and expects `202 Accepted`.
    pub async fn accept(&self, payload: &Value, uuid: &str) {
        let r = self.deliver(payload, uuid).await;
        assert_eq!(
            r.status(),
            StatusCode::ACCEPTED,
            "{}",
            r.text().await.unwrap()
        );
    }

    /// Waits until environment `id` is `status` at commit `sha`.
    pub async fn wait_at(&self, id: &str, status: &str, sha: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let r = self.app.get(&format!("/api/environments/{id}")).await;
            let env: Value = if r.status() == StatusCode::OK {
                r.json().await.unwrap()
            } else {
                Value::Null
            };
            if env["status"] == status && env["git"]["sha"] == sha {
                return env;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{id} not {status} at {sha} within {within:?}: {} at {} ({})",
                env["status"],
                env["git"]["sha"],
                env["status_message"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a note on MR `iid` contains `text`.
    pub async fn wait_for_note(&self, iid: u64, text: &str, within: Duration) -> String {
        let mut found = None;
        wait_until(within, || {
            found = self
                .gitlab
                .state()
                .notes
                .get(&(PROJECT, iid))
                .and_then(|n| n.iter().find(|n| n.body.contains(text)))
                .map(|n| n.body.clone());
            found.is_some()
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no note on !{iid} with {text:?} within {within:?}: {:?}",
                self.gitlab.state().notes.get(&(PROJECT, iid))
            )
        });
        found.unwrap()
    }
}
