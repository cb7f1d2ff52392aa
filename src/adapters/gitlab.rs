//! The GitHost port over GitLab's REST API (v4).
//!
//! 429 (honouring `Retry-After`) and 5xx are retried with backon (exponential, jittered,
//! bounded); anything else is a rejection. The token travels only in the `PRIVATE-TOKEN` header
//! and never appears in errors or logs.

use std::time::Duration;

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::{
    domain::feedback::COMMIT_STATUS_NAME,
    ports::githost::{AccessLevel, CommitState, GitHost, GitHostError, MergeRequestRef},
};

/// How many pages of 100 notes `find_note` looks through.
const FIND_NOTE_PAGES: u32 = 5;

pub struct GitLabHost {
    http: reqwest::Client,
    api: String,
    token: SecretString,
}

/// An error worth retrying, with how long GitLab asked us to wait.
#[derive(Debug)]
struct Attempt {
    error: GitHostError,
    retry_after: Option<Duration>,
}

impl GitLabHost {
    /// `url` is GitLab's base URL (e.g. https://gitlab.example.com).
    pub fn new(url: &str, token: SecretString) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("blueberry/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            api: format!("{}/api/v4", url.trim_end_matches('/')),
            token,
        })
    }

    async fn once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, Attempt> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.api))
            .header("PRIVATE-TOKEN", self.token.expose_secret());
        if let Some(b) = body {
            req = req.json(b);
        }
        let fail = |error, retry_after| Attempt { error, retry_after };
        let resp = req.send().await.map_err(|e| {
            fail(
                GitHostError::Retriable(format!("{method} {path}: {}", e.without_url())),
                None,
            )
        })?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(60)));
            return Err(fail(
                GitHostError::Retriable(format!("{method} {path}: GitLab answered {status}")),
                retry_after,
            ));
        }
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            return Err(fail(
                GitHostError::Rejected(format!(
                    "{method} {path}: {status} {}",
                    text.chars().take(200).collect::<String>()
                )),
                None,
            ));
        }
        Ok(Some(resp.json().await.unwrap_or(Value::Null)))
    }

    /// Sends with retries; `Ok(None)` when GitLab answers 404.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Option<Value>, GitHostError> {
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_max_times(4)
            .with_jitter();
        (|| self.once(&method, path, body.as_ref()))
            .retry(policy)
            .when(|a: &Attempt| matches!(a.error, GitHostError::Retriable(_)))
            .adjust(|a: &Attempt, planned| a.retry_after.or(planned))
            .notify(|a: &Attempt, after| tracing::warn!(error = %a.error, retry_in = ?after, "GitLab call failed; retrying"))
            .await
            .map_err(|a| a.error)
    }

    /// The id of the project's GitLab environment `name`, if it exists.
    async fn environment_id(
        &self,
        project_id: u64,
        name: &str,
    ) -> Result<Option<u64>, GitHostError> {
        let path = format!(
            "/projects/{project_id}/environments?name={}",
            urlencode(name)
        );
        let envs = self
            .send(Method::GET, &path, None)
            .await?
            .unwrap_or(Value::Array(vec![]));
        envs.as_array()
            .and_then(|a| a.first())
            .map(id_of)
            .transpose()
    }

    fn required(v: Option<Value>, what: &str) -> Result<Value, GitHostError> {
        v.ok_or_else(|| GitHostError::Rejected(format!("{what}: not found")))
    }
}

fn id_of(v: &Value) -> Result<u64, GitHostError> {
    v["id"]
        .as_u64()
        .ok_or_else(|| GitHostError::Rejected("GitLab answered without an id".into()))
}

#[async_trait]
impl GitHost for GitLabHost {
    fn is_configured(&self) -> bool {
        true
    }

    async fn find_note(
        &self,
        mr: &MergeRequestRef,
        marker: &str,
    ) -> Result<Option<u64>, GitHostError> {
        // Newest first; Blueberry's notes are few and recent, so a few pages are plenty.
        for page in 1..=FIND_NOTE_PAGES {
            let path = format!(
                "/projects/{}/merge_requests/{}/notes?sort=desc&order_by=created_at&per_page=100&page={page}",
                mr.project_id, mr.iid
            );
            let Some(notes) = self.send(Method::GET, &path, None).await? else {
                return Ok(None);
            };
            let notes = notes.as_array().cloned().unwrap_or_default();
            if let Some(n) = notes
                .iter()
                .find(|n| n["body"].as_str().is_some_and(|b| b.contains(marker)))
            {
                return id_of(n).map(Some);
            }
            if notes.len() < 100 {
                break;
            }
        }
        Ok(None)
    }

    async fn create_note(&self, mr: &MergeRequestRef, body: &str) -> Result<u64, GitHostError> {
        let base = format!(
            "/projects/{}/merge_requests/{}/notes",
            mr.project_id, mr.iid
        );
        let created = self
            .send(Method::POST, &base, Some(json!({"body": body})))
            .await?;
        id_of(&Self::required(created, "merge request")?)
    }

    async fn edit_note(
        &self,
        mr: &MergeRequestRef,
        note_id: u64,
        body: &str,
    ) -> Result<bool, GitHostError> {
        let path = format!(
            "/projects/{}/merge_requests/{}/notes/{note_id}",
            mr.project_id, mr.iid
        );
        Ok(self
            .send(Method::PUT, &path, Some(json!({"body": body})))
            .await?
            .is_some())
    }

    async fn set_commit_status(
        &self,
        project_id: u64,
        sha: &str,
        state: CommitState,
        target_url: &str,
        description: &str,
    ) -> Result<(), GitHostError> {
        let body = json!({"state": state.as_str(), "name": COMMIT_STATUS_NAME, "target_url": target_url, "description": description});
        let done = self
            .send(
                Method::POST,
                &format!("/projects/{project_id}/statuses/{sha}"),
                Some(body),
            )
            .await?;
        Self::required(done, "commit").map(|_| ())
    }

    async fn record_deployment(
        &self,
        project_id: u64,
        name: &str,
        external_url: &str,
        sha: &str,
        git_ref: &str,
    ) -> Result<(), GitHostError> {
        match self.environment_id(project_id, name).await? {
            Some(id) => {
                self.send(
                    Method::PUT,
                    &format!("/projects/{project_id}/environments/{id}"),
                    Some(json!({"external_url": external_url})),
                )
                .await?;
            }
            None => {
                let created = self
                    .send(
                        Method::POST,
                        &format!("/projects/{project_id}/environments"),
                        Some(json!({"name": name, "external_url": external_url})),
                    )
                    .await?;
                Self::required(created, "project")?;
            }
        }
        let deployment = json!({"environment": name, "sha": sha, "ref": git_ref, "tag": false, "status": "success"});
        let created = self
            .send(
                Method::POST,
                &format!("/projects/{project_id}/deployments"),
                Some(deployment),
            )
            .await?;
        Self::required(created, "project").map(|_| ())
    }

    async fn stop_environment(&self, project_id: u64, name: &str) -> Result<(), GitHostError> {
        if let Some(id) = self.environment_id(project_id, name).await? {
            self.send(
                Method::POST,
                &format!("/projects/{project_id}/environments/{id}/stop"),
                Some(json!({"force": true})),
            )
            .await?;
        }
        Ok(())
    }

    async fn access_level(
        &self,
        project_id: u64,
        user_id: u64,
    ) -> Result<AccessLevel, GitHostError> {
        let member = self
            .send(
                Method::GET,
                &format!("/projects/{project_id}/members/all/{user_id}"),
                None,
            )
            .await?;
        Ok(member
            .and_then(|m| m["access_level"].as_u64())
            .map_or(AccessLevel::NONE, |l| AccessLevel(l.min(255) as u8)))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
