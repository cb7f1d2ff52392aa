//! The Cluster port: Argo CD Applications on a Kubernetes API (real or simulated).

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::domain::manifest::Application;

pub use crate::domain::argo::ObservedApplication;

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

/// What the watch of managed Applications reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterEvent {
    /// An Application was created or changed.
    Applied(Box<ObservedApplication>),
    /// An Application is gone (its last state).
    Deleted(Box<ObservedApplication>),
    /// The watch (re)started from a list: every managed Application there is now.
    Relisted(Vec<ObservedApplication>),
}

#[async_trait]
pub trait Cluster: Send + Sync + 'static {
    /// True for the built-in simulator; pages and logs say so.
    fn is_simulated(&self) -> bool;
    async fn ping(&self) -> ClusterResult<()>;
    /// Server-side apply; idempotent. Returns the Application as stored.
    async fn apply(&self, app: &Application) -> ClusterResult<ObservedApplication>;
    /// None when the Application does not exist.
    async fn get(&self, name: &str) -> ClusterResult<Option<ObservedApplication>>;
    /// Starts a cascading delete; Ok when already gone.
    async fn delete(&self, name: &str) -> ClusterResult<()>;
    /// One watch of every Application Blueberry manages (label `blueberry.io/managed-by`). It
    /// reconnects by itself, relisting when it cannot resume; errors are reported, not final.
    fn watch_managed(&self) -> BoxStream<'static, ClusterResult<ClusterEvent>>;
}
