//! Fault injectors wrapped around the real adapters (`app::Adapt`): a queue whose writes fail,
//! a store that loses races on purpose or lets a test act between a read and a write, a GitLab
//! client that panics.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use blueberry::{
    domain::{Environment, EnvironmentEvent, EnvironmentId, NewEvent},
    ports::{
        Delivery, DeliveryLog, EnvironmentFilter, EnvironmentStore, GitHost, IngestOutcome, NewJob,
        OutboxEntry, Page, PageRequest, Queue, QueueDepth, QueueError, StoreError, WebhookIngest,
        githost::{AccessLevel, CommitState, GitHostError, MergeRequestRef},
        queue::QueueResult,
        store::{EnvironmentChange, Saved, StoreResult},
    },
};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

/// A queue whose `enqueue` fails while `failing` is set.
pub struct FailingQueue {
    pub inner: Arc<dyn Queue>,
    pub failing: Arc<AtomicBool>,
}

#[async_trait]
impl Queue for FailingQueue {
    async fn enqueue(&self, job: NewJob) -> QueueResult<String> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(QueueError::Unavailable(anyhow::anyhow!(
                "injected: queue down"
            )));
        }
        self.inner.enqueue(job).await
    }
    async fn receive(&self, lease: Duration, max_wait: Duration) -> QueueResult<Option<Delivery>> {
        self.inner.receive(lease, max_wait).await
    }
    async fn ack(&self, d: &Delivery) -> QueueResult<()> {
        self.inner.ack(d).await
    }
    async fn nack(&self, d: &Delivery, delay: Duration) -> QueueResult<()> {
        self.inner.nack(d, delay).await
    }
    async fn defer(&self, d: &Delivery, delay: Duration) -> QueueResult<()> {
        self.inner.defer(d, delay).await
    }
    async fn extend_lease(&self, d: &Delivery, lease: Duration) -> QueueResult<()> {
        self.inner.extend_lease(d, lease).await
    }
    async fn depth(&self) -> QueueResult<QueueDepth> {
        self.inner.depth().await
    }
}

type Hook = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// What a [`FaultyStore`] does wrong, shared with the test: lose version races on purpose
/// (`conflicts`: environment id → how many saves to refuse) and run a hook right after a read
/// of an environment (`after_read`), as if another writer acted between that read and the
/// caller's write.
#[derive(Default)]
pub struct StoreFaults {
    pub conflicts: Mutex<HashMap<String, u32>>,
    pub after_read: Mutex<HashMap<String, Hook>>,
    pub refused: AtomicU32,
    /// Webhook deliveries are recorded, but their jobs are put off for a year: lost on the way,
    /// as a job a killed Pub/Sub subscriber held and the emulator never redelivers.
    pub lose_webhook_jobs: AtomicBool,
    /// Reads of environments go wrong: [`Blind::Failing`] answers errors, [`Blind::Empty`]
    /// answers "nothing there" (no record, empty lists) — bad information, never a reason to
    /// delete anything.
    pub blind: AtomicU8,
}

/// How a [`FaultyStore`]'s environment reads go wrong (`StoreFaults::blind`).
#[repr(u8)]
pub enum Blind {
    No = 0,
    Failing = 1,
    Empty = 2,
}

fn blind_error() -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("injected: the store cannot be read"))
}

/// A real store port (environments or deliveries) with [`StoreFaults`].
pub struct FaultyStore<S: ?Sized> {
    pub faults: Arc<StoreFaults>,
    pub inner: Arc<S>,
}

impl FaultyStore<()> {
    /// Adapters with the environment store and the delivery log wrapped in these `faults`
    /// (shared with the test).
    pub fn adapt(faults: &Arc<StoreFaults>) -> blueberry::app::Adapt {
        let (environments, deliveries) = (faults.clone(), faults.clone());
        blueberry::app::Adapt {
            environments: Some(Box::new(move |inner| {
                Arc::new(FaultyStore {
                    faults: environments,
                    inner,
                })
            })),
            deliveries: Some(Box::new(move |inner| {
                Arc::new(FaultyStore {
                    faults: deliveries,
                    inner,
                })
            })),
            ..blueberry::app::Adapt::default()
        }
    }
}

impl<S: ?Sized> FaultyStore<S> {
    fn blind(&self) -> Blind {
        match self.faults.blind.load(Ordering::SeqCst) {
            1 => Blind::Failing,
            2 => Blind::Empty,
            _ => Blind::No,
        }
    }

    fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait]
impl EnvironmentStore for FaultyStore<dyn EnvironmentStore> {
    async fn ping(&self) -> StoreResult<()> {
        self.inner().ping().await
    }
    async fn save_environment(
        &self,
        env: &Environment,
        events: &[NewEvent],
        jobs: &[NewJob],
    ) -> StoreResult<Saved> {
        {
            let mut c = self.faults.conflicts.lock().unwrap();
            if let Some(n) = c.get_mut(env.id.as_str())
                && *n > 0
            {
                *n -= 1;
                self.faults.refused.fetch_add(1, Ordering::SeqCst);
                return Err(StoreError::Conflict("injected: another writer won".into()));
            }
        }
        self.inner().save_environment(env, events, jobs).await
    }
    async fn get_environment(&self, id: &EnvironmentId) -> StoreResult<Option<Environment>> {
        match self.blind() {
            Blind::Failing => return Err(blind_error()),
            Blind::Empty => return Ok(None),
            Blind::No => {}
        }
        let read = self.inner().get_environment(id).await;
        let hook = self.faults.after_read.lock().unwrap().remove(id.as_str());
        if let Some(hook) = hook {
            hook().await;
        }
        read
    }
    async fn list_environments(
        &self,
        f: &EnvironmentFilter,
        p: &PageRequest,
    ) -> StoreResult<Page<Environment>> {
        match self.blind() {
            Blind::Failing => Err(blind_error()),
            Blind::Empty => Ok(Page {
                items: vec![],
                next: None,
            }),
            Blind::No => self.inner().list_environments(f, p).await,
        }
    }
    async fn list_expired(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Environment>> {
        match self.blind() {
            Blind::Failing => Err(blind_error()),
            Blind::Empty => Ok(vec![]),
            Blind::No => self.inner().list_expired(now, limit).await,
        }
    }
    async fn list_events(
        &self,
        id: &EnvironmentId,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<EnvironmentEvent>> {
        self.inner().list_events(id, after, limit).await
    }
    async fn remove_environment(&self, id: &EnvironmentId, version: u64) -> StoreResult<bool> {
        self.inner().remove_environment(id, version).await
    }
    async fn append_events(&self, id: &EnvironmentId, events: &[NewEvent]) -> StoreResult<()> {
        self.inner().append_events(id, events).await
    }
    async fn changes_since(&self, after: u64, limit: u32) -> StoreResult<Vec<EnvironmentChange>> {
        self.inner().changes_since(after, limit).await
    }
    async fn latest_change_seq(&self) -> StoreResult<u64> {
        self.inner().latest_change_seq().await
    }
}

#[async_trait]
impl DeliveryLog for FaultyStore<dyn DeliveryLog> {
    async fn ingest_webhook(
        &self,
        i: &WebhookIngest,
    ) -> StoreResult<(IngestOutcome, Vec<OutboxEntry>)> {
        if self.faults.lose_webhook_jobs.load(Ordering::SeqCst) {
            let mut lost = i.clone();
            lost.job.not_before = Some(Utc::now() + chrono::Duration::days(365));
            return self.inner().ingest_webhook(&lost).await;
        }
        self.inner().ingest_webhook(i).await
    }
    async fn merge_request_keys(&self, after: &str, limit: u32) -> StoreResult<Vec<String>> {
        self.inner().merge_request_keys(after, limit).await
    }
    async fn merge_request_event(&self, key: &str) -> StoreResult<Option<String>> {
        self.inner().merge_request_event(key).await
    }
}

/// A GitLab client whose `create_note` panics `panics` times before it works.
pub struct PanickingGitHost {
    pub inner: Arc<dyn GitHost>,
    pub panics: Arc<AtomicU32>,
}

#[async_trait]
impl GitHost for PanickingGitHost {
    fn is_configured(&self) -> bool {
        self.inner.is_configured()
    }
    async fn find_note(
        &self,
        mr: &MergeRequestRef,
        marker: &str,
    ) -> Result<Option<u64>, GitHostError> {
        self.inner.find_note(mr, marker).await
    }
    async fn create_note(&self, mr: &MergeRequestRef, body: &str) -> Result<u64, GitHostError> {
        if self
            .panics
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            panic!("injected: a bug in the GitLab client");
        }
        self.inner.create_note(mr, body).await
    }
    async fn edit_note(
        &self,
        mr: &MergeRequestRef,
        id: u64,
        body: &str,
    ) -> Result<bool, GitHostError> {
        self.inner.edit_note(mr, id, body).await
    }
    async fn set_commit_status(
        &self,
        project_id: u64,
        sha: &str,
        state: CommitState,
        target_url: &str,
        description: &str,
    ) -> Result<(), GitHostError> {
        self.inner
            .set_commit_status(project_id, sha, state, target_url, description)
            .await
    }
    async fn record_deployment(
        &self,
        project_id: u64,
        name: &str,
        external_url: &str,
        sha: &str,
        git_ref: &str,
    ) -> Result<(), GitHostError> {
        self.inner
            .record_deployment(project_id, name, external_url, sha, git_ref)
            .await
    }
    async fn stop_environment(&self, project_id: u64, name: &str) -> Result<(), GitHostError> {
        self.inner.stop_environment(project_id, name).await
    }
    async fn access_level(
        &self,
        project_id: u64,
        user_id: u64,
    ) -> Result<AccessLevel, GitHostError> {
        self.inner.access_level(project_id, user_id).await
    }
}
