//! The catalog in memory: repositories (by GitLab project id and by id) and config sets, for
//! the paths that read them on every request (a webhook delivery, an environment create, an
//! Application render). The store stays the truth: an entry lives a few seconds (another
//! replica's change is seen that late at most), and this process's own catalog changes clear
//! everything at once.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use crate::{
    domain::{ConfigSet, Repository},
    ports::{CatalogStore, StoreError},
};

/// How long an entry (a record, or "there is none") is trusted.
const TTL: Duration = Duration::from_secs(5);
/// Entries kept before expired ones are swept (unknown keys are cached too, so a flood of them
/// cannot become store reads, but the maps never grow without bound).
const SWEEP_ABOVE: usize = 10_000;

/// When an entry was read, and what: the record, or that there is none.
type Entry<T> = (Instant, Option<Arc<T>>);

struct Cache<K, T> {
    entries: RwLock<HashMap<K, Entry<T>>>,
}

impl<K: Eq + Hash + Clone, T> Default for Cache<K, T> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, T> Cache<K, T> {
    fn fresh(&self, key: &K) -> Option<Option<Arc<T>>> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, key: K, value: Option<Arc<T>>) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() > SWEEP_ABOVE {
            entries.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        entries.insert(key, (Instant::now(), value));
    }

    fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[derive(Default)]
pub struct ProjectDirectory {
    by_project: Cache<u64, Repository>,
    repositories: Cache<String, Repository>,
    config_sets: Cache<String, ConfigSet>,
}

impl ProjectDirectory {
    /// The repository connected to GitLab project `project_id`, if any.
    pub async fn find(
        &self,
        store: &dyn CatalogStore,
        project_id: u64,
    ) -> Result<Option<Arc<Repository>>, StoreError> {
        if let Some(hit) = self.by_project.fresh(&project_id) {
            return Ok(hit);
        }
        let repo = store
            .find_repository_by_project(project_id)
            .await?
            .map(Arc::new);
        self.by_project.put(project_id, repo.clone());
        Ok(repo)
    }

    /// Repository `id`, if it exists.
    pub async fn repository(
        &self,
        store: &dyn CatalogStore,
        id: &str,
    ) -> Result<Option<Arc<Repository>>, StoreError> {
        let key = id.to_owned();
        if let Some(hit) = self.repositories.fresh(&key) {
            return Ok(hit);
        }
        let repo = store.get_repository(id).await?.map(Arc::new);
        self.repositories.put(key, repo.clone());
        Ok(repo)
    }

    /// Config set `id`, if it exists.
    pub async fn config_set(
        &self,
        store: &dyn CatalogStore,
        id: &str,
    ) -> Result<Option<Arc<ConfigSet>>, StoreError> {
        let key = id.to_owned();
        if let Some(hit) = self.config_sets.fresh(&key) {
            return Ok(hit);
        }
        let set = store.get_config_set(id).await?.map(Arc::new);
        self.config_sets.put(key, set.clone());
        Ok(set)
    }

    /// Forgets everything (a repository or config set was created, changed or removed).
    pub fn invalidate(&self) {
        self.by_project.clear();
        self.repositories.clear();
        self.config_sets.clear();
    }
}
