//! The GitHost port: feedback to GitLab merge requests and member access checks.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitHostError {
    /// 5xx, 429, timeouts: retried with backoff, never blocks the lifecycle.
    #[error("GitLab unavailable: {0}")]
    Retriable(String),
    #[error("GitLab refused the request: {0}")]
    Rejected(String),
}

/// A merge request in a GitLab project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRequestRef {
    pub project_id: u64,
    pub iid: u64,
}

pub use crate::domain::feedback::CommitState;

/// GitLab access levels (10 guest … 50 owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccessLevel(pub u8);

impl AccessLevel {
    pub const NONE: AccessLevel = AccessLevel(0);
    pub const DEVELOPER: AccessLevel = AccessLevel(30);
    pub const MAINTAINER: AccessLevel = AccessLevel(40);
}

#[async_trait]
pub trait GitHost: Send + Sync + 'static {
    /// False when no GitLab is configured: callers then only record what they would send.
    fn is_configured(&self) -> bool;
    /// The newest note on the merge request whose body contains `marker`, if any (so a note
    /// whose id was lost in a crash is found instead of posted twice).
    async fn find_note(
        &self,
        mr: &MergeRequestRef,
        marker: &str,
    ) -> Result<Option<u64>, GitHostError>;
    /// Posts a note; returns its id.
    async fn create_note(&self, mr: &MergeRequestRef, body: &str) -> Result<u64, GitHostError>;
    /// Replaces a note's text; false when the note no longer exists.
    async fn edit_note(
        &self,
        mr: &MergeRequestRef,
        note_id: u64,
        body: &str,
    ) -> Result<bool, GitHostError>;
    async fn set_commit_status(
        &self,
        project_id: u64,
        sha: &str,
        state: CommitState,
        target_url: &str,
        description: &str,
    ) -> Result<(), GitHostError>;
    /// Creates or updates the GitLab environment `name` and records a deployment of `sha`.
    async fn record_deployment(
        &self,
        project_id: u64,
        name: &str,
        external_url: &str,
        sha: &str,
        git_ref: &str,
    ) -> Result<(), GitHostError>;
    async fn stop_environment(&self, project_id: u64, name: &str) -> Result<(), GitHostError>;
    async fn access_level(
        &self,
        project_id: u64,
        user_id: u64,
    ) -> Result<AccessLevel, GitHostError>;
}
