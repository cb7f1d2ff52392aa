//! The service layer's error: what went wrong, in terms a caller can act on.

use crate::ports::{QueueError, StoreError, bus::BusError, cluster::ClusterError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A field of the request is invalid; `field` names it (`ttl_hours`, `helm_values_override.namespace`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The request as a whole cannot be understood (e.g. a foreign cursor).
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} not found")]
    NotFound(String),
    /// A field names something that does not exist (`repository_id`, `config_set_id`).
    #[error("{field}: {message}")]
    Dangling { field: String, message: String },
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request conflicts with the current state (name taken, environment terminated…).
    #[error("{0}")]
    Conflict(String),
    /// Too many concurrent writers won over and over; the change was not made. Try again.
    #[error("{0}")]
    Contention(String),
    /// A dependency is down; try again later.
    #[error("{0} is unavailable")]
    Unavailable(&'static str, #[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ServiceError {
    /// `field` names something that does not exist.
    pub fn dangling(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Dangling {
            field: field.into(),
            message: message.to_string(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.to_string(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ServiceError::NotFound(what),
            StoreError::Conflict(msg) => ServiceError::Conflict(msg),
            StoreError::Invalid(msg) => ServiceError::BadRequest(msg),
            StoreError::Unavailable(e) => ServiceError::Unavailable("the store", e),
            e @ StoreError::Corrupt(_) => ServiceError::Internal(e.into()),
        }
    }
}

impl From<QueueError> for ServiceError {
    fn from(e: QueueError) -> Self {
        ServiceError::Unavailable("the job queue", e.into())
    }
}

impl From<BusError> for ServiceError {
    fn from(e: BusError) -> Self {
        ServiceError::Unavailable("the event bus", e.into())
    }
}

impl From<ClusterError> for ServiceError {
    fn from(e: ClusterError) -> Self {
        match e {
            ClusterError::NotFound(what) => ServiceError::NotFound(what),
            other => ServiceError::Unavailable("the cluster", other.into()),
        }
    }
}
