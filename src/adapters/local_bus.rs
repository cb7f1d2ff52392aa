//! The in-process Bus: a broadcast channel (the embedded default; one replica).

use async_trait::async_trait;
use futures::{StreamExt, stream::BoxStream};
use tokio::sync::broadcast;
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

use crate::ports::{
    bus::{Bus, BusError, BusMessage},
    store::EnvironmentChange,
};

pub struct LocalBus {
    tx: broadcast::Sender<EnvironmentChange>,
}

impl LocalBus {
    /// `capacity` changes are buffered per subscriber before it is told it lagged.
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity).0,
        }
    }
}

impl Default for LocalBus {
    /// The process's change feed is the one subscriber; when it falls behind it reads the
    /// change log, so a small buffer is enough.
    fn default() -> Self {
        Self::new(1024)
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, change: &EnvironmentChange) -> Result<(), BusError> {
        // No subscribers is fine: nobody is watching.
        let _ = self.tx.send(change.clone());
        Ok(())
    }

    fn subscribe(&self) -> BoxStream<'static, BusMessage> {
        BroadcastStream::new(self.tx.subscribe())
            .map(|r| match r {
                Ok(change) => BusMessage::Change(Box::new(change)),
                Err(BroadcastStreamRecvError::Lagged(_)) => BusMessage::Lagged,
            })
            .boxed()
    }
}
