//! Where requests to environments' hosts are counted (ingress-nginx's metrics in Prometheus):
//! traffic is activity, so a visited environment does not sleep for being idle.

use std::time::Duration;

use async_trait::async_trait;

#[async_trait]
pub trait Traffic: Send + Sync {
    /// The hosts that were sent at least one request in the last `window`.
    async fn busy_hosts(&self, window: Duration) -> anyhow::Result<Vec<String>>;
}
