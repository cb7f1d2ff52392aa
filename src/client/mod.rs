//! `blueberry env …`: a client of a Blueberry server's REST API and SSE stream, for people and
//! CI jobs. Exit codes, relied on by CI jobs: 0 done (ready, when waiting), 1 the environment
//! failed (or ended while waited for), 2 timed out, 3 bad input, refused credentials or no
//! server.

mod env;
pub mod login;
mod output;
mod wait;

pub use env::{EnvArgs, EnvCommand, run};
pub use login::{LoginArgs, login, logout};
pub use output::Output;

use std::{process::ExitCode, time::Duration};

use serde_json::Value;

/// How a client command ended.
#[derive(Debug)]
pub enum Outcome {
    Done,
    Failed(String),
    TimedOut(String),
    /// Bad input, bad credentials, or the server cannot be reached.
    Refused(String),
}

impl Outcome {
    /// Prints what went wrong (one line) and gives the documented exit code.
    pub fn exit(self) -> ExitCode {
        let (code, message) = match self {
            Outcome::Done => return ExitCode::SUCCESS,
            Outcome::Failed(m) => (1, m),
            Outcome::TimedOut(m) => (2, m),
            Outcome::Refused(m) => (3, m),
        };
        eprintln!("error: {message}");
        ExitCode::from(code)
    }
}

/// The server and the token, from flags or `BLUEBERRY_SERVER` / `BLUEBERRY_TOKEN`.
pub struct Api {
    server: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(server: &str, token: &str) -> Result<Self, Outcome> {
        if token.trim().is_empty() {
            return Err(Outcome::Refused(
                "no token: pass --token, set BLUEBERRY_TOKEN or run `blueberry login`".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Outcome::Refused(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            server: server.trim_end_matches('/').to_owned(),
            token: token.trim().to_owned(),
            http,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.server))
            .bearer_auth(&self.token)
    }

    /// Sends and reads a JSON answer; errors are one line naming what the server said.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Outcome> {
        let mut req = self.request(method, path).timeout(Duration::from_secs(30));
        if let Some(b) = body {
            req = req.json(b);
        }
        let answer = req.send().await.map_err(|e| self.unreachable(e))?;
        let status = answer.status();
        let text = answer.text().await.map_err(|e| self.unreachable(e))?;
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(json);
        }
        let detail = json["detail"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| text.chars().take(200).collect());
        Err(match status.as_u16() {
            401 => Outcome::Refused(format!("the server refused the token (401): {detail}")),
            403 => Outcome::Refused(format!("not allowed (403): {detail}")),
            404 => Outcome::Refused(format!("not found (404): {detail}")),
            400 | 409 | 413 | 415 | 422 => Outcome::Refused(format!("{status}: {detail}")),
            _ => Outcome::Failed(format!("the server answered {status}: {detail}")),
        })
    }

    /// One environment, as the API answers it.
    pub async fn environment(&self, id: &str) -> Result<serde_json::Value, Outcome> {
        self.call(
            reqwest::Method::GET,
            &format!("/api/environments/{id}"),
            None,
        )
        .await
    }

    /// The SSE stream of one environment's changes.
    pub async fn changes(&self, id: &str) -> Result<reqwest::Response, Outcome> {
        let answer = self
            .request(reqwest::Method::GET, "/api/events/environments")
            .query(&[("environment_id", id)])
            .header("accept", "text/event-stream")
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !answer.status().is_success() {
            return Err(Outcome::Refused(format!(
                "the change stream answered {}",
                answer.status()
            )));
        }
        Ok(answer)
    }

    fn unreachable(&self, e: reqwest::Error) -> Outcome {
        let why = if e.is_connect() {
            "cannot connect".to_owned()
        } else if e.is_timeout() {
            "no answer in time".to_owned()
        } else {
            e.without_url().to_string()
        };
        Outcome::Refused(format!("{} is not reachable: {why}", self.server))
    }
}
