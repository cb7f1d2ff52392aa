//! The Leases port: at most one reconcile of an environment at a time across every worker
//! replica. A worker takes an environment's lease before it reconciles and gives it back after;
//! a lease that is not given back (the worker died) runs out after its time-to-live.
//!
//! A lease is an optimisation of who works, not the safety net: every environment write is
//! still checked against the record's version, so a worker that lost its lease mid-reconcile
//! (paused past the time-to-live) cannot overwrite what the next holder wrote.

use std::time::Duration;

use async_trait::async_trait;

use super::store::StoreResult;

#[async_trait]
pub trait Leases: Send + Sync + 'static {
    /// Takes the lease on `key` for `holder` for `ttl`, or extends it when `holder` has it
    /// already. False when another holder has an unexpired lease.
    async fn acquire(&self, key: &str, holder: &str, ttl: Duration) -> StoreResult<bool>;
    /// Gives the lease on `key` back, if `holder` still has it.
    async fn release(&self, key: &str, holder: &str) -> StoreResult<()>;
}
