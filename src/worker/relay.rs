//! The outbox relay: publishes jobs that a store wrote in a change's transaction but whose
//! publish right after the commit was lost (a crash, a queue outage). Only stores that cannot
//! share a transaction with the queue (Firestore) leave any; it runs in every process.

use std::time::Duration;

use tokio::sync::watch;

use crate::service::Context;

/// Entries younger than this are left to the writer's own publish.
const GRACE: Duration = Duration::from_secs(5);

/// Publishes what is older than the grace period; returns how many.
pub async fn relay_once(ctx: &Context) -> anyhow::Result<usize> {
    let before = ctx.ports.clock.now() - chrono::Duration::from_std(GRACE).unwrap_or_default();
    let pending = ctx.ports.outbox.outbox_pending(before, 200).await?;
    let n = pending.len();
    if n > 0 {
        tracing::info!(jobs = n, "publishing jobs left in the outbox");
        ctx.environments.writer().publish(pending).await;
    }
    Ok(n)
}

pub async fn run(ctx: Context, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = relay_once(&ctx).await {
                    tracing::warn!(error = %e, "outbox relay pass failed");
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}
