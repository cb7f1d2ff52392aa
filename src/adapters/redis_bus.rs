//! The Bus over Redis pub/sub, so an SSE client on any replica sees every change.
//!
//! Each process holds one Redis subscription and fans messages out to its local subscribers.
//! When the subscription drops (Redis restarted), it reconnects with backoff and tells local
//! subscribers they `Lagged`, so they re-read the store's change log and miss nothing.

use std::time::Duration;

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use futures::{StreamExt, stream::BoxStream};
use redis::{AsyncCommands, aio::ConnectionManager};
use tokio::sync::broadcast;
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

use crate::ports::{
    bus::{Bus, BusError, BusMessage},
    store::EnvironmentChange,
};

pub struct RedisBus {
    publisher: ConnectionManager,
    channel: String,
    local: broadcast::Sender<BusMessage>,
}

impl RedisBus {
    /// Connects to `url` and starts listening on `channel`.
    pub async fn connect(url: &str, channel: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("--redis-url is not a Redis URL: {e}"))?;
        let publisher = ConnectionManager::new(client.clone()).await?;
        let (local, _) = broadcast::channel(8192);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(listen(client, channel.to_owned(), local.clone(), ready_tx));
        // Changes published before the subscription is live would be missed by this replica.
        let _ = tokio::time::timeout(Duration::from_secs(5), ready_rx).await;
        Ok(Self {
            publisher,
            channel: channel.to_owned(),
            local,
        })
    }
}

async fn listen(
    client: redis::Client,
    channel: String,
    local: broadcast::Sender<BusMessage>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times();
    let mut backoff = policy.build();
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    backoff = policy.build();
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    } else {
                        tracing::info!("Redis bus subscription restored");
                        let _ = local.send(BusMessage::Lagged);
                    }
                    let mut messages = pubsub.on_message();
                    while let Some(msg) = messages.next().await {
                        let Ok(payload) = msg.get_payload::<String>() else {
                            continue;
                        };
                        match serde_json::from_str::<EnvironmentChange>(&payload) {
                            Ok(change) => {
                                let _ = local.send(BusMessage::Change(Box::new(change)));
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "ignoring an unreadable bus message")
                            }
                        }
                    }
                    tracing::warn!("Redis bus subscription lost; reconnecting");
                    let _ = local.send(BusMessage::Lagged);
                }
                Err(e) => tracing::warn!(error = %e, "subscribing to the Redis bus failed"),
            },
            Err(e) => tracing::warn!(error = %e, "connecting to Redis for the bus failed"),
        }
        let delay = backoff.next().unwrap_or(Duration::from_secs(5));
        tokio::time::sleep(delay).await;
    }
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, change: &EnvironmentChange) -> Result<(), BusError> {
        let payload = serde_json::to_string(change).map_err(|e| BusError::Unavailable(e.into()))?;
        let mut conn = self.publisher.clone();
        conn.publish::<_, _, i64>(&self.channel, payload)
            .await
            .map(|_| ())
            .map_err(|e| BusError::Unavailable(e.into()))
    }

    fn subscribe(&self) -> BoxStream<'static, BusMessage> {
        BroadcastStream::new(self.local.subscribe())
            .map(|r| match r {
                Ok(m) => m,
                Err(BroadcastStreamRecvError::Lagged(_)) => BusMessage::Lagged,
            })
            .boxed()
    }
}
