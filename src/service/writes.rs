//! How every environment change is written: a versioned read-modify-write whose events and
//! jobs commit with it (one SQLite transaction; an outbox in Firestore), announced on the bus,
//! with the outbox published right after the commit.

use std::sync::Arc;

use crate::{
    domain::{
        Environment, EnvironmentId, LifecycleJob, NewEvent, Status,
        feedback::{commit_signature, signature},
    },
    ports::{NewJob, OutboxEntry, StoreError},
};

use super::{Ports, ServiceError};

/// How many times a read-modify-write is retried when another writer got there first.
pub(super) const MAX_WRITE_RETRIES: usize = 8;

/// Whether a change asks the controller to look at the environment again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The change is the controller's own (it requeues itself).
    None,
    /// The change asks for something (create, redeploy, teardown…): queue a reconcile with it.
    Reconcile,
}

/// What a change records: its events, and jobs that must happen with it (committed together).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    pub events: Vec<NewEvent>,
    pub jobs: Vec<LifecycleJob>,
}

impl Change {
    pub fn events(events: Vec<NewEvent>) -> Option<Self> {
        Some(Self {
            events,
            jobs: vec![],
        })
    }

    pub fn event(event: NewEvent) -> Option<Self> {
        Self::events(vec![event])
    }
}

/// The job as the queue carries it.
pub fn new_job(job: &LifecycleJob, not_before: Option<chrono::DateTime<chrono::Utc>>) -> NewJob {
    NewJob {
        ordering_key: job.ordering_key(),
        payload: serde_json::to_value(job).expect("jobs serialize"),
        not_before,
        coalesce_key: job.coalesce_key(),
    }
}

/// What a merge request environment's change asks of GitLab: the commit status and GitLab
/// environment at once (every commit gets its own status), the sticky note not before
/// `note_at`, so that the changes until then are one note update (the queue merges a waiting
/// note job with the next).
pub fn feedback_jobs(env: &Environment, note_at: chrono::DateTime<chrono::Utc>) -> Vec<NewJob> {
    if env.merge_request.is_none() {
        return Vec::new();
    }
    let mut jobs = Vec::new();
    if env.feedback.commit_synced.as_deref() != Some(commit_signature(env).as_str()) {
        let notify = LifecycleJob::Notify {
            environment_id: env.id.clone(),
        };
        jobs.push(new_job(&notify, None));
    }
    if env.feedback.synced.as_deref() != Some(signature(env).as_str()) {
        let note = LifecycleJob::StickyNote {
            environment_id: env.id.clone(),
        };
        jobs.push(new_job(&note, Some(note_at)));
    }
    jobs
}

/// The write path, shared by the environment use cases.
#[derive(Clone)]
pub struct Writer {
    pub(super) ports: Ports,
    /// How long a sticky-note update waits for more changes to say in the same call.
    note_window: chrono::Duration,
}

impl Writer {
    pub fn new(ports: Ports, note_window: std::time::Duration) -> Self {
        Self {
            ports,
            note_window: chrono::Duration::from_std(note_window).unwrap_or(chrono::Duration::MAX),
        }
    }

    /// Reads `id`; ids that are not DNS labels cannot exist.
    pub async fn get(&self, id: &str) -> Result<Environment, ServiceError> {
        let not_found = || ServiceError::NotFound(format!("environment `{id}`"));
        let id = EnvironmentId::parse(id).map_err(|_| not_found())?;
        self.ports
            .environments
            .get_environment(&id)
            .await?
            .ok_or_else(not_found)
    }

    /// Read-modify-write of one environment, retried when a concurrent writer wins. `change`
    /// returns what to record, or None when nothing needs to change; its jobs commit with it
    /// (plus a reconcile when `trigger` asks, and GitLab feedback when that changed).
    pub async fn update<F>(
        &self,
        id: &str,
        trigger: Trigger,
        mut change: F,
    ) -> Result<Environment, ServiceError>
    where
        F: FnMut(&mut Environment) -> Result<Option<Change>, ServiceError>,
    {
        for _ in 0..MAX_WRITE_RETRIES {
            let mut env = self.get(id).await?;
            let Some(Change { events, jobs }) = change(&mut env)? else {
                return Ok(env);
            };
            match self.save(&env, &events, trigger, &jobs).await {
                Err(ServiceError::Conflict(_)) if env.version > 0 => continue,
                other => return other,
            }
        }
        Err(ServiceError::Contention(format!(
            "environment `{id}` is changing too quickly; try again"
        )))
    }

    /// Stores the environment with its events and jobs in one commit and announces the change
    /// on the bus. A bus failure is logged, not returned: SSE clients resync from the change
    /// log. A version conflict is `Conflict` (the caller re-reads).
    pub async fn save(
        &self,
        env: &Environment,
        events: &[NewEvent],
        trigger: Trigger,
        extra: &[LifecycleJob],
    ) -> Result<Environment, ServiceError> {
        let mut jobs: Vec<NewJob> = extra.iter().map(|j| new_job(j, None)).collect();
        if trigger == Trigger::Reconcile {
            jobs.push(new_job(
                &LifecycleJob::Reconcile {
                    environment_id: env.id.clone(),
                },
                None,
            ));
        }
        // Merge request environments tell GitLab about every change worth telling.
        jobs.extend(feedback_jobs(
            env,
            self.ports.clock.now() + self.note_window,
        ));
        // Moments subscriptions may want (ready, failed, expiring, terminated).
        for topic in events
            .iter()
            .filter_map(|e| crate::domain::notification::Topic::of(e.kind))
        {
            jobs.push(new_job(
                &LifecycleJob::Announce {
                    environment_id: env.id.clone(),
                    topic,
                    version: env.version,
                },
                None,
            ));
        }
        // A terminated environment's archive is (re)written with what this save adds.
        if env.status == Status::Terminated {
            jobs.push(new_job(
                &LifecycleJob::Archive {
                    environment_id: env.id.clone(),
                },
                None,
            ));
        }
        let saved = self
            .ports
            .environments
            .save_environment(env, events, &jobs)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => ServiceError::Conflict(m),
                other => other.into(),
            })?;
        self.publish(saved.outbox).await;
        if let Err(e) = self.ports.bus.publish(&saved.change).await {
            tracing::warn!(env_id = %env.id, error = %e, "could not publish environment change");
        }
        Ok(saved.change.environment)
    }

    /// Publishes outbox entries the store left for us, then removes them. A failure leaves
    /// them for the relay (`worker::relay`), which publishes what is older than a few seconds.
    pub async fn publish(&self, outbox: Vec<OutboxEntry>) {
        if outbox.is_empty() {
            return;
        }
        let mut done = Vec::with_capacity(outbox.len());
        for entry in outbox {
            match self.ports.queue.enqueue(entry.job).await {
                Ok(_) => done.push(entry.id),
                Err(e) => {
                    tracing::warn!(error = %e, "publishing a job failed; the outbox relay will retry");
                    break;
                }
            }
        }
        if let Err(e) = self.ports.outbox.outbox_delete(&done).await {
            tracing::warn!(error = %e, "could not remove published outbox entries; they may be published twice");
        }
    }

    /// Queues a job that goes with no change (a reply, a reconcile on request).
    pub async fn enqueue(&self, job: &LifecycleJob) -> Result<(), ServiceError> {
        self.ports.queue.enqueue(new_job(job, None)).await?;
        Ok(())
    }
}

/// The shared handle the use cases hold.
pub type SharedWriter = Arc<Writer>;
