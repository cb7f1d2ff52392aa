//! Quotas with a visible queue: at most `max_environments` running environments per repository
//! (and `--max-environments` for the platform). A new environment over a cap waits, `pending`,
//! in line; environments start in the order they asked (oldest first) as slots free up. Only
//! admission waits: redeploys, extends and teardowns of admitted environments never do.
//! Pure: the service lists the line and the slots, this decides.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which cap holds an environment back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuotaScope {
    /// Its repository's `max_environments`.
    Repository,
    /// The platform's `--max-environments`.
    Platform,
}

/// Where a waiting environment stands, as last worked out by the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// When it got in line (its create); the line is in this order.
    #[serde(with = "super::timestamp")]
    pub since: DateTime<Utc>,
    /// 1 for next in line; 0 until the controller has placed it.
    pub position: u32,
    /// Environments running under the cap that holds it, and the cap.
    pub running: u32,
    pub cap: u32,
    pub scope: QuotaScope,
}

impl Waiting {
    /// Just in line, not placed yet.
    pub fn new(since: DateTime<Utc>) -> Self {
        Self {
            since,
            position: 0,
            running: 0,
            cap: 0,
            scope: QuotaScope::Repository,
        }
    }

    /// "waiting: 3rd in line, 5 of 5 running in this repository".
    pub fn describe(&self) -> String {
        if self.position == 0 {
            return "waiting for a free slot (quota)".into();
        }
        format!(
            "waiting: {} in line, {}",
            ordinal(self.position),
            self.load()
        )
    }

    /// How full the cap that holds it is: "5 of 5 running in this repository".
    pub fn load(&self) -> String {
        let scope = match self.scope {
            QuotaScope::Repository => "in this repository",
            QuotaScope::Platform => "on the platform",
        };
        format!("{} of {} running {scope}", self.running, self.cap)
    }
}

/// 1st, 2nd, 3rd, 4th, 11th, 21st…
pub fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// An environment in line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InLine {
    pub id: String,
    pub repository_id: String,
    pub since: DateTime<Utc>,
}

/// The caps: per repository (absent: none) and for the platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caps {
    pub repositories: HashMap<String, u32>,
    pub platform: Option<u32>,
}

/// The verdict for one environment in line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// A slot is free and nobody before it wants it: start it.
    Admit,
    /// Still waiting: where it stands.
    Wait {
        position: u32,
        running: u32,
        cap: u32,
        scope: QuotaScope,
    },
    /// It is not in line (admitted or gone meanwhile).
    NotInLine,
}

/// Decides for `candidate`, given the running environments per repository, the line (any
/// order) and the caps. Goes down the line oldest first, giving each a slot while both its
/// repository and the platform have one; one whose repository is full lets those behind it from
/// other repositories pass (a repository's cap never holds another repository back).
pub fn admission(
    candidate: &str,
    running: &HashMap<String, u32>,
    line: &[InLine],
    caps: &Caps,
) -> Admission {
    let mut line: Vec<&InLine> = line.iter().collect();
    line.sort_by(|a, b| (a.since, &a.id).cmp(&(b.since, &b.id)));
    let mut per_repo = running.clone();
    let mut total: u32 = running.values().sum();
    // Those held before the candidate: by their repository, and by the platform.
    let mut held_in_repo: HashMap<&str, u32> = HashMap::new();
    let mut held_on_platform = 0u32;
    for w in line {
        let in_repo = per_repo.get(&w.repository_id).copied().unwrap_or(0);
        let repo_cap = caps.repositories.get(&w.repository_id).copied();
        let repo_full = repo_cap.is_some_and(|c| in_repo >= c);
        let platform_full = caps.platform.is_some_and(|c| total >= c);
        if !repo_full && !platform_full {
            if w.id == candidate {
                return Admission::Admit;
            }
            *per_repo.entry(w.repository_id.clone()).or_default() += 1;
            total += 1;
            continue;
        }
        let ahead_in_repo = held_in_repo.entry(&w.repository_id).or_default();
        if w.id == candidate {
            return if repo_full {
                Admission::Wait {
                    position: *ahead_in_repo + 1,
                    running: in_repo,
                    cap: repo_cap.unwrap_or_default(),
                    scope: QuotaScope::Repository,
                }
            } else {
                Admission::Wait {
                    position: held_on_platform + 1,
                    running: total,
                    cap: caps.platform.unwrap_or_default(),
                    scope: QuotaScope::Platform,
                }
            };
        }
        *ahead_in_repo += 1;
        if !repo_full {
            held_on_platform += 1;
        }
    }
    Admission::NotInLine
}

#[cfg(test)]
#[path = "quota_tests.rs"]
mod tests;
