//! Connecting repositories: checked, stored with a hashed webhook secret, audited.

use super::{CatalogService, hash_secret, new_secret, relative_path, text};
use crate::{
    domain::{Repository, RepositoryFilters, RepositoryName},
    service::{ServiceError, quotas},
};

/// `sleep_after_idle_minutes` between 5 minutes and a week.
const IDLE_MINUTES: std::ops::RangeInclusive<i64> = 5..=10_080;
/// The highest per-repository `max_environments`.
const MAX_ENVIRONMENTS_CAP: i64 = 1000;

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

/// A newly connected repository and its webhook secret, which is shown this once.
#[derive(Debug)]
pub struct ConnectedRepository {
    pub repository: Repository,
    pub webhook_secret: String,
}

impl CatalogService {
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
            && self.ports.catalog.get_config_set(cs).await?.is_none()
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
        self.ports.catalog.create_repository(&repository).await?;
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
            .catalog
            .get_repository(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("repository `{id}`")))
    }

    pub async fn list_repositories(&self) -> Result<Vec<Repository>, ServiceError> {
        Ok(self.ports.catalog.list_repositories().await?)
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
        self.ports.catalog.update_repository(&repo).await?;
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
        self.ports.catalog.delete_repository(id).await?;
        self.directory.invalidate();
        self.audit(actor, "repository.delete", id, String::new())
            .await
    }
}
