//! The GitHost used when no GitLab is configured (the embedded default). It sends nothing;
//! callers record what they would have sent in the environment's events instead.

use async_trait::async_trait;

use crate::ports::githost::{AccessLevel, CommitState, GitHost, GitHostError, MergeRequestRef};

pub struct DisabledGitHost;

fn disabled() -> GitHostError {
    GitHostError::Rejected("GitLab is not configured".to_owned())
}

#[async_trait]
impl GitHost for DisabledGitHost {
    fn is_configured(&self) -> bool {
        false
    }
    async fn find_note(&self, _: &MergeRequestRef, _: &str) -> Result<Option<u64>, GitHostError> {
        Err(disabled())
    }
    async fn create_note(&self, _: &MergeRequestRef, _: &str) -> Result<u64, GitHostError> {
        Err(disabled())
    }
    async fn edit_note(&self, _: &MergeRequestRef, _: u64, _: &str) -> Result<bool, GitHostError> {
        Err(disabled())
    }
    async fn set_commit_status(
        &self,
        _: u64,
        _: &str,
        _: CommitState,
        _: &str,
        _: &str,
    ) -> Result<(), GitHostError> {
        Err(disabled())
    }
    async fn record_deployment(
        &self,
        _: u64,
        _: &str,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<(), GitHostError> {
        Err(disabled())
    }
    async fn stop_environment(&self, _: u64, _: &str) -> Result<(), GitHostError> {
        Err(disabled())
    }
    async fn access_level(&self, _: u64, _: u64) -> Result<AccessLevel, GitHostError> {
        Err(disabled())
    }
}
