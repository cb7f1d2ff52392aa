//! The Bus port: fan-out of environment changes to every replica's SSE clients.
//!
//! A bus either only carries changes the store numbered (the in-process bus: SQLite's change
//! log numbers them), or is the change log itself (Redis Streams: the stream numbers each change
//! as it is appended and replays from any id it still keeps), so that no store document is
//! shared by every environment write.

use async_trait::async_trait;
use futures::stream::BoxStream;

use super::store::EnvironmentChange;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus unavailable")]
    Unavailable(#[source] anyhow::Error),
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum BusMessage {
    Change(Box<EnvironmentChange>),
    /// The subscriber fell behind or the connection dropped; changes may have been missed and
    /// should be re-read from the change log.
    Lagged,
}

/// What the change log holds after an id.
#[derive(Debug, Clone, PartialEq)]
pub enum Since {
    /// The changes after it, oldest first (at most the limit asked for).
    Changes(Vec<EnvironmentChange>),
    /// Changes after it were trimmed from the log: the reader must start again from the
    /// current state.
    Trimmed,
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Announces a change. A bus that keeps the log numbers it (its `seq` is then ignored).
    async fn publish(&self, change: &EnvironmentChange) -> Result<(), BusError>;
    /// Every change announced from now on, in the log's order when the bus keeps the log.
    fn subscribe(&self) -> BoxStream<'static, BusMessage>;
    /// Whether this bus is the change log; when not, the store's change log is.
    fn keeps_log(&self) -> bool {
        false
    }
    /// The logged changes after `after`.
    async fn since(&self, _after: u64, _limit: u32) -> Result<Since, BusError> {
        Err(BusError::Unavailable(anyhow::anyhow!(
            "this bus keeps no change log"
        )))
    }
    /// The newest logged change's id (0 when there is none).
    async fn latest(&self) -> Result<u64, BusError> {
        Err(BusError::Unavailable(anyhow::anyhow!(
            "this bus keeps no change log"
        )))
    }
}
