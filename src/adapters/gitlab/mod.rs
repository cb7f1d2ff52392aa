//! The GitHost port over GitLab's REST API (v4), through the `gitlab` crate's typed endpoints.
//!
//! `transport.rs` is the client (the crate's `AsyncGitlab`, built on first use so a GitLab outage
//! at start-up stops nothing); `endpoints.rs` adds the environment endpoints the crate lacks.
//! 429 (honouring `Retry-After`), 5xx and unreachable are retried with backon (exponential,
//! jittered, bounded); anything else is a rejection. A 404 is an answer: the thing is not there.
//! The token travels only in the `PRIVATE-TOKEN` header and never appears in errors or logs.
//!
//! Long on purpose: one method per GitHost call, each with what GitLab's answers to it mean; the
//! client is `transport.rs`.

mod endpoints;
mod transport;

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable};
use gitlab::api::{
    self, ApiError, AsyncQuery, Pagination,
    common::SortOrder,
    projects::{
        deployments::{CreateDeployment, DeploymentStatus},
        environments::Environments,
        members::AllProjectMember,
        merge_requests::notes::{
            CreateMergeRequestNote, EditMergeRequestNote, MergeRequestNotes, NoteOrderBy,
        },
        repository::commits::{CommitStatusState, CreateCommitStatus},
    },
};
use secrecy::SecretString;
use serde::Deserialize;

use self::{
    endpoints::{CreateEnvironment, EditEnvironment, StopEnvironment},
    transport::{LazyGitlab, Transport},
};
use crate::{
    domain::feedback::COMMIT_STATUS_NAME,
    metrics::{GitLabLabels, Metrics},
    ports::githost::{AccessLevel, CommitState, GitHost, GitHostError, MergeRequestRef},
};

/// How many notes `find_note` looks through, newest first.
const FIND_NOTE_LIMIT: usize = 500;

pub struct GitLabHost {
    client: LazyGitlab,
    metrics: Arc<Metrics>,
}

/// A call that failed, with how long GitLab asked us to wait.
#[derive(Debug)]
struct Attempt {
    error: GitHostError,
    retry_after: Option<Duration>,
    /// GitLab answered 429.
    rate_limited: bool,
}

#[derive(Deserialize)]
struct Id {
    id: u64,
}

#[derive(Deserialize)]
struct Note {
    id: u64,
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
struct Member {
    access_level: u64,
}

impl GitLabHost {
    /// `url` is GitLab's base URL (e.g. https://gitlab.example.com); at most `per_second`
    /// requests a second go to it.
    pub fn new(
        url: &str,
        token: SecretString,
        per_second: NonZeroU32,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client: LazyGitlab::new(url, token, per_second, metrics.clone())?,
            metrics,
        })
    }

    fn count<T>(&self, endpoint: &str, result: &Result<Option<T>, Attempt>) {
        let outcome = match result {
            Ok(Some(_)) => "ok",
            Ok(None) => "not_found",
            Err(a) if a.rate_limited => "rate_limited",
            Err(Attempt {
                error: GitHostError::Retriable(_),
                ..
            }) => "unavailable",
            Err(_) => "rejected",
        };
        self.metrics
            .gitlab_requests
            .get_or_create(&GitLabLabels {
                endpoint: endpoint.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Runs one query with retries; `Ok(None)` when GitLab answers 404.
    async fn send<Q, T>(&self, what: &str, query: Q) -> Result<Option<T>, GitHostError>
    where
        Q: AsyncQuery<T, LazyGitlab> + Sync,
        T: Send,
    {
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_max_times(4)
            .with_jitter();
        (|| async {
            let result = answer(what, query.query_async(&self.client).await);
            self.count(what, &result);
            result
        })
            .retry(policy)
            .when(|a: &Attempt| matches!(a.error, GitHostError::Retriable(_)))
            .adjust(|a: &Attempt, planned| a.retry_after.or(planned))
            .notify(|a: &Attempt, after| tracing::warn!(error = %a.error, retry_in = ?after, "GitLab call failed; retrying"))
            .await
            .map_err(|a| a.error)
    }

    /// The id of the project's GitLab environment `name`, if it exists.
    async fn environment_id(
        &self,
        project_id: u64,
        name: &str,
    ) -> Result<Option<u64>, GitHostError> {
        let list = Environments::builder()
            .project(project_id)
            .name(name)
            .build()
            .map_err(built)?;
        let found: Option<Vec<Id>> = self.send("list_environments", list).await?;
        Ok(found.and_then(|e| e.first().map(|e| e.id)))
    }
}

/// An endpoint the builder refused: a bug in this adapter, never worth retrying.
fn built(e: impl std::fmt::Display) -> GitHostError {
    GitHostError::Rejected(format!("GitLab request: {e}"))
}

fn required<T>(v: Option<T>, what: &str) -> Result<T, GitHostError> {
    v.ok_or_else(|| GitHostError::Rejected(format!("{what}: not found")))
}

/// What one query's result means for the port: a 404 is `None`, busy or unreachable is worth
/// retrying, anything else is GitLab saying no.
fn answer<T>(what: &str, result: Result<T, ApiError<Transport>>) -> Result<Option<T>, Attempt> {
    let error = match result {
        Ok(v) => return Ok(Some(v)),
        Err(e) => e,
    };
    let rate_limited = match &error {
        ApiError::GitlabRateLimited { .. } => true,
        ApiError::Client {
            source: Transport::Busy { status, .. },
        } => *status == http::StatusCode::TOO_MANY_REQUESTS,
        _ => false,
    };
    let (error, retry_after) = match error {
        ApiError::GitlabWithStatus { status, .. } | ApiError::GitlabService { status, .. }
            if status == http::StatusCode::NOT_FOUND =>
        {
            return Ok(None);
        }
        ApiError::Client { source } => {
            let retry_after = match &source {
                Transport::Busy { retry_after, .. } => *retry_after,
                _ => None,
            };
            let text = format!("{what}: {source}");
            if source.is_retriable() {
                (GitHostError::Retriable(text), retry_after)
            } else {
                (GitHostError::Rejected(text), None)
            }
        }
        ApiError::GitlabRateLimited { retry_after, .. } => (
            GitHostError::Retriable(format!("{what}: GitLab answered 429")),
            Some(retry_after).filter(|d| !d.is_zero()),
        ),
        ApiError::GitlabWithStatus { status, msg } => (
            GitHostError::Rejected(format!(
                "{what}: {status} {}",
                msg.chars().take(200).collect::<String>()
            )),
            None,
        ),
        other => (GitHostError::Rejected(format!("{what}: {other}")), None),
    };
    Err(Attempt {
        error,
        retry_after,
        rate_limited,
    })
}

fn commit_state(state: CommitState) -> CommitStatusState {
    match state {
        CommitState::Pending => CommitStatusState::Pending,
        CommitState::Running => CommitStatusState::Running,
        CommitState::Success => CommitStatusState::Success,
        CommitState::Failed => CommitStatusState::Failed,
        CommitState::Canceled => CommitStatusState::Canceled,
    }
}

#[async_trait]
impl GitHost for GitLabHost {
    fn is_configured(&self) -> bool {
        true
    }

    async fn find_note(
        &self,
        mr: &MergeRequestRef,
        marker: &str,
    ) -> Result<Option<u64>, GitHostError> {
        // Newest first; Blueberry's notes are few and recent, so a few pages are plenty.
        let list = MergeRequestNotes::builder()
            .project(mr.project_id)
            .merge_request(mr.iid)
            .order_by(NoteOrderBy::CreatedAt)
            .sort(SortOrder::Descending)
            .build()
            .map_err(built)?;
        let notes: Option<Vec<Note>> = self
            .send(
                "list_notes",
                api::paged(list, Pagination::Limit(FIND_NOTE_LIMIT)),
            )
            .await?;
        Ok(notes
            .unwrap_or_default()
            .into_iter()
            .find(|n| n.body.contains(marker))
            .map(|n| n.id))
    }

    async fn create_note(&self, mr: &MergeRequestRef, body: &str) -> Result<u64, GitHostError> {
        let create = CreateMergeRequestNote::builder()
            .project(mr.project_id)
            .merge_request(mr.iid)
            .body(body)
            .build()
            .map_err(built)?;
        let created: Option<Id> = self.send("create_note", create).await?;
        Ok(required(created, "merge request")?.id)
    }

    async fn edit_note(
        &self,
        mr: &MergeRequestRef,
        note_id: u64,
        body: &str,
    ) -> Result<bool, GitHostError> {
        let edit = EditMergeRequestNote::builder()
            .project(mr.project_id)
            .merge_request(mr.iid)
            .note(note_id)
            .body(body)
            .build()
            .map_err(built)?;
        Ok(self.send("edit_note", api::ignore(edit)).await?.is_some())
    }

    async fn set_commit_status(
        &self,
        project_id: u64,
        sha: &str,
        state: CommitState,
        target_url: &str,
        description: &str,
    ) -> Result<(), GitHostError> {
        let status = CreateCommitStatus::builder()
            .project(project_id)
            .commit(sha)
            .state(commit_state(state))
            .name(COMMIT_STATUS_NAME)
            .target_url(target_url)
            .description(description)
            .build()
            .map_err(built)?;
        let done = self.send("set_commit_status", api::ignore(status)).await?;
        required(done, "commit")
    }

    async fn record_deployment(
        &self,
        project_id: u64,
        name: &str,
        external_url: &str,
        sha: &str,
        git_ref: &str,
    ) -> Result<(), GitHostError> {
        match self.environment_id(project_id, name).await? {
            Some(environment) => {
                let edit = EditEnvironment {
                    project: project_id,
                    environment,
                    external_url,
                };
                self.send("edit_environment", api::ignore(edit)).await?;
            }
            None => {
                let create = CreateEnvironment {
                    project: project_id,
                    name,
                    external_url,
                };
                let created = self.send("create_environment", api::ignore(create)).await?;
                required(created, "project")?;
            }
        }
        let deployment = CreateDeployment::builder()
            .project(project_id)
            .environment(name)
            .sha(sha)
            .ref_(git_ref)
            .tag(false)
            .status(DeploymentStatus::Success)
            .build()
            .map_err(built)?;
        let created = self
            .send("create_deployment", api::ignore(deployment))
            .await?;
        required(created, "project")
    }

    async fn stop_environment(&self, project_id: u64, name: &str) -> Result<(), GitHostError> {
        if let Some(environment) = self.environment_id(project_id, name).await? {
            let stop = StopEnvironment {
                project: project_id,
                environment,
            };
            self.send("stop_environment", api::ignore(stop)).await?;
        }
        Ok(())
    }

    async fn access_level(
        &self,
        project_id: u64,
        user_id: u64,
    ) -> Result<AccessLevel, GitHostError> {
        let member = AllProjectMember::builder()
            .project(project_id)
            .user(user_id)
            .build()
            .map_err(built)?;
        let member: Option<Member> = self.send("read_member", member).await?;
        Ok(member.map_or(AccessLevel::NONE, |m| {
            AccessLevel(m.access_level.min(255) as u8)
        }))
    }
}
