//! GitLab: webhooks replayed from `fixtures/gitlab`, wiremock standing in for GitLab's API.
//! The fake GitLab and the app hooked to it are here; a merge request's life and GitLab's
//! outages in `life.rs`; what deliveries are refused or ignored in `deliveries.rs`.

mod deliveries;
mod life;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, path_regex},
};

use crate::helpers::TestApp;

const SHA1: &str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";
const SHA2: &str = "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327";
const SHA3: &str = "562e173be03b8ff2efb05345d12df18815438a4b";
const SIGNING_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/fixtures/gitlab/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A GitLab that accepts everything Blueberry sends; `member_level` is alice's access.
async fn gitlab(member_level: u64) -> MockServer {
    let server = MockServer::start().await;
    let p = "/api/v4/projects/15";
    Mock::given(method("GET"))
        .and(path("/api/v4/user"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": 1, "username": "blueberry"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{p}/merge_requests/42/notes")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 501})))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{p}/merge_requests/42/notes/501")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 501})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(format!("^{p}/statuses/[0-9a-f]+$")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{p}/environments")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"id": 7, "name": "review/pr-42"}])),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{p}/environments/7")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{p}/deployments")))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{p}/environments/7/stop")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{p}/members/all/7")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 7, "username": "alice", "access_level": member_level})),
        )
        .mount(&server)
        .await;
    server
}

struct Hooked {
    app: TestApp,
    gitlab: MockServer,
    secret: String,
}

async fn hooked(member_level: u64) -> Hooked {
    let gitlab = gitlab(member_level).await;
    let uri = gitlab.uri();
    let app = TestApp::spawn_with(|c| {
        c.gitlab_url = Some(uri);
        c.gitlab_token = Some("glpat-test-token".to_owned().into());
        c.webhook_body_limit = 256 * 1024;
    })
    .await;
    let cs = app.create_config_set("web").await;
    let repo = app
        .create_repository("shop", 15, cs["id"].as_str().unwrap())
        .await;
    let secret = repo["webhook_secret"].as_str().unwrap().to_owned();
    Hooked {
        app,
        gitlab,
        secret,
    }
}

impl Hooked {
    async fn deliver(&self, fixture_name: &str, event: &str, uuid: &str) -> reqwest::Response {
        self.app
            .client
            .post(format!("{}/webhooks/gitlab", self.app.url))
            .header("content-type", "application/json")
            .header("x-gitlab-event", event)
            .header("x-gitlab-token", &self.secret)
            .header("x-gitlab-event-uuid", uuid)
            .body(fixture(fixture_name))
            .send()
            .await
            .unwrap()
    }

    async fn requests(&self, verb: &str, path_part: &str) -> Vec<Value> {
        self.gitlab
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == verb && r.url.path().contains(path_part))
            .map(|r| crate::fake_gitlab::body(&r))
            .collect()
    }

    async fn wait_ready_at(&self, sha: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let r = self.app.get("/api/environments/pr-42-shop").await;
            let env: Value = if r.status() == StatusCode::OK {
                r.json().await.unwrap()
            } else {
                Value::Null
            };
            if env["status"] == "ready" && env["git"]["sha"] == sha {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not ready at {sha}: {env}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_for_request(&self, verb: &str, path_part: &str, body_part: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !self
            .requests(verb, path_part)
            .await
            .iter()
            .any(|b| b.to_string().contains(body_part))
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "GitLab never got {verb} {path_part} with {body_part}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
