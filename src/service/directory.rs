//! Repositories by GitLab project id, in memory, for the webhook path: one lookup per delivery
//! would otherwise be a store read. The store stays the truth: an entry lives a few seconds
//! (another replica's change is seen that late at most), and this process's own changes to
//! repositories clear it at once.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use crate::{
    domain::Repository,
    ports::{Store, StoreError},
};

/// How long an entry (a repository, or "no such project") is trusted.
const TTL: Duration = Duration::from_secs(5);

/// When an entry was read, and what: the repository, or that none is connected.
type Entry = (Instant, Option<Arc<Repository>>);

#[derive(Default)]
pub struct ProjectDirectory {
    entries: RwLock<HashMap<u64, Entry>>,
}

impl ProjectDirectory {
    /// The repository connected to GitLab project `project_id`, if any.
    pub async fn find(
        &self,
        store: &dyn Store,
        project_id: u64,
    ) -> Result<Option<Arc<Repository>>, StoreError> {
        if let Some((at, repo)) = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&project_id)
            && at.elapsed() < TTL
        {
            return Ok(repo.clone());
        }
        let repo = store
            .find_repository_by_project(project_id)
            .await?
            .map(Arc::new);
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        // Unknown projects are cached too (a flood of them must not become store reads), but
        // the map never grows without bound.
        if entries.len() > 10_000 {
            entries.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        entries.insert(project_id, (Instant::now(), repo.clone()));
        Ok(repo)
    }

    /// Forgets everything (a repository was connected, changed or disconnected).
    pub fn invalidate(&self) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
