//! The worker pool: N workers lease lifecycle jobs from the queue, run them, and ack or nack;
//! the reaper enqueues teardown for expired environments.

pub mod backoff;
pub mod jobs;
pub mod reaper;
pub mod reconcile;

use std::time::{Duration, Instant};

use tokio::{sync::watch, task::JoinSet};

use crate::{domain::LifecycleJob, ports::Delivery, service::Context};

pub use jobs::JobOutcome;

/// How long a stopping worker lets its current job finish before releasing it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What [`run_next_job`] did, so tests can drain the queue deterministically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// No job was ready within the wait.
    Idle,
    /// A job ran; its name and how it ended (`done`, `retry`, `error`, `poison`).
    Ran {
        job: &'static str,
        outcome: &'static str,
    },
}

/// Leases and runs one job, waiting at most `max_wait` for one.
pub async fn run_next_job(
    ctx: &Context,
    lease: Duration,
    max_wait: Duration,
) -> anyhow::Result<RunOutcome> {
    let Some(delivery) = ctx.ports.queue.receive(lease, max_wait).await? else {
        return Ok(RunOutcome::Idle);
    };
    let job: LifecycleJob = match serde_json::from_value(delivery.payload.clone()) {
        Ok(job) => job,
        Err(e) => {
            tracing::error!(job_id = %delivery.id, error = %e, "unreadable job dropped");
            ctx.ports.queue.ack(&delivery).await?;
            ctx.metrics.job("unknown", "poison");
            return Ok(RunOutcome::Ran {
                job: "unknown",
                outcome: "poison",
            });
        }
    };
    let name = job.name();
    let keep_lease = keep_lease_alive(ctx.clone(), delivery.clone(), lease);
    let started = Instant::now();
    let result = jobs::run(ctx, job).await;
    keep_lease.abort();
    ctx.metrics
        .job_seconds
        .observe(started.elapsed().as_secs_f64());
    let outcome = match result {
        Ok(JobOutcome::Done) => {
            ctx.ports.queue.ack(&delivery).await?;
            "done"
        }
        Ok(JobOutcome::RetryAfter(delay)) => {
            ctx.ports.queue.nack(&delivery, delay).await?;
            "retry"
        }
        Err(e) => {
            let delay = backoff::redelivery_delay(delivery.delivery_attempt);
            tracing::warn!(job = name, error = %e, delivery = delivery.delivery_attempt, retry_in = ?delay, "job failed; will be delivered again");
            ctx.ports.queue.nack(&delivery, delay).await?;
            "error"
        }
    };
    ctx.metrics.job(name, outcome);
    Ok(RunOutcome::Ran { job: name, outcome })
}

/// Extends the lease every third of its length while the job runs.
fn keep_lease_alive(
    ctx: Context,
    delivery: Delivery,
    lease: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(lease / 3);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = ctx.ports.queue.extend_lease(&delivery, lease).await {
                tracing::warn!(error = %e, job_id = %delivery.id, "could not extend the job's lease");
            }
        }
    })
}

/// Starts `count` workers that run until `shutdown` turns true.
pub fn spawn_pool(
    ctx: Context,
    count: u32,
    lease: Duration,
    shutdown: watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) {
    for n in 0..count {
        let (ctx, mut shutdown) = (ctx.clone(), shutdown.clone());
        tasks.spawn(async move {
            tracing::debug!(worker = n, "worker started");
            loop {
                if *shutdown.borrow() {
                    break;
                }
                let step = run_next_job(&ctx, lease, Duration::from_secs(1));
                tokio::pin!(step);
                let result = tokio::select! {
                    r = &mut step => r,
                    _ = shutdown.changed() => {
                        // Let the current job finish; a job cut off here is redelivered when
                        // its lease runs out (or at the next start for the embedded queue).
                        match tokio::time::timeout(SHUTDOWN_GRACE, &mut step).await {
                            Ok(r) => r,
                            Err(_) => {
                                tracing::warn!(worker = n, "job still running at shutdown; its lease will be released");
                                break;
                            }
                        }
                    }
                };
                if let Err(e) = result {
                    tracing::warn!(worker = n, error = %e, "queue unavailable; pausing");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            tracing::debug!(worker = n, "worker stopped");
        });
    }
}
