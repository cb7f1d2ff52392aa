//! The reaper: every interval, triggers a reconcile of each environment past its expiry (the
//! controller tears it down inside a versioned write, so a last-moment extension wins); on every
//! relist of the watch and every resync period, triggers every live environment
//! (level-triggered: whatever was missed is looked at again), and brings each merge request
//! environment in line with its newest recorded event (a merge request job lost on its way —
//! a subscriber killed holding it — is not a lost push); and queues GitLab feedback again where
//! the last attempt gave up. On the resync period it also archives and removes environments
//! terminated longer ago than `--retain-terminated-days` (`service::archive`).

use std::time::Duration;

use tokio::sync::watch;

use super::{controller::Controller, jobs::merge_request};
use crate::{
    domain::{EnvironmentId, EnvironmentName, Status},
    ports::{EnvironmentFilter, PageRequest},
    service::{ServiceError, writes::feedback_jobs},
};

/// Feedback older than this that still differs from the environment was given up on.
const FEEDBACK_STALE: chrono::Duration = chrono::Duration::minutes(10);

/// Triggers a reconcile of every expired environment; returns how many.
pub async fn reap_once(c: &Controller) -> Result<usize, ServiceError> {
    let expired = c
        .ctx
        .ports
        .environments
        .list_expired(c.ctx.ports.clock.now(), 500)
        .await?;
    for env in &expired {
        c.queue.trigger(env.id.as_str());
    }
    if !expired.is_empty() {
        tracing::info!(count = expired.len(), "expired environments to tear down");
    }
    Ok(expired.len())
}

/// Triggers every live environment (and re-queues stale GitLab feedback); returns how many.
pub async fn resync_once(c: &Controller) -> Result<usize, ServiceError> {
    let mut count = 0;
    let now = c.ctx.ports.clock.now();
    for status in [
        Status::Pending,
        Status::Deleting,
        Status::Ready,
        Status::Failed,
        Status::Terminated,
    ] {
        let filter = EnvironmentFilter {
            status: Some(status),
            ..Default::default()
        };
        let mut cursor = None;
        loop {
            let page = c
                .ctx
                .environments
                .list(&filter, &PageRequest { limit: 100, cursor })
                .await?;
            for env in &page.items {
                if status != Status::Terminated {
                    c.queue.trigger(env.id.as_str());
                    count += 1;
                }
                if let Some(mr) = env.merge_request.as_ref().filter(|_| env.status.is_live()) {
                    let caught_up =
                        merge_request::run(&c.ctx, &env.id, &env.repository_id, mr.iid).await;
                    if let Err(e) = caught_up {
                        tracing::warn!(env_id = %env.id, error = %e, "could not apply the newest merge request event; the next resync tries again");
                    }
                }
                if now - env.updated_at > FEEDBACK_STALE {
                    for job in feedback_jobs(env, now) {
                        c.ctx.ports.queue.enqueue(job).await?;
                    }
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    create_missing(c).await?;
    Ok(count)
}

/// Merge requests with a recorded event but no environment record at all: their job was lost
/// before it created one. (An environment that was torn down keeps its record, so nothing
/// destroyed comes back this way.)
async fn create_missing(c: &Controller) -> Result<(), ServiceError> {
    let ctx = &c.ctx;
    let mut after = String::new();
    loop {
        let keys = ctx.ports.deliveries.merge_request_keys(&after, 200).await?;
        for key in &keys {
            let Some((repository_id, iid)) = key
                .rsplit_once(':')
                .and_then(|(r, i)| Some((r, i.parse::<u64>().ok()?)))
            else {
                continue;
            };
            let Some(repo) = ctx
                .directory
                .repository(ctx.ports.catalog.as_ref(), repository_id)
                .await?
            else {
                continue;
            };
            let id = EnvironmentId::derive(&EnvironmentName::for_merge_request(iid), &repo.name);
            // No record: its first job was lost — or it was torn down and, after the retention,
            // archived. Only the first gets an environment.
            if ctx.ports.environments.get_environment(&id).await?.is_none()
                && !ctx.archives.has_archive(&id).await?
            {
                tracing::info!(env_id = %id, "a merge request has no environment yet; applying its newest event");
                if let Err(e) = merge_request::run(ctx, &id, repository_id, iid).await {
                    tracing::warn!(env_id = %id, error = %e, "could not apply the newest merge request event; the next resync tries again");
                }
            }
        }
        match keys.last() {
            Some(last) if keys.len() == 200 => after = last.clone(),
            _ => return Ok(()),
        }
    }
}

/// Runs until `shutdown` turns true.
pub async fn run(c: Controller, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    let resync_every = c.ctx.settings.lifecycle.resync;
    let mut reap = tokio::time::interval(interval);
    let mut resync = tokio::time::interval(resync_every);
    loop {
        tokio::select! {
            _ = reap.tick() => {
                if let Err(e) = reap_once(&c).await {
                    tracing::warn!(error = %e, "reaper pass failed");
                }
            }
            _ = resync.tick() => {
                match resync_once(&c).await {
                    Ok(n) => tracing::debug!(environments = n, "resync"),
                    Err(e) => tracing::warn!(error = %e, "resync pass failed"),
                }
                match c.ctx.archives.sweep(c.ctx.ports.clock.now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(environments = n, "terminated environments archived and removed from the store"),
                    Err(e) => tracing::warn!(error = %e, "archive sweep failed; the next resync tries again"),
                }
            }
            _ = c.observer.relisted.notified() => {
                // The watch listed the cluster anew (start-up, or after a gap): look at every
                // environment, including those whose Application vanished meanwhile.
                if let Err(e) = resync_once(&c).await {
                    tracing::warn!(error = %e, "resync after a relist failed");
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}
