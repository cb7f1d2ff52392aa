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

/// How people signed in with Firebase get a role: the `blueberry_role` custom claim, else the
/// allowlists (exact emails or `@domain`), else `unknown` (viewer or nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleRules {
    pub admins: Vec<String>,
    pub developers: Vec<String>,
    pub viewers: Vec<String>,
    pub unknown: Option<Role>,
}

impl RoleRules {
    pub fn role_for(
        &self,
        email: Option<&str>,
        email_verified: bool,
        claim: Option<&str>,
    ) -> Option<Role> {
        if let Some(role) = claim.and_then(Role::parse) {
            return Some(role);
        }
        let email = email
            .filter(|_| email_verified)
            .map(str::to_ascii_lowercase);
        let listed = |list: &[String]| {
            email.as_deref().is_some_and(|e| {
                list.iter().any(|entry| {
                    let entry = entry.trim().to_ascii_lowercase();
                    if entry.starts_with('@') {
                        e.ends_with(&entry)
                    } else {
                        e == entry
                    }
                })
            })
        };
        if listed(&self.admins) {
            Some(Role::Admin)
        } else if listed(&self.developers) {
            Some(Role::Developer)
        } else if listed(&self.viewers) {
            Some(Role::Viewer)
        } else {
            self.unknown
        }
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

/// One-time login links carry a code with this prefix.
pub const LOGIN_CODE_PREFIX: &str = "bbl_";

/// How long a login link can be used.
pub const LOGIN_CODE_MINUTES: i64 = 15;

/// A one-time login link: a random code (kept as its SHA-256 only) that starts one browser
/// session for the API token it names, once, before it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginCode {
    /// SHA-256 (hex) of the code.
    pub hash: String,
    pub token_id: String,
    pub expires_at: DateTime<Utc>,
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
    fn firebase_users_get_roles_from_claims_then_allowlists() {
        let rules = RoleRules {
            admins: vec!["Boss@Example.com".into()],
            developers: vec!["@example.com".into()],
            viewers: vec![],
            unknown: None,
        };
        assert_eq!(
            rules.role_for(Some("boss@example.com"), true, None),
            Some(Role::Admin)
        );
        assert_eq!(
            rules.role_for(Some("dev@example.com"), true, None),
            Some(Role::Developer)
        );
        assert_eq!(
            rules.role_for(Some("dev@example.com"), false, None),
            None,
            "unverified emails do not count"
        );
        assert_eq!(rules.role_for(Some("x@evil-example.com"), true, None), None);
        assert_eq!(
            rules.role_for(Some("x@other.org"), true, Some("viewer")),
            Some(Role::Viewer)
        );
        let open = RoleRules {
            unknown: Some(Role::Viewer),
            ..rules
        };
        assert_eq!(open.role_for(None, false, None), Some(Role::Viewer));
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
