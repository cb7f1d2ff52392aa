//! Who may do what: roles and API tokens, pure.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Roles, ordered: each includes the ones before it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read everything.
    Viewer,
    /// Create, redeploy, extend, retry and destroy environments; own API tokens.
    Developer,
    /// Repositories, config sets, everyone's tokens.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Viewer, Role::Developer, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Prefix of Blueberry API tokens, so they are recognisable (and findable by secret scanners).
pub const TOKEN_PREFIX: &str = "bb_";

/// An API token as stored: the secret itself is never kept, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// SHA-256 (hex) of the secret.
    pub hash: String,
    /// Who created it (for "own tokens" and audit).
    pub owner: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Whether the token may be used at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// SHA-256 (hex) of a token secret.
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Viewer < Role::Developer && Role::Developer < Role::Admin);
        assert_eq!(Role::parse("developer"), Some(Role::Developer));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn revoked_and_expired_tokens_are_inactive() {
        let now = Utc::now();
        let mut t = ApiToken {
            id: "t".into(),
            name: "ci".into(),
            role: Role::Developer,
            hash: token_hash("bb_x"),
            owner: "admin".into(),
            created_at: now,
            expires_at: Some(now + Duration::hours(1)),
            revoked_at: None,
            last_used_at: None,
        };
        assert!(t.is_active(now));
        assert!(!t.is_active(now + Duration::hours(2)));
        t.expires_at = None;
        assert!(t.is_active(now + Duration::days(999)));
        t.revoked_at = Some(now);
        assert!(!t.is_active(now));
    }
}
