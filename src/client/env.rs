//! The `blueberry env` subcommands.
//!
//! Long on purpose: one function per `blueberry env` subcommand, each short, sharing the output
//! formatting.

use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    Api, Outcome,
    output::{Output, print_list, print_one},
    wait::{Target, follow},
};

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// The Blueberry server [default: the one `blueberry login` saved, else
    /// http://127.0.0.1:8080].
    #[arg(long, env = "BLUEBERRY_SERVER", global = true)]
    pub server: Option<String>,
    /// An API token (`bb_…`); never printed [default: the one `blueberry login` saved].
    #[arg(long, env = "BLUEBERRY_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,
    #[command(subcommand)]
    pub command: EnvCommand,
}

#[derive(Debug, Args)]
pub struct Wait {
    /// Follow the environment until it is ready (or gone, for delete).
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this long: `90s`, `10m`, `1h`.
    #[arg(long, default_value = "10m")]
    pub timeout: String,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Environments, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        /// A repository's id or name.
        #[arg(long)]
        repository: Option<String>,
    },
    /// One environment.
    Get { id: String },
    /// Create an environment by hand.
    Create {
        /// A repository's id or name.
        #[arg(long)]
        repository: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        branch: Option<String>,
        /// A config set's id (the repository's default otherwise).
        #[arg(long)]
        config_set: Option<String>,
        #[arg(long)]
        ttl_hours: Option<i64>,
        /// Helm values merged over the config set's: a JSON file, or `-` for standard input.
        #[arg(long)]
        values: Option<String>,
        #[command(flatten)]
        wait: Wait,
    },
    /// Deploy again.
    Redeploy {
        id: String,
        #[command(flatten)]
        wait: Wait,
    },
    /// Keep it longer.
    Extend {
        id: String,
        #[arg(long, default_value_t = 24)]
        hours: i64,
    },
    /// Start a failed environment again from a first attempt.
    Retry {
        id: String,
        #[command(flatten)]
        wait: Wait,
    },
    /// Tear it down.
    Delete {
        id: String,
        #[command(flatten)]
        wait: Wait,
    },
    /// Wait until it is ready (or terminated).
    Wait {
        id: String,
        #[arg(long = "for", value_enum, default_value_t = Target::Ready)]
        target: Target,
        #[arg(long, default_value = "10m")]
        timeout: String,
    },
    /// Its history; `--follow` keeps printing new events.
    Events {
        id: String,
        #[arg(long)]
        follow: bool,
    },
    /// Print its URL, for `curl $(blueberry env url ID)`.
    Url { id: String },
}

/// `90s`, `10m`, `1h`, or seconds.
pub fn parse_duration(s: &str) -> Result<Duration, Outcome> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| Outcome::Refused(format!("--timeout {s:?}: use e.g. 90s, 10m or 1h")))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => {
            return Err(Outcome::Refused(format!(
                "--timeout {s:?}: use e.g. 90s, 10m or 1h"
            )));
        }
    };
    Ok(Duration::from_secs(secs))
}

fn path_id(id: &str) -> Result<&str, Outcome> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(Outcome::Refused(format!(
            "{id:?} is not an environment id (lowercase letters, digits and '-')"
        )));
    }
    Ok(id)
}

/// Runs one `blueberry env` command.
pub async fn run(args: EnvArgs) -> Outcome {
    match execute(args).await {
        Ok(()) => Outcome::Done,
        Err(o) => o,
    }
}

async fn execute(args: EnvArgs) -> Result<(), Outcome> {
    // Flags and variables first, then what `blueberry login` saved.
    let saved = super::login::saved().unwrap_or_default();
    let server = args
        .server
        .or_else(|| Some(saved.server).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let token = args
        .token
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(saved.token);
    let api = Api::new(&server, &token)?;
    let out = args.output;
    match args.command {
        EnvCommand::List { status, repository } => {
            let mut query = vec![("limit".to_owned(), "100".to_owned())];
            if let Some(s) = status {
                query.push(("status".into(), s));
            }
            if let Some(r) = repository {
                query.push(("repository_id".into(), repository_id(&api, &r).await?));
            }
            let q = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            let page = api
                .call(Method::GET, &format!("/api/environments?{q}"), None)
                .await?;
            print_list(&page, out);
        }
        EnvCommand::Get { id } => {
            let env = api.environment(path_id(&id)?).await?;
            print_one(&env, out);
        }
        EnvCommand::Create {
            repository,
            name,
            branch,
            config_set,
            ttl_hours,
            values,
            wait,
        } => {
            let timeout = parse_duration(&wait.timeout)?;
            let mut body = json!({
                "name": name,
                "repository_id": repository_id(&api, &repository).await?,
            });
            if let Some(b) = branch {
                body["branch"] = json!(b);
            }
            if let Some(c) = config_set {
                body["config_set_id"] = json!(c);
            }
            if let Some(h) = ttl_hours {
                body["ttl_hours"] = json!(h);
            }
            if let Some(file) = values {
                body["helm_values_override"] = read_values(&file)?;
            }
            let env = api
                .call(Method::POST, "/api/environments", Some(&body))
                .await?;
            print_one(&env, out);
            if wait.wait {
                let id = env["id"].as_str().unwrap_or_default().to_owned();
                follow(&api, &id, Target::Ready, timeout).await?;
            }
        }
        EnvCommand::Redeploy { id, wait } => act(&api, &id, "redeploy", wait, out).await?,
        EnvCommand::Retry { id, wait } => act(&api, &id, "retry", wait, out).await?,
        EnvCommand::Extend { id, hours } => {
            let path = format!("/api/environments/{}/extend", path_id(&id)?);
            let env = api
                .call(Method::POST, &path, Some(&json!({ "hours": hours })))
                .await?;
            print_one(&env, out);
        }
        EnvCommand::Delete { id, wait } => {
            let timeout = parse_duration(&wait.timeout)?;
            let path = format!("/api/environments/{}", path_id(&id)?);
            let env = api.call(Method::DELETE, &path, None).await?;
            print_one(&env, out);
            if wait.wait {
                follow(&api, &id, Target::Terminated, timeout).await?;
            }
        }
        EnvCommand::Wait {
            id,
            target,
            timeout,
        } => {
            let timeout = parse_duration(&timeout)?;
            follow(&api, path_id(&id)?, target, timeout).await?;
        }
        EnvCommand::Events { id, follow: keep } => {
            let id = path_id(&id)?;
            let mut printed = print_events(&api, id, 0, out).await?;
            if keep {
                let mut stream = api.changes(id).await?;
                while stream.chunk().await.ok().flatten().is_some() {
                    printed = print_events(&api, id, printed, out).await?;
                }
            }
        }
        EnvCommand::Url { id } => {
            let env = api.environment(path_id(&id)?).await?;
            match env["urls"][0].as_str() {
                Some(url) => println!("{url}"),
                None => return Err(Outcome::Failed(format!("{id} has no URL"))),
            }
        }
    }
    Ok(())
}

async fn act(api: &Api, id: &str, action: &str, wait: Wait, out: Output) -> Result<(), Outcome> {
    let timeout = parse_duration(&wait.timeout)?;
    let path = format!("/api/environments/{}/{action}", path_id(id)?);
    let env = api.call(Method::POST, &path, None).await?;
    print_one(&env, out);
    if wait.wait {
        follow(api, id, Target::Ready, timeout).await?;
    }
    Ok(())
}

/// A repository's id from its id or its name.
async fn repository_id(api: &Api, given: &str) -> Result<String, Outcome> {
    let repos = api.call(Method::GET, "/api/repositories", None).await?;
    repos
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == given || r["name"] == given)
        .and_then(|r| r["id"].as_str().map(str::to_owned))
        .ok_or_else(|| Outcome::Refused(format!("no repository with the id or name {given:?}")))
}

fn read_values(file: &str) -> Result<Value, Outcome> {
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|e| Outcome::Refused(format!("--values {file}: {e}")))?;
    serde_json::from_str(&text)
        .map_err(|e| Outcome::Refused(format!("--values {file}: not JSON: {e}")))
}

async fn print_events(api: &Api, id: &str, skip: usize, out: Output) -> Result<usize, Outcome> {
    let events = api
        .call(Method::GET, &format!("/api/environments/{id}/events"), None)
        .await?;
    let all = events.as_array().cloned().unwrap_or_default();
    for e in all.iter().skip(skip) {
        match out {
            Output::Json => println!("{e}"),
            Output::Table => println!(
                "{}  {:<16} {}",
                e["at"].as_str().unwrap_or_default(),
                e["kind"].as_str().unwrap_or_default(),
                e["message"].as_str().unwrap_or_default()
            ),
        }
    }
    Ok(all.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_people_write_them() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
