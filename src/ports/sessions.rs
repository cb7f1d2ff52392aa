//! The Sessions port: what browser sessions need beyond the tokens they stand on — one-time
//! login links, and the moments an admin ended a user's sessions. Shared by every replica, so
//! a link minted by `blueberry token create --login-link` works on any of them and an ended
//! session ends everywhere.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::store::StoreResult;
use crate::domain::auth::LoginCode;

#[async_trait]
pub trait Sessions: Send + Sync + 'static {
    /// Keeps a login code until it is taken or expires.
    async fn put_login_code(&self, code: &LoginCode) -> StoreResult<()>;
    /// Removes the code with this hash and returns it when it has not expired at `now`. Of
    /// callers presenting the same code, at most one gets it.
    async fn take_login_code(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LoginCode>>;
    /// Ends every session of `user` (a principal's name) started at or before `at`.
    async fn end_sessions(&self, user: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// When the sessions of `user` were last ended, if ever.
    async fn sessions_ended(&self, user: &str) -> StoreResult<Option<DateTime<Utc>>>;
}
