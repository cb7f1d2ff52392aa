//! What browser sessions stand on besides their token: one-time login links, and ending a
//! user's sessions.
//!
//! A login link carries a random code, kept as its SHA-256, that starts one session for the API
//! token it names within [`LOGIN_CODE_MINUTES`] and is gone after. API tokens themselves never
//! travel in URLs. Every session is checked against the moment an admin last ended its user's
//! sessions; each process keeps that answer for [`RECHECK`], so an ended session is refused by
//! every replica within that time (and at once by the one that ended it).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};

use super::{ServiceError, catalog::new_secret, tokens::Principal, tokens::TokenService};
use crate::{
    clock::Clock,
    domain::auth::{LOGIN_CODE_MINUTES, LOGIN_CODE_PREFIX, LoginCode, token_hash},
    ports::{AuditEntry, AuditLog, Sessions},
};

/// How long a process trusts what it read about ended sessions.
pub const RECHECK: Duration = Duration::from_secs(30);

/// Per user: when their sessions were last ended (if ever), and when that was read.
type EndedCache = Mutex<HashMap<String, (Option<DateTime<Utc>>, Instant)>>;

#[derive(Clone)]
pub struct SessionService {
    sessions: Arc<dyn Sessions>,
    audit: Arc<dyn AuditLog>,
    tokens: TokenService,
    clock: Arc<dyn Clock>,
    ended: Arc<EndedCache>,
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
            ended: Arc::default(),
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
        self.ended
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_owned(), (Some(at), Instant::now()));
        Ok(at)
    }

    /// Whether a session of `user` that started at `started` was ended since.
    pub async fn is_ended(&self, user: &str, started: DateTime<Utc>) -> Result<bool, ServiceError> {
        let known = {
            let ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
            ended
                .get(user)
                .filter(|(_, read)| read.elapsed() < RECHECK)
                .map(|(at, _)| *at)
        };
        let at = match known {
            Some(at) => at,
            None => {
                let at = self.sessions.sessions_ended(user).await?;
                let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
                ended.retain(|_, (_, read)| read.elapsed() < RECHECK);
                ended.insert(user.to_owned(), (at, Instant::now()));
                at
            }
        };
        Ok(at.is_some_and(|at| started <= at))
    }
}
