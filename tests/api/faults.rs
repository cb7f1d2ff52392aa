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
    domain::{
        ConfigSet, Environment, EnvironmentEvent, EnvironmentId, NewEvent, Repository,
        auth::ApiToken, notification::Subscription,
    },
    ports::{
        Delivery, EnvironmentFilter, GitHost, IngestOutcome, NewJob, OutboxEntry, Page,
        PageRequest, Queue, QueueDepth, QueueError, Store, StoreError, WebhookIngest,
        githost::{AccessLevel, CommitState, GitHostError, MergeRequestRef},
        queue::QueueResult,
        store::{AuditEntry, EnvironmentChange, Saved, StoreResult},
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

/// The real store with [`StoreFaults`].
pub struct FaultyStore {
    pub faults: Arc<StoreFaults>,
    pub inner: Arc<dyn Store>,
}

impl FaultyStore {
    fn blind(&self) -> Blind {
        match self.faults.blind.load(Ordering::SeqCst) {
            1 => Blind::Failing,
            2 => Blind::Empty,
            _ => Blind::No,
        }
    }

    /// Adapters with the store wrapped in these `faults` (shared with the test).
    pub fn adapt(faults: &Arc<StoreFaults>) -> blueberry::app::Adapt {
        let faults = faults.clone();
        blueberry::app::Adapt {
            store: Some(Box::new(move |inner| {
                Arc::new(FaultyStore { faults, inner })
            })),
            ..blueberry::app::Adapt::default()
        }
    }

    fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }
}

#[async_trait]
impl Store for FaultyStore {
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
    async fn create_repository(&self, r: &Repository) -> StoreResult<()> {
        self.inner().create_repository(r).await
    }
    async fn get_repository(&self, id: &str) -> StoreResult<Option<Repository>> {
        self.inner().get_repository(id).await
    }
    async fn find_repository_by_project(&self, project_id: u64) -> StoreResult<Option<Repository>> {
        self.inner().find_repository_by_project(project_id).await
    }
    async fn list_repositories(&self) -> StoreResult<Vec<Repository>> {
        self.inner().list_repositories().await
    }
    async fn update_repository(&self, r: &Repository) -> StoreResult<()> {
        self.inner().update_repository(r).await
    }
    async fn delete_repository(&self, id: &str) -> StoreResult<()> {
        self.inner().delete_repository(id).await
    }
    async fn create_config_set(&self, s: &ConfigSet) -> StoreResult<()> {
        self.inner().create_config_set(s).await
    }
    async fn get_config_set(&self, id: &str) -> StoreResult<Option<ConfigSet>> {
        self.inner().get_config_set(id).await
    }
    async fn list_config_sets(&self) -> StoreResult<Vec<ConfigSet>> {
        self.inner().list_config_sets().await
    }
    async fn update_config_set(&self, s: &ConfigSet) -> StoreResult<()> {
        self.inner().update_config_set(s).await
    }
    async fn delete_config_set(&self, id: &str) -> StoreResult<()> {
        self.inner().delete_config_set(id).await
    }
    async fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        self.inner().append_audit(e).await
    }
    async fn list_audit(&self, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.inner().list_audit(limit).await
    }
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
    async fn outbox_pending(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxEntry>> {
        self.inner().outbox_pending(before, limit).await
    }
    async fn outbox_delete(&self, ids: &[String]) -> StoreResult<()> {
        self.inner().outbox_delete(ids).await
    }
    async fn create_token(&self, t: &ApiToken) -> StoreResult<()> {
        self.inner().create_token(t).await
    }
    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        self.inner().find_token_by_hash(hash).await
    }
    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        self.inner().get_token(id).await
    }
    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        self.inner().list_tokens().await
    }
    async fn update_token(&self, t: &ApiToken) -> StoreResult<()> {
        self.inner().update_token(t).await
    }
    async fn create_subscription(&self, s: &Subscription) -> StoreResult<()> {
        self.inner().create_subscription(s).await
    }
    async fn get_subscription(&self, id: &str) -> StoreResult<Option<Subscription>> {
        self.inner().get_subscription(id).await
    }
    async fn list_subscriptions(&self) -> StoreResult<Vec<Subscription>> {
        self.inner().list_subscriptions().await
    }
    async fn update_subscription(&self, s: &Subscription) -> StoreResult<()> {
        self.inner().update_subscription(s).await
    }
    async fn delete_subscription(&self, id: &str) -> StoreResult<()> {
        self.inner().delete_subscription(id).await
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
