//! The lifecycle controller: reconcile workers take environment ids from the work queue, read
//! the record (what is wanted) and the shared watch cache (what Argo CD reports), let
//! `domain::lifecycle::decide` pick one short step, perform it, and requeue. No worker ever
//! waits for Argo CD: "not ready yet" is a deadline on the record and a requeue.

use std::{sync::Arc, time::Duration};

use tokio::{sync::watch, task::JoinSet};

pub use super::steps::{Action, ReconcileError};
use super::{
    observer::Observer,
    steps::{self, Scope},
    workqueue::WorkQueue,
};
use crate::{
    domain::{
        EnvironmentId,
        lifecycle::{Observation, decide},
    },
    ports::StoreError,
    service::{Context, ServiceError},
};

/// How soon a key whose lease another worker holds is looked at again.
const LEASE_BUSY_RETRY: Duration = Duration::from_millis(500);

/// The controller of one process.
#[derive(Clone)]
pub struct Controller {
    pub ctx: Context,
    pub queue: Arc<WorkQueue>,
    pub observer: Arc<Observer>,
    /// This process, as a holder of reconcile leases.
    holder: Arc<str>,
}

impl Controller {
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            queue: Arc::new(WorkQueue::default()),
            observer: Arc::new(Observer::default()),
            holder: uuid::Uuid::new_v4().to_string().into(),
        }
    }

    /// Starts the shared watch and `workers` reconcile workers, until `shutdown`.
    pub fn spawn(&self, workers: u32, shutdown: &watch::Receiver<bool>, tasks: &mut JoinSet<()>) {
        tasks.spawn(self.observer.clone().run(
            self.ctx.ports.cluster.clone(),
            self.queue.clone(),
            shutdown.clone(),
        ));
        for _ in 0..workers {
            let this = self.clone();
            tasks.spawn(async move { this.work().await });
        }
        let (queue, mut stop) = (self.queue.clone(), shutdown.clone());
        tasks.spawn(async move {
            let _ = stop.changed().await;
            queue.shut_down();
        });
    }

    async fn work(&self) {
        while let Some(key) = self.queue.next().await {
            // Another replica reconciling the environment: look again once it is done.
            match self.lease(&key).await {
                Ok(true) => {}
                Ok(false) => {
                    self.queue.done(&key, true);
                    self.queue.trigger_after(&key, LEASE_BUSY_RETRY);
                    self.ctx.metrics.job("reconcile", "lease-busy");
                    continue;
                }
                Err(e) => {
                    let retry = self.queue.done(&key, false);
                    tracing::warn!(env_id = %key, error = %e, retry_in = ?retry, "could not take the reconcile lease; retrying");
                    self.ctx.metrics.job("reconcile", "error");
                    continue;
                }
            }
            let started = std::time::Instant::now();
            let began = chrono::Utc::now();
            // A task per reconcile: a panic is caught here and never takes the worker along.
            let this = self.clone();
            let k = key.clone();
            let result = tokio::spawn(async move { this.reconcile(&k).await }).await;
            // Logged before the lease is given back, so intervals of one key never overlap in
            // the logs of correct workers (the multi-replica test checks exactly that).
            tracing::debug!(
                env_id = %key,
                holder = %self.holder,
                began = began.timestamp_micros(),
                ended = chrono::Utc::now().timestamp_micros(),
                "reconciled"
            );
            if let Err(e) = self.ctx.ports.leases.release(&key, &self.holder).await {
                tracing::warn!(env_id = %key, error = %e, "could not give the reconcile lease back; it runs out by itself");
            }
            let metrics = &self.ctx.metrics;
            metrics
                .reconcile_seconds
                .observe(started.elapsed().as_secs_f64());
            match result {
                Ok(Ok(action)) => {
                    self.queue.done(&key, true);
                    if let Action::RequeueAfter(d) = action {
                        self.queue.trigger_after(&key, d);
                    }
                    metrics.job("reconcile", "done");
                }
                Ok(Err(e)) => {
                    let retry = self.queue.done(&key, false);
                    tracing::warn!(env_id = %key, error = %e, retry_in = ?retry, "reconcile failed; it will be retried (no attempt is used)");
                    metrics.job("reconcile", "error");
                    metrics.retry("reconcile", "transient");
                }
                Err(panic) => {
                    self.queue.done(&key, false);
                    tracing::error!(env_id = %key, error = %panic, "reconcile panicked; it will be retried");
                    metrics.panics.inc();
                    metrics.job("reconcile", "panic");
                }
            }
        }
    }

    /// Takes (or renews) this process's lease on `key`.
    async fn lease(&self, key: &str) -> Result<bool, StoreError> {
        self.ctx
            .ports
            .leases
            .acquire(key, &self.holder, self.ctx.settings.reconcile_lease)
            .await
    }

    /// One reconcile of environment `key`.
    #[tracing::instrument(skip(self), fields(env_id = %key, attempt, step))]
    pub async fn reconcile(&self, key: &str) -> Result<Action, ReconcileError> {
        let Ok(id) = EnvironmentId::parse(key) else {
            return Ok(Action::AwaitChange);
        };
        let app_name = id.application_name();
        let env = self
            .ctx
            .ports
            .environments
            .get_environment(&id)
            .await
            .map_err(ServiceError::from)?;
        let observed = if self.observer.is_synced() {
            self.observer.get(&app_name)
        } else {
            // Before the first list arrives, read the one object directly.
            let read = self.ctx.ports.cluster.get(&app_name).await?;
            if let Some(app) = &read {
                self.observer.record(app.clone());
            }
            read
        };
        let Some(env) = env else {
            if observed.is_some_and(|a| !a.deleting) {
                // Never delete on missing information: only a record that says so deletes.
                tracing::warn!(application = %app_name, "Application has no environment record; left alone");
                self.ctx.metrics.unowned.inc();
            }
            return Ok(Action::AwaitChange);
        };
        tracing::Span::current().record("attempt", env.attempt);
        let observation = match &observed {
            Some(app) => Observation::Present(app),
            None => Observation::Absent,
        };
        let now = self.ctx.ports.clock.now();
        let policy = &self.ctx.settings.lifecycle;
        // A repository that sleeps idle environments or keeps awake hours: they join the policy.
        let repo = self
            .ctx
            .directory
            .repository(self.ctx.ports.catalog.as_ref(), &env.repository_id)
            .await
            .map_err(ServiceError::from)?;
        let idle = repo.as_ref().and_then(|r| r.sleep_after_idle_minutes);
        let schedule = repo.and_then(|r| r.sleep_schedule.clone());
        let with_repository;
        let policy = if idle.is_some() || schedule.is_some() {
            with_repository = crate::domain::lifecycle::Policy {
                idle_sleep: idle.map(|m| std::time::Duration::from_secs(u64::from(m) * 60)),
                schedule,
                ..policy.clone()
            };
            &with_repository
        } else {
            policy
        };
        let step = decide(&env, observation, now, self.observer.is_live(), policy);
        tracing::Span::current().record("step", tracing::field::debug(&step));
        // One line per decision, carrying the span's environment, attempt and step.
        tracing::debug!(status = %env.status, "decided");
        let resources = observed.map(|a| a.resources).unwrap_or_default();
        let scope = Scope {
            ctx: &self.ctx,
            observer: &self.observer,
            holder: &self.holder,
        };
        steps::perform(&scope, &env, step, resources).await
    }
}
