//! The Cluster port: Argo CD Applications on a Kubernetes API (real or simulated).

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::domain::manifest::Application;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// 5xx, 429, timeouts, connection refused: worth another try.
    #[error("cluster unavailable: {0}")]
    Retriable(String),
    /// The request itself is wrong; retrying will not help.
    #[error("rejected by the cluster: {0}")]
    Invalid(String),
}

impl ClusterError {
    pub fn is_retriable(&self) -> bool {
        matches!(self, ClusterError::Retriable(_))
    }
}

pub type ClusterResult<T> = Result<T, ClusterError>;

/// What Argo CD reports about an Application.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApplicationState {
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing`, `Unknown`.
    pub health: String,
    /// `Synced`, `OutOfSync`, `Unknown`.
    pub sync: String,
    /// The revision the sync status refers to.
    pub revision: Option<String>,
    /// `operationState.phase`: `Running`, `Succeeded`, `Failed`, `Error`, `Terminating`.
    pub operation_phase: Option<String>,
    /// The most telling message: the health message, else the operation message.
    pub message: Option<String>,
    /// The Application has a `deletionTimestamp` (finalizers still running).
    pub deleting: bool,
}

impl ApplicationState {
    pub fn is_ready_at(&self, revision: &str) -> bool {
        self.health == "Healthy"
            && self.sync == "Synced"
            && !self.deleting
            && self.revision.as_deref() == Some(revision)
    }

    pub fn is_failed(&self) -> bool {
        self.health == "Degraded"
            || matches!(self.operation_phase.as_deref(), Some("Failed" | "Error"))
    }
}

#[async_trait]
pub trait Cluster: Send + Sync + 'static {
    /// True for the built-in simulator; pages and logs say so.
    fn is_simulated(&self) -> bool;
    async fn ping(&self) -> ClusterResult<()>;
    /// Server-side apply; idempotent.
    async fn apply(&self, app: &Application) -> ClusterResult<ApplicationState>;
    /// Names of the Applications Blueberry manages (label `blueberry.io/managed-by`).
    async fn list_managed(&self) -> ClusterResult<Vec<String>>;
    /// None when the Application does not exist.
    async fn state(&self, name: &str) -> ClusterResult<Option<ApplicationState>>;
    /// Starts a cascading delete; Ok when already gone.
    async fn delete(&self, name: &str) -> ClusterResult<()>;
    /// Waits until the Application is gone, up to `timeout`.
    async fn wait_gone(&self, name: &str, timeout: Duration) -> ClusterResult<()>;
    /// The Application's state on every change (None once deleted). Survives stream restarts.
    fn watch(&self, name: &str) -> BoxStream<'static, ClusterResult<Option<ApplicationState>>>;
}
