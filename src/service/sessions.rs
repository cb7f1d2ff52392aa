//! What browser sessions stand on besides their token: one-time login links, and ending a
//! user's sessions.
//!
//! A login link carries a random code, kept as its SHA-256, that starts one session for the API
//! token it names within [`LOGIN_CODE_MINUTES`] and is gone after. API tokens themselves never
//! travel in URLs. Every session is checked against the moment an admin last ended its user's
//! sessions; each process keeps that answer for [`RECHECK`](super::recent::RECHECK), so an
//! ended session is refused by every replica within that time (and at once by the one that
//! ended it).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{
    ServiceError, catalog::new_secret, recent::Recent, tokens::Principal, tokens::TokenService,
};
use crate::{
    clock::Clock,
    domain::auth::{LOGIN_CODE_MINUTES, LOGIN_CODE_PREFIX, LoginCode, token_hash},
    ports::{AuditEntry, AuditLog, Sessions},
};

/// Users whose ended sessions a process keeps.
const CACHED_USERS: usize = 10_000;

#[derive(Clone)]
pub struct SessionService {
    sessions: Arc<dyn Sessions>,
    audit: Arc<dyn AuditLog>,
    tokens: TokenService,
    clock: Arc<dyn Clock>,
    /// Per user: when their sessions were last ended (if ever).
    ended: Arc<Recent<Option<DateTime<Utc>>>>,
}

impl SessionService {
    pub fn new(
        sessions: Arc<dyn Sessions>,
        audit: Arc<dyn AuditLog>,
        tokens: TokenService,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            sessions,
            audit,
            tokens,
            clock,
            ended: Arc::new(Recent::new(CACHED_USERS)),
        }
    }

    /// A single-use code that logs in as the token `token_id` for the next few minutes.
    pub async fn login_code(&self, token_id: &str) -> Result<String, ServiceError> {
        let code = new_secret(LOGIN_CODE_PREFIX);
        self.sessions
            .put_login_code(&LoginCode {
                hash: token_hash(&code),
                token_id: token_id.to_owned(),
                expires_at: self.clock.now() + chrono::Duration::minutes(LOGIN_CODE_MINUTES),
            })
            .await?;
        Ok(code)
    }

    /// The principal a login code logs in as; the code is used up. None for a code that is
    /// unknown, used, expired, or whose token was revoked meanwhile.
    pub async fn redeem(&self, code: &str) -> Result<Option<Principal>, ServiceError> {
        if !code.starts_with(LOGIN_CODE_PREFIX) {
            return Ok(None);
        }
        match self
            .sessions
            .take_login_code(&token_hash(code), self.clock.now())
            .await?
        {
            Some(taken) => self.tokens.by_id(&taken.token_id).await,
            None => Ok(None),
        }
    }

    /// Ends every session `user` has now (they log in again), recorded in the audit log under
    /// `caller`. Returns the moment it took effect.
    pub async fn end(&self, caller: &Principal, user: &str) -> Result<DateTime<Utc>, ServiceError> {
        let user = user.trim();
        if user.is_empty() || user.chars().count() > 320 || user.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "user",
                "must be 1 to 320 printable characters: the name shown for the user",
            ));
        }
        let at = self.clock.now();
        self.sessions.end_sessions(user, at).await?;
        self.audit
            .append_audit(&AuditEntry {
                at,
                actor: caller.name.clone(),
                action: "sessions.end".into(),
                target: user.to_owned(),
                detail: "ended every session of the user".into(),
            })
            .await?;
        self.ended.put(user.to_owned(), Some(at));
        Ok(at)
    }

    /// Whether a session of `user` that started at `started` was ended since.
    pub async fn is_ended(&self, user: &str, started: DateTime<Utc>) -> Result<bool, ServiceError> {
        let at = match self.ended.get(user) {
            Some(at) => at,
            None => {
                let at = self.sessions.sessions_ended(user).await?;
                self.ended.put(user.to_owned(), at);
                at
            }
        };
        Ok(at.is_some_and(|at| started <= at))
    }
}
