//! The small aggregates: API tokens, notification subscriptions and the audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreResult;
use crate::domain::{auth::ApiToken, notification::Subscription};

/// Something an operator or user did, kept for audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Newest first.
    async fn list_audit(&self, limit: u32) -> StoreResult<Vec<AuditEntry>>;
}

#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Conflict if the hash exists (practically impossible for random secrets).
    async fn create_token(&self, token: &ApiToken) -> StoreResult<()>;
    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>>;
    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>>;
    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>>;
    /// Replaces a token's record (revocation, last use).
    async fn update_token(&self, token: &ApiToken) -> StoreResult<()>;
}

/// Notification subscriptions, each with its delivery log.
#[async_trait]
pub trait SubscriptionStore: Send + Sync + 'static {
    /// Conflict if the id exists.
    async fn create_subscription(&self, s: &Subscription) -> StoreResult<()>;
    async fn get_subscription(&self, id: &str) -> StoreResult<Option<Subscription>>;
    /// Every subscription, by id.
    async fn list_subscriptions(&self) -> StoreResult<Vec<Subscription>>;
    /// Replaces its record (a delivery logged); NotFound once deleted.
    async fn update_subscription(&self, s: &Subscription) -> StoreResult<()>;
    /// NotFound if there is none.
    async fn delete_subscription(&self, id: &str) -> StoreResult<()>;
}
