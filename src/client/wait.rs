//! `--wait` and `blueberry env wait`: follow an environment's changes over the server's SSE
//! stream until it is ready (or terminated), failed, or time runs out.

use std::{io::IsTerminal, time::Duration};

use reqwest::Method;
use tokio::time::Instant;

use super::{Api, Outcome};

/// What `--wait` and `env wait --for` wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    Ready,
    Terminated,
}

/// Follows the environment's changes until it reaches `target`, fails, or time runs out.
pub async fn follow(api: &Api, id: &str, target: Target, timeout: Duration) -> Result<(), Outcome> {
    let deadline = Instant::now() + timeout;
    let progress = Progress::new();
    // Subscribe first, then read: no change falls between the two.
    let mut stream = Some(api.changes(id).await?);
    loop {
        let env = api.environment(id).await?;
        let status = env["status"].as_str().unwrap_or_default().to_owned();
        let message = env["status_message"].as_str().unwrap_or_default();
        progress.show(&format!(
            "{id}: {status}{}",
            if message.is_empty() {
                String::new()
            } else {
                format!(" — {message}")
            }
        ));
        match (target, status.as_str()) {
            (Target::Ready, "ready") | (Target::Terminated, "terminated") => {
                progress.finish(&format!("{id} is {status}"));
                if target == Target::Ready
                    && let Some(url) = env["urls"][0].as_str()
                {
                    progress.finish(url);
                }
                return Ok(());
            }
            (Target::Ready, "failed" | "deleting" | "terminated") => {
                progress.finish(&format!("{id} is {status}: {message}"));
                print_events_tail(api, id).await;
                return Err(Outcome::Failed(format!("{id} is {status}: {message}")));
            }
            _ => {}
        }
        let next = async {
            match stream.as_mut() {
                Some(s) => s.chunk().await.ok().flatten().map(|_| ()),
                None => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    Some(())
                }
            }
        };
        match tokio::time::timeout_at(deadline, next).await {
            Err(_) => {
                progress.finish(&format!("{id} is still {status}"));
                return Err(Outcome::TimedOut(format!(
                    "{id} did not become {} within {}s (still {status})",
                    match target {
                        Target::Ready => "ready",
                        Target::Terminated => "terminated",
                    },
                    timeout.as_secs()
                )));
            }
            // The stream ended: read again, then follow a fresh one (or poll).
            Ok(None) => stream = api.changes(id).await.ok(),
            Ok(Some(())) => {}
        }
    }
}

/// A spinner on a terminal, plain lines otherwise (CI logs).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last: std::cell::RefCell<String>,
}

impl Progress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            last: std::cell::RefCell::new(String::new()),
        }
    }

    fn show(&self, line: &str) {
        if *self.last.borrow() == line {
            return;
        }
        *self.last.borrow_mut() = line.to_owned();
        match &self.bar {
            Some(bar) => bar.set_message(line.to_owned()),
            None => eprintln!("{line}"),
        }
    }

    fn finish(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.finish_with_message(line.to_owned()),
            None => eprintln!("{line}"),
        }
    }
}

async fn print_events_tail(api: &Api, id: &str) {
    if let Ok(events) = api
        .call(Method::GET, &format!("/api/environments/{id}/events"), None)
        .await
    {
        let all = events.as_array().cloned().unwrap_or_default();
        eprintln!("last events:");
        for e in all.iter().skip(all.len().saturating_sub(5)) {
            eprintln!(
                "  {} {} {}",
                e["at"].as_str().unwrap_or_default(),
                e["kind"].as_str().unwrap_or_default(),
                e["message"].as_str().unwrap_or_default()
            );
        }
    }
}
