//! The Identity port: checks a sign-in token from an identity provider (Firebase Auth) and
//! says whom it names. Which role that person gets is the service's rule, not the provider's.

use async_trait::async_trait;

/// What a verified token says about its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedUser {
    pub uid: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// The `blueberry_role` custom claim, when set.
    pub role_claim: Option<String>,
}

#[async_trait]
pub trait Identity: Send + Sync + 'static {
    /// Verifies `token` at `now` (unix seconds). `Ok(None)`: not a valid token for this
    /// deployment; `Err`: the provider's keys could not be fetched (why, without the token).
    async fn verify(&self, token: &str, now: i64) -> Result<Option<VerifiedUser>, String>;
}
