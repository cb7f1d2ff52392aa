//! The metadata ports, one per aggregate: environments (with their history and change log), the
//! catalog (repositories, config sets), tokens, subscriptions, the audit log, webhook
//! deliveries and the outbox.
//!
//! Shaped for both adapters: a document store with preconditions and cursors (Firestore) and an
//! embedded SQL file (SQLite), each implementing every one of them; the Redis cache decorates
//! only [`EnvironmentStore`]. They share one error type.

mod catalog;
mod deliveries;
mod environments;
mod records;

pub use catalog::CatalogStore;
pub use deliveries::{
    DeliveryLog, IngestOutcome, MergeRequestMark, Outbox, OutboxEntry, WebhookIngest,
};
pub use environments::{
    EnvironmentChange, EnvironmentFilter, EnvironmentStore, Occupancy, Page, PageRequest, Saved,
    decode_cursor, encode_cursor,
};
pub use records::{AuditEntry, AuditLog, SubscriptionStore, TokenStore};

/// Every metadata port at once: what an adapter (SQLite, Firestore) serves.
pub trait MetadataStore:
    EnvironmentStore + CatalogStore + TokenStore + SubscriptionStore + AuditLog + DeliveryLog + Outbox
{
}

impl<T> MetadataStore for T where
    T: EnvironmentStore
        + CatalogStore
        + TokenStore
        + SubscriptionStore
        + AuditLog
        + DeliveryLog
        + Outbox
{
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The request cannot be answered as asked (e.g. a cursor this store did not issue).
    #[error("{0}")]
    Invalid(String),
    #[error("store unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;
