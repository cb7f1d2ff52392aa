//! Archives of terminated environments, and letting the store forget them.
//!
//! When an environment is terminated, an `Archive` job writes its archive (the record, every
//! event, Argo CD's last status) as `environments/{id}/{terminated_at}.json` and points
//! `environments/{id}/latest` at it, so a read needs no listing. Writing is idempotent: a later
//! run (new events, a retried job) rewrites the same object. Environments terminated longer ago
//! than the retention are archived once more and then removed from the store — only while still
//! terminated at the version archived, so nothing revived in between is lost. Reads fall back
//! on the archive: the API and the status page still show an environment after the store let
//! it go, marked as archived.

use chrono::{DateTime, Utc};

use super::{Ports, ServiceError};
use crate::{
    domain::{
        EnvironmentId, Status,
        archive::{EnvironmentArchive, latest_pointer},
    },
    ports::{BlobError, EnvironmentFilter, PageRequest},
};

/// Events read into one archive at most (the store keeps far fewer per environment).
const MAX_EVENTS: u32 = 100_000;

/// Something about an environment, from the store or from its archive.
pub enum Found<T> {
    Live(T),
    Archived(Box<EnvironmentArchive>),
}

#[derive(Clone)]
pub struct ArchiveService {
    ports: Ports,
    /// Terminated environments older than this leave the store.
    retain: chrono::Duration,
}

fn unavailable(e: BlobError) -> ServiceError {
    ServiceError::Unavailable("the archive", e.into())
}

impl ArchiveService {
    pub fn new(ports: Ports, retain: chrono::Duration) -> Self {
        Self { ports, retain }
    }

    /// Writes the archive of a terminated environment; where it went, or `None` when the
    /// environment is gone or not terminated.
    pub async fn archive(&self, id: &EnvironmentId) -> Result<Option<String>, ServiceError> {
        let Some(env) = self.ports.environments.get_environment(id).await? else {
            return Ok(None);
        };
        let version = env.version;
        let events = self
            .ports
            .environments
            .list_events(id, 0, MAX_EVENTS)
            .await?;
        let Some(archive) = EnvironmentArchive::of(env, events, self.ports.clock.now()) else {
            return Ok(None);
        };
        let location = self.write(&archive).await?;
        tracing::info!(env_id = %id, version, location, "environment archived");
        Ok(Some(location))
    }

    async fn write(&self, archive: &EnvironmentArchive) -> Result<String, ServiceError> {
        let name = archive.object_name();
        let bytes =
            serde_json::to_vec_pretty(archive).map_err(|e| ServiceError::Internal(e.into()))?;
        let location = self
            .ports
            .archive
            .put(&name, bytes)
            .await
            .map_err(unavailable)?;
        self.ports
            .archive
            .put(&latest_pointer(&archive.environment.id), name.into_bytes())
            .await
            .map_err(unavailable)?;
        Ok(location)
    }

    /// `live` when the store answered it; when the store has no such environment, its newest
    /// archive; otherwise `live`'s error.
    pub async fn unless_archived<T>(
        &self,
        id: &str,
        live: Result<T, ServiceError>,
    ) -> Result<Found<T>, ServiceError> {
        match live {
            Ok(found) => Ok(Found::Live(found)),
            Err(ServiceError::NotFound(what)) => match self.find(id).await? {
                Some(archive) => Ok(Found::Archived(Box::new(archive))),
                None => Err(ServiceError::NotFound(what)),
            },
            Err(e) => Err(e),
        }
    }

    /// Whether `id` was archived (one read: the pointer).
    pub async fn has_archive(&self, id: &EnvironmentId) -> Result<bool, ServiceError> {
        let pointer = self.ports.archive.get(&latest_pointer(id)).await;
        Ok(pointer.map_err(unavailable)?.is_some())
    }

    /// The newest archive of `id`, if it has one.
    pub async fn find(&self, id: &str) -> Result<Option<EnvironmentArchive>, ServiceError> {
        let Ok(id) = EnvironmentId::parse(id) else {
            return Ok(None);
        };
        let archive = &self.ports.archive;
        let Some(name) = archive
            .get(&latest_pointer(&id))
            .await
            .map_err(unavailable)?
        else {
            return Ok(None);
        };
        let name = String::from_utf8_lossy(&name).trim().to_owned();
        let Some(bytes) = archive.get(&name).await.map_err(unavailable)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("archive {name}: {e}")))
    }

    /// Archives and removes every environment terminated before `now - retention`; how many
    /// left the store.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let cutoff = now - self.retain;
        let filter = EnvironmentFilter {
            status: Some(Status::Terminated),
            ..Default::default()
        };
        let mut due = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .ports
                .environments
                .list_environments(&filter, &PageRequest { limit: 100, cursor })
                .await?;
            due.extend(
                page.items
                    .into_iter()
                    .filter(|e| e.terminated_at.is_some_and(|t| t <= cutoff)),
            );
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut removed = 0;
        for env in due {
            let events = self
                .ports
                .environments
                .list_events(&env.id, 0, MAX_EVENTS)
                .await?;
            let (id, version) = (env.id.clone(), env.version);
            let Some(archive) = EnvironmentArchive::of(env, events, now) else {
                continue;
            };
            let location = self.write(&archive).await?;
            if self
                .ports
                .environments
                .remove_environment(&id, version)
                .await?
            {
                tracing::info!(env_id = %id, location, "terminated environment left the store; its archive remains");
                removed += 1;
            }
        }
        Ok(removed)
    }
}
