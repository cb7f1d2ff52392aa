//! The reaper: every interval, enqueues an expire job for each environment past its expiry
//! and repairs drift between the store and the cluster (`reconcile`).
//! At start-up it also re-enqueues work for environments left pending or deleting, in case a
//! crash fell between a state change and its job being published.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::{
    domain::{Environment, LifecycleJob, Status},
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

/// When a stalled environment may be re-queued again. The first re-queue comes once it has not
/// changed for `stale_after`; while it still does not change, each further one waits twice as
/// long (up to an hour), so a long outage is not answered with a growing pile of jobs.
#[derive(Debug, Default)]
pub struct ResyncBackoff {
    /// Environment id → (version when last re-queued, next re-queue not before, current wait).
    seen: HashMap<String, (u64, DateTime<Utc>, Duration)>,
}

const MAX_RESYNC_WAIT: Duration = Duration::from_secs(3600);

impl ResyncBackoff {
    /// Whether to re-queue `env` (already known to be stale) now, recording it if so.
    pub fn allow(&mut self, env: &Environment, now: DateTime<Utc>, stale_after: Duration) -> bool {
        let id = env.id.to_string();
        match self.seen.get(&id) {
            Some((version, not_before, _)) if *version == env.version && now < *not_before => false,
            Some((version, _, wait)) if *version == env.version => {
                let wait = (*wait * 2).min(MAX_RESYNC_WAIT);
                self.seen.insert(id, (env.version, now + wait, wait));
                true
            }
            _ => {
                self.seen
                    .insert(id, (env.version, now + stale_after, stale_after));
                true
            }
        }
    }

    /// Forgets environments that are no longer stalled.
    pub fn retain(&mut self, stalled: &HashSet<String>) {
        self.seen.retain(|id, _| stalled.contains(id));
    }
}

/// Re-enqueues the next step of pending or deleting environments that have not changed for
/// `stale_after`: a job lost with a crashed worker, or between a state change and its publish,
/// is taken up again, with a growing wait per environment while it stays stalled.
pub async fn resume_stale(
    ctx: &Context,
    stale_after: Duration,
    backoff: &mut ResyncBackoff,
) -> Result<usize, ServiceError> {
    let now = ctx.ports.clock.now();
    let cutoff = now - chrono::Duration::from_std(stale_after).unwrap_or_default();
    let mut stalled = HashSet::new();
    let count = resume_where(ctx, |env| {
        if env.updated_at >= cutoff {
            return false;
        }
        stalled.insert(env.id.to_string());
        backoff.allow(env, now, stale_after)
    })
    .await?;
    backoff.retain(&stalled);
    Ok(count)
}

async fn resume_where(
    ctx: &Context,
    mut pick: impl FnMut(&Environment) -> bool,
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
    let mut backoff = ResyncBackoff::default();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = reap_once(&ctx).await {
                    tracing::warn!(error = %e, "reaper pass failed");
                }
                if let Err(e) = super::reconcile::reconcile_once(&ctx).await {
                    tracing::warn!(error = %e, "reconcile pass failed");
                }
                match resume_stale(&ctx, stale_after, &mut backoff).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(count = n, "re-queued environments that stopped progressing"),
                    Err(e) => tracing::warn!(error = %e, "stale environment pass failed"),
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::{
        BranchName, EnvironmentId, EnvironmentName, NewEnvironment, RepositoryName, TtlHours,
    };

    fn env() -> Environment {
        let name = EnvironmentName::parse("demo").unwrap();
        Environment::create(
            EnvironmentId::derive(&name, &RepositoryName::parse("shop").unwrap()),
            NewEnvironment {
                name,
                repository_id: "r".into(),
                config_set_id: None,
                branch: BranchName::parse("main").unwrap(),
                sha: None,
                merge_request: None,
                ttl_hours: TtlHours::default(),
                helm_values_override: None,
            },
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        )
    }

    #[test]
    fn a_stalled_environment_is_requeued_less_and_less_often() {
        let mut backoff = ResyncBackoff::default();
        let mut env = env();
        let stale = Duration::from_secs(20);
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        assert!(backoff.allow(&env, at(0), stale), "first time: re-queue");
        assert!(
            !backoff.allow(&env, at(2), stale),
            "every reaper pass would pile jobs up"
        );
        assert!(!backoff.allow(&env, at(19), stale));
        assert!(backoff.allow(&env, at(20), stale), "after stale_after");
        assert!(!backoff.allow(&env, at(59), stale), "then twice as long");
        assert!(backoff.allow(&env, at(60), stale));
        assert!(!backoff.allow(&env, at(139), stale));
        assert!(backoff.allow(&env, at(140), stale));
        // It moved (a new version), then stalled again: back to the first wait.
        env.version += 1;
        assert!(backoff.allow(&env, at(141), stale));
        assert!(!backoff.allow(&env, at(160), stale));
        assert!(backoff.allow(&env, at(161), stale));
    }

    #[test]
    fn the_wait_is_capped_and_recovered_environments_are_forgotten() {
        let mut backoff = ResyncBackoff::default();
        let env = env();
        let stale = Duration::from_secs(900);
        let mut t = Utc.with_ymd_and_hms(2026, 1, 1, 1, 0, 0).unwrap();
        for _ in 0..20 {
            assert!(backoff.allow(&env, t, stale));
            t += chrono::Duration::hours(2);
        }
        let (_, _, wait) = backoff.seen[env.id.as_str()];
        assert_eq!(wait, MAX_RESYNC_WAIT);
        backoff.retain(&HashSet::new());
        assert!(backoff.seen.is_empty());
    }
}
