//! The catalog: connected repositories and the config sets they deploy with.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{ConfigSet, Repository};

#[async_trait]
pub trait CatalogStore: Send + Sync + 'static {
    /// Conflict when the name or GitLab project is already connected.
    async fn create_repository(&self, repo: &Repository) -> StoreResult<()>;
    async fn get_repository(&self, id: &str) -> StoreResult<Option<Repository>>;
    async fn find_repository_by_project(&self, project_id: u64) -> StoreResult<Option<Repository>>;
    async fn list_repositories(&self) -> StoreResult<Vec<Repository>>;
    async fn update_repository(&self, repo: &Repository) -> StoreResult<()>;
    /// Conflict while live environments belong to it.
    async fn delete_repository(&self, id: &str) -> StoreResult<()>;

    /// Conflict when the name is taken.
    async fn create_config_set(&self, set: &ConfigSet) -> StoreResult<()>;
    async fn get_config_set(&self, id: &str) -> StoreResult<Option<ConfigSet>>;
    async fn list_config_sets(&self) -> StoreResult<Vec<ConfigSet>>;
    async fn update_config_set(&self, set: &ConfigSet) -> StoreResult<()>;
    /// Conflict while a repository or live environment refers to it.
    async fn delete_config_set(&self, id: &str) -> StoreResult<()>;
}
