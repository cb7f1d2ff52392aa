//! How the `gitlab` crate's typed endpoints reach GitLab: its `AsyncGitlab` client, built on the
//! first call rather than at start-up, behind a timeout, with answers worth retrying kept apart.
//!
//! `AsyncGitlab` checks its token against `GET /user` when it is built. Built lazily, a GitLab
//! outage at start-up costs nothing but a retried call later; a failed build is tried again on
//! the next call. 429 and 5xx answers become [`Transport::Busy`] with GitLab's `Retry-After`,
//! whichever endpoint asked (the crate keeps `Retry-After` for typed answers only).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use gitlab::{
    AsyncGitlab, GitlabBuilder, GitlabError,
    api::{ApiError, AsyncClient, RestClient},
};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;

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
}

impl LazyGitlab {
    /// `url` is GitLab's base URL (`https://gitlab.example.com`, or with a path prefix).
    pub fn new(url: &str, token: SecretString) -> anyhow::Result<Self> {
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
        })
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
        if status == http::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(ApiError::client(Transport::Busy {
                status,
                retry_after: retry_after(answer.headers()),
            }));
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_the_crates_host_and_scheme() {
        let t = |u: &str| LazyGitlab::new(u, SecretString::from("t")).unwrap();
        let plain = t("http://127.0.0.1:8080/");
        assert_eq!(plain.host, "127.0.0.1:8080");
        assert!(plain.insecure);
        assert_eq!(plain.rest.as_str(), "http://127.0.0.1:8080/api/v4/");
        let prefixed = t("https://example.com/gitlab");
        assert_eq!(prefixed.host, "example.com/gitlab");
        assert!(!prefixed.insecure);
        assert_eq!(
            prefixed.rest.join("projects/1").unwrap().as_str(),
            "https://example.com/gitlab/api/v4/projects/1"
        );
        assert!(LazyGitlab::new("ftp://x", SecretString::from("t")).is_err());
        assert!(LazyGitlab::new("not a url", SecretString::from("t")).is_err());
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        let mut h = http::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(http::header::RETRY_AFTER, "3600".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
