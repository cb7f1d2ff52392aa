//! Durable job consumers: lease a job from the queue, run it in its own task (a panic is caught
//! and counted, never taking the consumer along), keep the lease alive meanwhile, then ack,
//! defer or nack it.

use std::time::{Duration, Instant};

use tokio::{sync::watch, task::JoinSet};

use super::{
    controller::Controller,
    jobs::{self, JobOutcome},
};
use crate::{
    domain::{EnvironmentId, LifecycleJob},
    ports::Delivery,
};

/// How long a stopping consumer lets its current job finish before releasing it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What [`run_next_job`] did, so tests can drain the queue deterministically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// No job was ready within the wait.
    Idle,
    /// A job ran; its name and how it ended (`done`, `deferred`, `error`, `panic`, `poison`).
    Ran {
        job: &'static str,
        outcome: &'static str,
    },
}

/// Redelivery delay for a job that failed as a whole on delivery `n` (1, 2, …): 1 s doubling
/// up to 60 s.
pub fn redelivery_delay(delivery_attempt: u32) -> Duration {
    Duration::from_secs(1u64 << delivery_attempt.saturating_sub(1).min(6))
        .min(Duration::from_secs(60))
}

/// Reads a job; one written by an older version that names an environment becomes a reconcile
/// of it (level-triggered: the record says what is wanted).
fn read_job(payload: &serde_json::Value) -> Option<LifecycleJob> {
    if let Ok(job) = serde_json::from_value(payload.clone()) {
        return Some(job);
    }
    let id = payload.get("environment_id")?.as_str()?;
    Some(LifecycleJob::Reconcile {
        environment_id: EnvironmentId::parse(id).ok()?,
    })
}

/// Leases and runs one job, waiting at most `max_wait` for one.
pub async fn run_next_job(
    controller: &Controller,
    lease: Duration,
    max_wait: Duration,
) -> anyhow::Result<RunOutcome> {
    let ctx = &controller.ctx;
    let Some(delivery) = ctx.ports.queue.receive(lease, max_wait).await? else {
        return Ok(RunOutcome::Idle);
    };
    let Some(job) = read_job(&delivery.payload) else {
        tracing::error!(job_id = %delivery.id, "unreadable job dropped");
        ctx.ports.queue.ack(&delivery).await?;
        ctx.metrics.job("unknown", "poison");
        return Ok(RunOutcome::Ran {
            job: "unknown",
            outcome: "poison",
        });
    };
    let name = job.name();
    let keep_lease = keep_lease_alive(controller.clone(), delivery.clone(), lease);
    let started = Instant::now();
    let task = {
        let controller = controller.clone();
        tokio::spawn(async move { jobs::run(&controller, job).await })
    };
    let result = task.await;
    keep_lease.abort();
    ctx.metrics
        .job_seconds
        .observe(started.elapsed().as_secs_f64());
    let queue = &ctx.ports.queue;
    let outcome = match result {
        Ok(Ok(JobOutcome::Done)) => {
            queue.ack(&delivery).await?;
            "done"
        }
        Ok(Ok(JobOutcome::Defer(delay))) => {
            queue.defer(&delivery, delay).await?;
            "deferred"
        }
        Ok(Err(e)) => {
            let delay = redelivery_delay(delivery.delivery_attempt);
            tracing::warn!(job = name, error = %e, delivery = delivery.delivery_attempt, retry_in = ?delay, "job failed; it will be delivered again");
            queue.nack(&delivery, delay).await?;
            "error"
        }
        Err(panic) => {
            let delay = redelivery_delay(delivery.delivery_attempt);
            tracing::error!(job = name, error = %panic, retry_in = ?delay, "job panicked; it will be delivered again");
            ctx.metrics.panics.inc();
            queue.nack(&delivery, delay).await?;
            "panic"
        }
    };
    ctx.metrics.job(name, outcome);
    Ok(RunOutcome::Ran { job: name, outcome })
}

/// Extends the lease every third of its length while the job runs.
fn keep_lease_alive(
    controller: Controller,
    delivery: Delivery,
    lease: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(lease / 3);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = controller
                .ctx
                .ports
                .queue
                .extend_lease(&delivery, lease)
                .await
            {
                tracing::warn!(error = %e, job_id = %delivery.id, "could not extend the job's lease");
            }
        }
    })
}

/// Starts `count` consumers that run until `shutdown` turns true.
pub fn spawn(
    controller: &Controller,
    count: u32,
    lease: Duration,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) {
    for n in 0..count {
        let (controller, mut shutdown) = (controller.clone(), shutdown.clone());
        tasks.spawn(async move {
            loop {
                if *shutdown.borrow() {
                    break;
                }
                let step = run_next_job(&controller, lease, Duration::from_secs(1));
                tokio::pin!(step);
                let result = tokio::select! {
                    r = &mut step => r,
                    _ = shutdown.changed() => {
                        // Let the current job finish; a job cut off here is redelivered when
                        // its lease runs out (or at the next start for the embedded queue).
                        match tokio::time::timeout(SHUTDOWN_GRACE, &mut step).await {
                            Ok(r) => r,
                            Err(_) => {
                                tracing::warn!(consumer = n, "job still running at shutdown; its lease will be released");
                                break;
                            }
                        }
                    }
                };
                if let Err(e) = result {
                    tracing::warn!(consumer = n, error = %e, "queue unavailable; pausing");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redelivery_delays_grow_to_a_minute() {
        assert_eq!(redelivery_delay(1), Duration::from_secs(1));
        assert_eq!(redelivery_delay(2), Duration::from_secs(2));
        assert_eq!(redelivery_delay(7), Duration::from_secs(60));
        assert_eq!(redelivery_delay(100), Duration::from_secs(60));
    }

    #[test]
    fn jobs_of_an_older_version_become_reconciles_of_their_environment() {
        let old = json!({"job": "provision", "environment_id": "pr-1-shop", "generation": 1, "attempt": 1});
        assert_eq!(
            read_job(&old),
            Some(LifecycleJob::Reconcile {
                environment_id: EnvironmentId::parse("pr-1-shop").unwrap()
            })
        );
        assert_eq!(read_job(&json!({"job": "mystery"})), None);
    }
}
