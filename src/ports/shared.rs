//! The Shared port: small pieces of state every replica must agree on (a JSON document under a
//! name), changed by compare-and-swap on a version. The brake on teardowns Blueberry starts on
//! its own lives here, so its limit, its pause and an admin's confirmation hold for the platform
//! as a whole and not per process.

use async_trait::async_trait;
use serde_json::Value;

use super::store::StoreResult;

#[async_trait]
pub trait Shared: Send + Sync + 'static {
    /// The document `name` and its version; `(None, 0)` when it was never written.
    async fn read(&self, name: &str) -> StoreResult<(Option<Value>, u64)>;
    /// Writes `value` as version `version + 1` if `name` is still at `version`; `false` when
    /// another writer came first (read again and retry).
    async fn write(&self, name: &str, value: &Value, version: u64) -> StoreResult<bool>;
}
