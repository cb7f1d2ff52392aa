//! The reaper: every interval, enqueues an expire job for each environment past its expiry
//! and repairs drift between the store and the cluster (`reconcile`).
//! At start-up it also re-enqueues work for environments left pending or deleting, in case a
//! crash fell between a state change and its job being published.

use std::time::Duration;

use tokio::sync::watch;

use crate::{
    domain::{LifecycleJob, Status},
    ports::{EnvironmentFilter, PageRequest},
    service::{Context, ServiceError},
};

/// Enqueues expire jobs for expired environments; returns how many.
pub async fn reap_once(ctx: &Context) -> Result<usize, ServiceError> {
    let expired = ctx
        .ports
        .store
        .list_expired(ctx.ports.clock.now(), 500)
        .await?;
    for env in &expired {
        ctx.environments
            .enqueue(
                LifecycleJob::Expire {
                    environment_id: env.id.clone(),
                },
                None,
            )
            .await?;
    }
    if !expired.is_empty() {
        tracing::info!(
            count = expired.len(),
            "expired environments queued for teardown"
        );
    }
    Ok(expired.len())
}

/// Re-enqueues the next step of every pending or deleting environment. Jobs are idempotent,
/// so one that was already queued does no harm.
pub async fn resume_unfinished(ctx: &Context) -> Result<usize, ServiceError> {
    resume_where(ctx, |_| true).await
}

/// Re-enqueues the next step of pending or deleting environments that have not changed for
/// `stale_after`: a job lost with a crashed worker, or between a state change and its publish,
/// is taken up again.
pub async fn resume_stale(ctx: &Context, stale_after: Duration) -> Result<usize, ServiceError> {
    let cutoff =
        ctx.ports.clock.now() - chrono::Duration::from_std(stale_after).unwrap_or_default();
    resume_where(ctx, |env| env.updated_at < cutoff).await
}

async fn resume_where(
    ctx: &Context,
    pick: impl Fn(&crate::domain::Environment) -> bool,
) -> Result<usize, ServiceError> {
    let mut count = 0;
    for status in [Status::Pending, Status::Deleting] {
        let filter = EnvironmentFilter {
            status: Some(status),
            ..Default::default()
        };
        let mut cursor = None;
        loop {
            let page = ctx
                .environments
                .list(&filter, &PageRequest { limit: 100, cursor })
                .await?;
            for env in page.items.iter().filter(|e| pick(e)) {
                let job = match status {
                    Status::Pending => LifecycleJob::Apply {
                        environment_id: env.id.clone(),
                        generation: env.generation,
                        attempt: env.attempt,
                    },
                    _ => LifecycleJob::Teardown {
                        environment_id: env.id.clone(),
                    },
                };
                ctx.environments.enqueue(job, None).await?;
                count += 1;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(count)
}

/// Runs the reaper every `interval` until `shutdown` turns true.
pub async fn run(
    ctx: Context,
    interval: Duration,
    stale_after: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = reap_once(&ctx).await {
                    tracing::warn!(error = %e, "reaper pass failed");
                }
                if let Err(e) = super::reconcile::reconcile_once(&ctx).await {
                    tracing::warn!(error = %e, "reconcile pass failed");
                }
                match resume_stale(&ctx, stale_after).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(count = n, "re-queued environments that stopped progressing"),
                    Err(e) => tracing::warn!(error = %e, "stale environment pass failed"),
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}
