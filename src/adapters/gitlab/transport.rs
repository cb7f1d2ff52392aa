//! How the `gitlab` crate's typed endpoints reach GitLab: its `AsyncGitlab` client, built on the
//! first call rather than at start-up, behind a timeout, with answers worth retrying kept apart.
//!
//! `AsyncGitlab` checks its token against `GET /user` when it is built. Built lazily, a GitLab
//! outage at start-up costs nothing but a retried call later; a failed build is tried again on
//! the next call. 429 and 5xx answers become [`Transport::Busy`] with GitLab's `Retry-After`,
//! whichever endpoint asked (the crate keeps `Retry-After` for typed answers only).
//!
//! The budget: every request waits for a token of one bucket per GitLab host
//! (`--gitlab-requests-per-second`), and when GitLab says none remain (`RateLimit-Remaining: 0`
//! until `RateLimit-Reset`, or a 429's `Retry-After`) every request waits that out first.

use std::{num::NonZeroU32, sync::Mutex, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use gitlab::{
    AsyncGitlab, GitlabBuilder, GitlabError,
    api::{ApiError, AsyncClient, RestClient},
};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use tokio::{sync::OnceCell, time::Instant};

use crate::metrics::Metrics;

type Bucket = governor::DefaultDirectRateLimiter;

/// How long one request to GitLab may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why a request did not get an answer worth reading. Never carries the token.
#[derive(Debug, thiserror::Error)]
pub enum Transport {
    /// GitLab answered 429 or 5xx.
    #[error("GitLab answered {status}")]
    Busy {
        status: http::StatusCode,
        retry_after: Option<Duration>,
    },
    /// No answer: connection refused, timed out, or the client could not be built.
    #[error("{0}")]
    Unreachable(String),
    /// The token was refused when the client was built (401/403 on `GET /user`).
    #[error("GitLab refused the token: {0}")]
    Refused(String),
}

impl Transport {
    pub fn is_retriable(&self) -> bool {
        !matches!(self, Transport::Refused(_))
    }
}

pub struct LazyGitlab {
    host: String,
    insecure: bool,
    token: SecretString,
    rest: Url,
    client: OnceCell<AsyncGitlab>,
    bucket: Bucket,
    /// GitLab said no requests remain until then.
    paused_until: Mutex<Option<Instant>>,
    metrics: std::sync::Arc<Metrics>,
}

impl LazyGitlab {
    /// `url` is GitLab's base URL (`https://gitlab.example.com`, or with a path prefix).
    pub fn new(
        url: &str,
        token: SecretString,
        per_second: NonZeroU32,
        metrics: std::sync::Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let base = Url::parse(url.trim_end_matches('/'))
            .map_err(|e| anyhow::anyhow!("--gitlab-url {url:?} is not a URL: {e}"))?;
        let insecure = match base.scheme() {
            "https" => false,
            "http" => true,
            other => anyhow::bail!("--gitlab-url must be http or https, not {other}"),
        };
        let host = base
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("--gitlab-url {url:?} names no host"))?;
        let host = match base.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        // The crate builds `{scheme}://{host}/api/v4/`; a path prefix travels in `host`.
        let host = format!("{host}{}", base.path().trim_end_matches('/'));
        let rest = Url::parse(&format!("{}://{host}/api/v4/", base.scheme()))?;
        Ok(Self {
            host,
            insecure,
            token,
            rest,
            client: OnceCell::new(),
            bucket: governor::RateLimiter::direct(governor::Quota::per_second(per_second)),
            paused_until: Mutex::new(None),
            metrics,
        })
    }

    /// Waits out a pause GitLab asked for, then for a token of the budget.
    async fn admit(&self) {
        let paused = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = paused.filter(|t| *t > Instant::now()) {
            self.metrics.gitlab_rate_limited.inc();
            tokio::time::sleep_until(until).await;
        }
        self.bucket.until_ready().await;
    }

    /// Remembers how long GitLab asked everyone to wait.
    fn pause(&self, for_: Duration) {
        let until = Instant::now() + for_.min(MAX_RETRY_AFTER);
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if paused.is_none_or(|t| t < until) {
            *paused = Some(until);
        }
    }

    async fn client(&self) -> Result<&AsyncGitlab, Transport> {
        self.client
            .get_or_try_init(|| async {
                let mut builder = GitlabBuilder::new(&self.host, self.token.expose_secret());
                builder.user_agent(concat!("blueberry/", env!("CARGO_PKG_VERSION")));
                if self.insecure {
                    builder.insecure();
                }
                match tokio::time::timeout(REQUEST_TIMEOUT, builder.build_async()).await {
                    Err(_) => Err(Transport::Unreachable(format!(
                        "GitLab did not answer within {REQUEST_TIMEOUT:?}"
                    ))),
                    Ok(Ok(client)) => Ok(client),
                    Ok(Err(e)) => Err(build_failure(e)),
                }
            })
            .await
    }
}

/// A failed build, told apart: a refused token is not worth retrying, anything else is.
fn build_failure(e: GitlabError) -> Transport {
    if let GitlabError::Api {
        source: ApiError::GitlabWithStatus { status, .. } | ApiError::GitlabService { status, .. },
    } = &e
    {
        if matches!(status.as_u16(), 401 | 403) {
            return Transport::Refused(format!("GET /user answered {status}"));
        }
        if status.as_u16() == 429 || status.is_server_error() {
            return Transport::Busy {
                status: *status,
                retry_after: None,
            };
        }
    }
    Transport::Unreachable(format!("GitLab client: {e}"))
}

fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
}

/// How long until GitLab's budget resets, when it says none remains
/// (`RateLimit-Remaining: 0`, `RateLimit-Reset`: Unix seconds).
fn exhausted(headers: &http::HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<i64>().ok();
    if number("ratelimit-remaining")? > 0 {
        return None;
    }
    let reset = number("ratelimit-reset")?;
    let left = reset - now.timestamp();
    Some(Duration::from_secs(
        left.clamp(1, MAX_RETRY_AFTER.as_secs() as i64) as u64,
    ))
}

impl RestClient for LazyGitlab {
    type Error = Transport;

    fn rest_endpoint(&self, endpoint: &str) -> Result<Url, ApiError<Self::Error>> {
        Ok(self.rest.join(endpoint)?)
    }
}

#[async_trait]
impl AsyncClient for LazyGitlab {
    async fn rest_async(
        &self,
        request: http::request::Builder,
        body: Vec<u8>,
    ) -> Result<http::Response<Bytes>, ApiError<Self::Error>> {
        self.admit().await;
        let client = self.client().await.map_err(ApiError::client)?;
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, client.rest_async(request, body))
            .await
            .map_err(|_| {
                ApiError::client(Transport::Unreachable(format!(
                    "GitLab did not answer within {REQUEST_TIMEOUT:?}"
                )))
            })?
            .map_err(|e| ApiError::client(Transport::Unreachable(e.to_string())))?;
        let status = answer.status();
        let wait = retry_after(answer.headers());
        if status == http::StatusCode::TOO_MANY_REQUESTS {
            self.metrics.gitlab_rate_limited.inc();
            self.pause(wait.unwrap_or(Duration::from_secs(1)));
        } else if let Some(until_reset) = exhausted(answer.headers(), chrono::Utc::now()) {
            self.pause(until_reset);
        }
        if status == http::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(ApiError::client(Transport::Busy {
                status,
                retry_after: wait,
            }));
        }
        Ok(answer)
    }
}

#[cfg(test)]
#[path = "transport_tests.rs"]
mod tests;
