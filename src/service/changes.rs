//! The change log SSE reads: the bus's when the bus keeps one (Redis Streams in production),
//! else the store's (SQLite's change log in the embedded default).

pub use crate::ports::Since;

use super::{Ports, ServiceError};

#[derive(Clone)]
pub struct ChangeLog {
    ports: Ports,
}

impl ChangeLog {
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Whether changes arrive from the bus already in log order (no reordering needed).
    pub fn ordered_by_bus(&self) -> bool {
        self.ports.bus.keeps_log()
    }

    /// Up to `limit` changes after `after`, oldest first, or that the log no longer has them.
    pub async fn since(&self, after: u64, limit: u32) -> Result<Since, ServiceError> {
        if self.ports.bus.keeps_log() {
            return Ok(self.ports.bus.since(after, limit).await?);
        }
        Ok(Since::Changes(
            self.ports.environments.changes_since(after, limit).await?,
        ))
    }

    /// The newest change's id.
    pub async fn latest(&self) -> Result<u64, ServiceError> {
        if self.ports.bus.keeps_log() {
            return Ok(self.ports.bus.latest().await?);
        }
        Ok(self.ports.environments.latest_change_seq().await?)
    }
}
