//! The Bus port: fan-out of environment changes to every replica's SSE clients.

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
    /// should be re-read from the store's change log.
    Lagged,
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    async fn publish(&self, change: &EnvironmentChange) -> Result<(), BusError>;
    fn subscribe(&self) -> BoxStream<'static, BusMessage>;
}
