//! `blueberry login` and `logout`: the server and token kept in a file only its owner can read
//! (`$BLUEBERRY_CLIENT_CONFIG`, else `$XDG_CONFIG_HOME/blueberry/client.json`, else
//! `~/.config/blueberry/client.json`), so `blueberry env …` needs neither flag afterwards.
//! Flags and `BLUEBERRY_SERVER` / `BLUEBERRY_TOKEN` still win over the file.

use std::{
    io::{BufRead, IsTerminal, Write},
    path::PathBuf,
};

use clap::Args;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{Api, Outcome};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The Blueberry server, e.g. https://blueberry.example.com.
    #[arg(long, env = "BLUEBERRY_SERVER")]
    pub server: String,
    /// An API token (`bb_…`). Without it, one line is read from standard input, so the token
    /// stays out of the shell's history: `blueberry login --server … < token-file`.
    #[arg(long, env = "BLUEBERRY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// What `login` keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Saved {
    pub server: String,
    pub token: String,
}

/// Where the file is, when a home or config directory is known.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BLUEBERRY_CLIENT_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("blueberry").join("client.json"))
}

/// The saved server and token, if `login` wrote them and the file reads.
pub fn saved() -> Option<Saved> {
    let text = std::fs::read_to_string(path()?).ok()?;
    serde_json::from_str(&text).ok()
}

fn read_token() -> Result<String, Outcome> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("API token (bb_…): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Outcome::Refused(format!("reading the token from standard input: {e}")))?;
    Ok(line.trim().to_owned())
}

fn write(saved: &Saved) -> Result<PathBuf, Outcome> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = path().ok_or_else(|| {
        Outcome::Refused("no home directory: set BLUEBERRY_CLIENT_CONFIG to a file path".into())
    })?;
    let fail =
        |what: &str, e: std::io::Error| Outcome::Refused(format!("{what} {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail("creating the directory of", e))?;
    }
    let text = serde_json::to_string_pretty(saved).unwrap_or_default();
    // Written beside it, readable by its owner only, then renamed over the old one.
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| fail("writing", e))?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| fail("writing", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| fail("writing", e))?;
    Ok(path)
}

/// Checks the token against the server (`GET /api/me`), then saves both.
pub async fn login(args: LoginArgs) -> Outcome {
    let token = match args.token.filter(|t| !t.trim().is_empty()) {
        Some(t) => t,
        None => match read_token() {
            Ok(t) => t,
            Err(o) => return o,
        },
    };
    let api = match Api::new(&args.server, &token) {
        Ok(api) => api,
        Err(o) => return o,
    };
    let me = match api.call(Method::GET, "/api/me", None).await {
        Ok(me) => me,
        Err(o) => return o,
    };
    let saved = Saved {
        server: args.server.trim_end_matches('/').to_owned(),
        token: token.trim().to_owned(),
    };
    match write(&saved) {
        Ok(path) => {
            println!(
                "Logged in to {} as {} ({}); saved to {}",
                saved.server,
                me["name"].as_str().unwrap_or("?"),
                me["role"].as_str().unwrap_or("?"),
                path.display()
            );
            Outcome::Done
        }
        Err(o) => o,
    }
}

/// Forgets the saved server and token.
pub fn logout() -> Outcome {
    let Some(path) = path() else {
        return Outcome::Done;
    };
    match std::fs::remove_file(&path) {
        Ok(()) => {
            println!("Logged out: removed {}", path.display());
            Outcome::Done
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("Not logged in");
            Outcome::Done
        }
        Err(e) => Outcome::Refused(format!("removing {}: {e}", path.display())),
    }
}
