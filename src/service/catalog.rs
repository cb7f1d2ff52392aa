//! Repositories and config sets: what environments are created from.

use rand::RngCore;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{Ports, ServiceError, quotas};
use crate::{
    domain::{ChartSource, ConfigSet, Repository, RepositoryFilters, RepositoryName},
    ports::AuditEntry,
};

/// `sleep_after_idle_minutes` between 5 minutes and a week.
const IDLE_MINUTES: std::ops::RangeInclusive<i64> = 5..=10_080;
/// The highest per-repository `max_environments`.
const MAX_ENVIRONMENTS_CAP: i64 = 1000;

/// Largest accepted config-set `values`, serialized as JSON.
const MAX_VALUES_BYTES: usize = 256 * 1024;

/// A repository as submitted (create or full update).
#[derive(Debug, Clone)]
pub struct RepositoryInput {
    pub name: String,
    pub gitlab_project_id: i64,
    pub path_with_namespace: String,
    pub config_set_id: Option<String>,
    pub filters: Option<RepositoryFilters>,
    /// GitLab's webhook signing token (`whsec_…`); None keeps the current one on update.
    pub webhook_signing_key: Option<crate::domain::Secret>,
    /// Default and ceiling of its environments' TTL; none: the platform's.
    pub lifetime: Option<crate::domain::repository::Lifetime>,
    /// Running environments at most (1..=1000); none: no cap but the platform's.
    pub max_environments: Option<i64>,
    /// Minutes without activity before a ready environment sleeps (5..=10080); none: never.
    pub sleep_after_idle_minutes: Option<i64>,
    /// Awake hours in a time zone; none: always awake.
    pub sleep_schedule: Option<crate::domain::schedule::ScheduleParts>,
}

/// A config set as submitted (create or full update).
#[derive(Debug, Clone)]
pub struct ConfigSetInput {
    pub name: String,
    pub repo_url: String,
    pub chart: Option<String>,
    pub path: Option<String>,
    pub target_revision: String,
    pub values: Option<Value>,
}

/// A newly connected repository and its webhook secret, which is shown this once.
#[derive(Debug)]
pub struct ConnectedRepository {
    pub repository: Repository,
    pub webhook_secret: String,
}

#[derive(Clone)]
pub struct CatalogService {
    ports: Ports,
    directory: std::sync::Arc<super::directory::ProjectDirectory>,
}

/// SHA-256 of a secret, hex-encoded: what the store keeps instead of the secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh secret: `prefix` + 32 random bytes, hex-encoded.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

fn text(field: &str, value: &str, max: usize) -> Result<(), ServiceError> {
    if value.trim().is_empty() {
        return Err(ServiceError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ServiceError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn relative_path(field: &str, value: &str) -> Result<(), ServiceError> {
    text(field, value, 255)?;
    if value.starts_with('/')
        || value.ends_with('/')
        || value.split('/').any(|s| s.is_empty() || s == "..")
    {
        return Err(ServiceError::invalid(
            field,
            "must be a relative path without empty or '..' segments",
        ));
    }
    Ok(())
}

impl CatalogService {
    pub fn new(
        ports: Ports,
        directory: std::sync::Arc<super::directory::ProjectDirectory>,
    ) -> Self {
        Self { ports, directory }
    }

    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: String,
    ) -> Result<(), ServiceError> {
        let entry = AuditEntry {
            at: self.ports.clock.now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail,
        };
        Ok(self.ports.store.append_audit(&entry).await?)
    }

    async fn check_repository(
        &self,
        input: &RepositoryInput,
    ) -> Result<
        (
            RepositoryName,
            u64,
            Option<crate::domain::schedule::SleepSchedule>,
        ),
        ServiceError,
    > {
        let name = RepositoryName::parse(input.name.as_str())
            .map_err(|e| ServiceError::invalid("name", e))?;
        let project_id = u64::try_from(input.gitlab_project_id)
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| {
                ServiceError::invalid("gitlab_project_id", "must be a positive GitLab project id")
            })?;
        relative_path("path_with_namespace", &input.path_with_namespace)?;
        if let Some(cs) = &input.config_set_id
            && self.ports.store.get_config_set(cs).await?.is_none()
        {
            return Err(ServiceError::dangling(
                "config_set_id",
                format!("no config set with id `{cs}`"),
            ));
        }
        if let Some(key) = &input.webhook_signing_key {
            crate::domain::webhook::signing_key_bytes(key.expose())
                .map_err(|e| ServiceError::invalid("webhook_signing_key", e))?;
        }
        if let Some(pattern) = input
            .filters
            .as_ref()
            .and_then(|f| f.target_branch_pattern.as_deref())
        {
            text("filters.target_branch_pattern", pattern, 255)?;
        }
        if let Some(lifetime) = &input.lifetime {
            lifetime
                .check()
                .map_err(|(field, message)| ServiceError::invalid(field, message))?;
        }
        if let Some(max) = input.max_environments
            && !(1..=MAX_ENVIRONMENTS_CAP).contains(&max)
        {
            return Err(ServiceError::invalid(
                "max_environments",
                format!("must be between 1 and {MAX_ENVIRONMENTS_CAP}, not {max}"),
            ));
        }
        if let Some(m) = input.sleep_after_idle_minutes
            && !IDLE_MINUTES.contains(&m)
        {
            return Err(ServiceError::invalid(
                "sleep_after_idle_minutes",
                format!(
                    "must be between {} and {} minutes (a week), not {m}",
                    IDLE_MINUTES.start(),
                    IDLE_MINUTES.end()
                ),
            ));
        }
        let schedule = input
            .sleep_schedule
            .as_ref()
            .map(|parts| parts.parse())
            .transpose()
            .map_err(|e| ServiceError::invalid(e.field, e.message))?;
        Ok((name, project_id, schedule))
    }

    /// Connects a GitLab project and returns its webhook secret (only its hash is stored).
    pub async fn create_repository(
        &self,
        input: RepositoryInput,
        actor: &str,
    ) -> Result<ConnectedRepository, ServiceError> {
        let (name, gitlab_project_id, sleep_schedule) = self.check_repository(&input).await?;
        let webhook_secret = new_secret("bbwh_");
        let now = self.ports.clock.now();
        let repository = Repository {
            id: uuid::Uuid::new_v4().to_string(),
            name,
            gitlab_project_id,
            path_with_namespace: input.path_with_namespace,
            config_set_id: input.config_set_id,
            filters: input.filters.unwrap_or_default(),
            webhook_secret_hash: hash_secret(&webhook_secret),
            webhook_signing_key: input.webhook_signing_key,
            lifetime: input.lifetime.clone().unwrap_or_default(),
            max_environments: input.max_environments.map(|m| m as u32),
            sleep_after_idle_minutes: input.sleep_after_idle_minutes.map(|m| m as u32),
            sleep_schedule,
            created_at: now,
            updated_at: now,
        };
        self.ports.store.create_repository(&repository).await?;
        self.directory.invalidate();
        self.audit(
            actor,
            "repository.create",
            &repository.id,
            repository.path_with_namespace.clone(),
        )
        .await?;
        Ok(ConnectedRepository {
            repository,
            webhook_secret,
        })
    }

    pub async fn get_repository(&self, id: &str) -> Result<Repository, ServiceError> {
        self.ports
            .store
            .get_repository(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("repository `{id}`")))
    }

    pub async fn list_repositories(&self) -> Result<Vec<Repository>, ServiceError> {
        Ok(self.ports.store.list_repositories().await?)
    }

    /// Replaces a repository's settings; its id, secret and creation time stay.
    pub async fn update_repository(
        &self,
        id: &str,
        input: RepositoryInput,
        actor: &str,
    ) -> Result<Repository, ServiceError> {
        let mut repo = self.get_repository(id).await?;
        let (name, gitlab_project_id, sleep_schedule) = self.check_repository(&input).await?;
        repo.name = name;
        repo.gitlab_project_id = gitlab_project_id;
        repo.path_with_namespace = input.path_with_namespace;
        repo.config_set_id = input.config_set_id;
        repo.filters = input.filters.unwrap_or_default();
        repo.lifetime = input.lifetime.unwrap_or_default();
        let cap_changed = repo.max_environments != input.max_environments.map(|m| m as u32);
        repo.max_environments = input.max_environments.map(|m| m as u32);
        repo.sleep_after_idle_minutes = input.sleep_after_idle_minutes.map(|m| m as u32);
        repo.sleep_schedule = sleep_schedule;
        if input.webhook_signing_key.is_some() {
            repo.webhook_signing_key = input.webhook_signing_key;
        }
        repo.updated_at = self.ports.clock.now();
        self.ports.store.update_repository(&repo).await?;
        self.directory.invalidate();
        self.audit(
            actor,
            "repository.update",
            id,
            repo.path_with_namespace.clone(),
        )
        .await?;
        if cap_changed {
            // A raised (or lifted) cap admits whoever waits; a lowered one holds nobody running.
            quotas::wake_line(&self.ports, Some(id)).await?;
        }
        Ok(repo)
    }

    pub async fn delete_repository(&self, id: &str, actor: &str) -> Result<(), ServiceError> {
        self.ports.store.delete_repository(id).await?;
        self.directory.invalidate();
        self.audit(actor, "repository.delete", id, String::new())
            .await
    }

    fn check_config_set(
        input: &ConfigSetInput,
    ) -> Result<(ChartSource, Map<String, Value>), ServiceError> {
        text("name", &input.name, 100)?;
        text("repo_url", &input.repo_url, 2048)?;
        let url_ok = ["https://", "http://", "ssh://", "git@", "oci://"]
            .iter()
            .any(|p| input.repo_url.starts_with(p))
            && !input.repo_url.chars().any(char::is_whitespace);
        if !url_ok {
            return Err(ServiceError::invalid(
                "repo_url",
                "must be an https, http, ssh, git@ or oci URL without spaces",
            ));
        }
        let source = match (&input.chart, &input.path) {
            (Some(chart), None) => {
                text("chart", chart, 255)?;
                ChartSource::Chart(chart.clone())
            }
            (None, Some(path)) => {
                relative_path("path", path)?;
                ChartSource::Path(path.clone())
            }
            _ => {
                return Err(ServiceError::invalid(
                    "chart",
                    "give exactly one of `chart` (Helm repository) or `path` (git directory)",
                ));
            }
        };
        text("target_revision", &input.target_revision, 255)?;
        if input.target_revision.chars().any(char::is_whitespace) {
            return Err(ServiceError::invalid(
                "target_revision",
                "must not contain spaces",
            ));
        }
        let values = match &input.values {
            None => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => return Err(ServiceError::invalid("values", "must be a JSON object")),
        };
        let size = serde_json::to_vec(&values)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_VALUES_BYTES {
            return Err(ServiceError::invalid(
                "values",
                format!("must be at most {MAX_VALUES_BYTES} bytes as JSON"),
            ));
        }
        Ok((source, values))
    }

    pub async fn create_config_set(
        &self,
        input: ConfigSetInput,
        actor: &str,
    ) -> Result<ConfigSet, ServiceError> {
        let (source, values) = Self::check_config_set(&input)?;
        let now = self.ports.clock.now();
        let set = ConfigSet {
            id: uuid::Uuid::new_v4().to_string(),
            name: input.name,
            repo_url: input.repo_url,
            source,
            target_revision: input.target_revision,
            values,
            created_at: now,
            updated_at: now,
        };
        self.ports.store.create_config_set(&set).await?;
        self.directory.invalidate();
        self.audit(actor, "config_set.create", &set.id, set.name.clone())
            .await?;
        Ok(set)
    }

    pub async fn get_config_set(&self, id: &str) -> Result<ConfigSet, ServiceError> {
        self.ports
            .store
            .get_config_set(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("config set `{id}`")))
    }

    pub async fn list_config_sets(&self) -> Result<Vec<ConfigSet>, ServiceError> {
        Ok(self.ports.store.list_config_sets().await?)
    }

    pub async fn update_config_set(
        &self,
        id: &str,
        input: ConfigSetInput,
        actor: &str,
    ) -> Result<ConfigSet, ServiceError> {
        let mut set = self.get_config_set(id).await?;
        let (source, values) = Self::check_config_set(&input)?;
        set.name = input.name;
        set.repo_url = input.repo_url;
        set.source = source;
        set.target_revision = input.target_revision;
        set.values = values;
        set.updated_at = self.ports.clock.now();
        self.ports.store.update_config_set(&set).await?;
        self.directory.invalidate();
        self.audit(actor, "config_set.update", id, set.name.clone())
            .await?;
        Ok(set)
    }

    pub async fn delete_config_set(&self, id: &str, actor: &str) -> Result<(), ServiceError> {
        self.ports.store.delete_config_set(id).await?;
        self.directory.invalidate();
        self.audit(actor, "config_set.delete", id, String::new())
            .await
    }
}
