//! Connected GitLab repositories and config sets (what an environment deploys).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::names::RepositoryName;

/// Which merge requests get an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RepositoryFilters {
    /// Draft merge requests get no environment until marked ready.
    pub skip_drafts: bool,
    /// When non-empty, only merge requests with at least one of these labels.
    pub include_labels: Vec<String>,
    /// Merge requests with any of these labels get no environment.
    pub exclude_labels: Vec<String>,
    /// A glob (`*` wildcard) the target branch must match, e.g. `main` or `release/*`.
    #[schema(
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        max_length = 255
    )]
    pub target_branch_pattern: Option<String>,
    /// Merge requests from forks run with the platform's credentials, so they are refused
    /// unless this is on.
    pub allow_forks: bool,
}

impl Default for RepositoryFilters {
    fn default() -> Self {
        Self {
            skip_drafts: true,
            include_labels: Vec::new(),
            exclude_labels: Vec::new(),
            target_branch_pattern: None,
            allow_forks: false,
        }
    }
}

/// A repository's lifetime rules for its environments, in hours (1..=168 each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lifetime {
    /// The TTL of an environment that names none; the platform's `--default-ttl-hours` when
    /// absent.
    #[schema(minimum = 1, maximum = 168)]
    #[serde(default, deserialize_with = "super::whole::optional")]
    pub default_ttl_hours: Option<u16>,
    /// No environment lives longer than this from now: creates asking more and extends going
    /// past it are refused, saying so.
    #[schema(minimum = 1, maximum = 168)]
    #[serde(default, deserialize_with = "super::whole::optional")]
    pub max_ttl_hours: Option<u16>,
}

impl Lifetime {
    /// Checks both are 1..=168 and the default is within the ceiling; the field at fault.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        for (field, v) in [
            ("lifetime.default_ttl_hours", self.default_ttl_hours),
            ("lifetime.max_ttl_hours", self.max_ttl_hours),
        ] {
            if let Some(h) = v
                && !(1..=168).contains(&h)
            {
                return Err((field, format!("must be between 1 and 168 hours, not {h}")));
            }
        }
        if let (Some(d), Some(m)) = (self.default_ttl_hours, self.max_ttl_hours)
            && d > m
        {
            return Err((
                "lifetime.default_ttl_hours",
                format!("{d} h is more than max_ttl_hours ({m} h)"),
            ));
        }
        Ok(())
    }
}

/// A GitLab project connected to Blueberry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repository {
    pub id: String,
    pub name: RepositoryName,
    pub gitlab_project_id: u64,
    pub path_with_namespace: String,
    pub config_set_id: Option<String>,
    pub filters: RepositoryFilters,
    /// SHA-256 (hex) of the webhook secret; the secret itself is shown once and never stored.
    pub webhook_secret_hash: String,
    /// GitLab's signing token (`whsec_…`) for signed webhooks, when configured. It is needed to
    /// verify signatures, so it is kept; the API never shows it back.
    #[serde(default)]
    pub webhook_signing_key: Option<super::Secret>,
    /// How long its environments live: its own default and ceiling, within the platform's.
    #[serde(default)]
    pub lifetime: Lifetime,
    /// Running environments at most; a new one over it waits in line and starts when one ends.
    #[serde(default)]
    pub max_environments: Option<u32>,
    /// A ready environment with no activity this long is put to sleep; never when absent.
    #[serde(default)]
    pub sleep_after_idle_minutes: Option<u32>,
    /// Awake hours; outside them its unused environments sleep. Always awake when absent.
    #[serde(default)]
    pub sleep_schedule: Option<super::schedule::SleepSchedule>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a config set's Helm chart comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartSource {
    /// A chart in a Helm repository.
    Chart(String),
    /// A directory in a git repository.
    Path(String),
}

/// A reusable deployment recipe: chart, revision and default values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigSet {
    pub id: String,
    pub name: String,
    pub repo_url: String,
    pub source: ChartSource,
    pub target_revision: String,
    pub values: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Matches `text` against a glob where `*` matches any run of characters.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_hours_are_whole_numbers_as_json_schema_counts_them() {
        let l: Lifetime =
            serde_json::from_value(serde_json::json!({"max_ttl_hours": 75.0})).unwrap();
        assert_eq!(l.max_ttl_hours, Some(75));
        assert!(
            serde_json::from_value::<Lifetime>(serde_json::json!({"max_ttl_hours": 7.5})).is_err()
        );
        let l: Lifetime = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(l, Lifetime::default());
    }

    #[test]
    fn globs() {
        assert!(glob_matches("main", "main"));
        assert!(!glob_matches("main", "mainx"));
        assert!(glob_matches("release/*", "release/1.2"));
        assert!(!glob_matches("release/*", "feature/1"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("a*b*c", "a-b-c"));
        assert!(!glob_matches("a*b*c", "a-c-b"));
        assert!(!glob_matches("ab*ba", "aba"));
    }

    #[test]
    fn filters_default_to_skipping_drafts_and_forks() {
        let f: RepositoryFilters = serde_json::from_str("{}").unwrap();
        assert!(f.skip_drafts);
        assert!(!f.allow_forks);
        assert!(serde_json::from_str::<RepositoryFilters>(r#"{"bogus":1}"#).is_err());
    }
}
