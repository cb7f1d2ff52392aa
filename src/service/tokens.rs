//! API tokens: minted with a secret shown once, stored as SHA-256 hashes, scoped by role,
//! revocable, with their last use recorded.
//!
//! Every authenticated request names a token, and reading it from the store was a second
//! store round trip on every API call. Each process keeps the tokens it read for
//! [`RECHECK`](super::recent::RECHECK) (`Recent`, as ended sessions): a token revoked is
//! refused at once by the process that revoked it and by every replica within that time.
//! Expiry is checked on every request; secrets that name no token are never kept.

use chrono::Duration;

use std::sync::Arc;

use super::{ServiceError, catalog::new_secret, recent::Recent};
use crate::domain::auth::{ApiToken, Role, TOKEN_PREFIX, token_hash};
use crate::{clock::Clock, ports::TokenStore};

/// Who is calling: from an API token, a browser session, or a Firebase ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Shown in events and audit entries (`token:ci`, `alice@example.com`).
    pub name: String,
    pub role: Role,
    /// The API token behind this principal, if any (sessions and bearer tokens).
    pub token_id: Option<String>,
}

/// Only refresh `last_used_at` this often, so reads do not turn into writes.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// Tokens kept per process.
const CACHED_TOKENS: usize = 10_000;

#[derive(Clone)]
pub struct TokenService {
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    /// Tokens read, by `hash:{hash}` and `id:{id}`.
    cache: Arc<Recent<ApiToken>>,
}

impl TokenService {
    pub fn new(store: Arc<dyn TokenStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            cache: Arc::new(Recent::new(CACHED_TOKENS)),
        }
    }

    /// Token `key` from the cache, else from the store (kept when found).
    async fn lookup(
        &self,
        key: String,
        read: impl Future<Output = Result<Option<ApiToken>, crate::ports::StoreError>>,
    ) -> Result<Option<ApiToken>, ServiceError> {
        if let Some(token) = self.cache.get(&key) {
            return Ok(Some(token));
        }
        let found = read.await?;
        if let Some(token) = &found {
            self.cache.put(key, token.clone());
        }
        Ok(found)
    }

    /// Mints a token; its role may not exceed the caller's. Returns the record and the secret.
    pub async fn create(
        &self,
        caller: &Principal,
        name: &str,
        role: Role,
        expires_in_hours: Option<i64>,
    ) -> Result<(ApiToken, String), ServiceError> {
        if name.trim().is_empty()
            || name.chars().count() > 100
            || name.chars().any(char::is_control)
        {
            return Err(ServiceError::invalid(
                "name",
                "must be 1 to 100 printable characters",
            ));
        }
        if role > caller.role {
            return Err(ServiceError::Forbidden(format!(
                "a {} cannot create {} tokens",
                caller.role, role
            )));
        }
        let expires_at = match expires_in_hours {
            None => None,
            Some(h) if (1..=24 * 366).contains(&h) => Some(self.clock.now() + Duration::hours(h)),
            Some(_) => {
                return Err(ServiceError::invalid(
                    "expires_in_hours",
                    "must be between 1 and 8784 (a year)",
                ));
            }
        };
        self.mint(name, role, &caller.name, expires_at).await
    }

    async fn mint(
        &self,
        name: &str,
        role: Role,
        owner: &str,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(ApiToken, String), ServiceError> {
        let secret = new_secret(TOKEN_PREFIX);
        let token = ApiToken {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_owned(),
            role,
            hash: token_hash(&secret),
            owner: owner.to_owned(),
            created_at: self.clock.now(),
            expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        self.store.create_token(&token).await?;
        Ok((token, secret))
    }

    /// Admins see every token; others their own.
    pub async fn list(&self, caller: &Principal) -> Result<Vec<ApiToken>, ServiceError> {
        let all = self.store.list_tokens().await?;
        Ok(all
            .into_iter()
            .filter(|t| caller.role == Role::Admin || t.owner == caller.name)
            .collect())
    }

    /// Revokes at once; admins may revoke any token, others their own.
    pub async fn revoke(&self, caller: &Principal, id: &str) -> Result<(), ServiceError> {
        let not_found = || ServiceError::NotFound(format!("token `{id}`"));
        let mut token = self.store.get_token(id).await?.ok_or_else(not_found)?;
        if caller.role != Role::Admin && token.owner != caller.name {
            return Err(not_found());
        }
        if token.revoked_at.is_none() {
            token.revoked_at = Some(self.clock.now());
            self.store.update_token(&token).await?;
        }
        self.cache.forget(|token| token.id == id);
        Ok(())
    }

    /// The principal for a presented secret, if it is an active token.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Principal>, ServiceError> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let hash = token_hash(secret);
        let read = self.store.find_token_by_hash(&hash);
        let Some(token) = self.lookup(format!("hash:{hash}"), read).await? else {
            return Ok(None);
        };
        self.principal_for(token).await
    }

    /// The principal for a token id (browser sessions), if the token is still active.
    pub async fn by_id(&self, id: &str) -> Result<Option<Principal>, ServiceError> {
        match self
            .lookup(format!("id:{id}"), self.store.get_token(id))
            .await?
        {
            Some(token) => self.principal_for(token).await,
            None => Ok(None),
        }
    }

    async fn principal_for(&self, mut token: ApiToken) -> Result<Option<Principal>, ServiceError> {
        let now = self.clock.now();
        if !token.is_active(now) {
            return Ok(None);
        }
        if token.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY) {
            token.last_used_at = Some(now);
            if let Err(e) = self.store.update_token(&token).await {
                tracing::warn!(error = %e, "could not record a token's use");
            }
            // The cached copies carry the use, so the next request does not record it again.
            self.cache.change(|cached| {
                if cached.id == token.id {
                    cached.last_used_at = token.last_used_at;
                }
            });
        }
        Ok(Some(Principal {
            name: format!("token:{}", token.name),
            role: token.role,
            token_id: Some(token.id),
        }))
    }

    /// Makes sure an admin can get in: `given` (from `BLUEBERRY_BOOTSTRAP_TOKEN`) becomes an
    /// admin token if it is not one yet; without it, a fresh admin token is minted when none
    /// exists and returned with its secret, to be shown once.
    pub async fn bootstrap(
        &self,
        given: Option<&str>,
    ) -> Result<Option<(ApiToken, String)>, ServiceError> {
        if let Some(secret) = given {
            if !secret.starts_with(TOKEN_PREFIX) || secret.len() < TOKEN_PREFIX.len() + 32 {
                return Err(ServiceError::invalid(
                    "--bootstrap-token (BLUEBERRY_BOOTSTRAP_TOKEN)",
                    format!(
                        "must start with `{TOKEN_PREFIX}` and have at least 32 more characters"
                    ),
                ));
            }
            if self
                .store
                .find_token_by_hash(&token_hash(secret))
                .await?
                .is_none()
            {
                let token = ApiToken {
                    id: uuid::Uuid::new_v4().to_string(),
                    name: "bootstrap".into(),
                    role: Role::Admin,
                    hash: token_hash(secret),
                    owner: "bootstrap".into(),
                    created_at: self.clock.now(),
                    expires_at: None,
                    revoked_at: None,
                    last_used_at: None,
                };
                self.store.create_token(&token).await?;
            }
            return Ok(None);
        }
        if !self.store.list_tokens().await?.is_empty() {
            return Ok(None);
        }
        self.mint("bootstrap", Role::Admin, "bootstrap", None)
            .await
            .map(Some)
    }

    /// Mints a token for an operator at the command line.
    pub async fn create_as_operator(
        &self,
        name: &str,
        role: Role,
        expires_in_hours: Option<i64>,
    ) -> Result<(ApiToken, String), ServiceError> {
        let operator = Principal {
            name: "operator".into(),
            role: Role::Admin,
            token_id: None,
        };
        self.create(&operator, name, role, expires_in_hours).await
    }
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;
