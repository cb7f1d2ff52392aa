//! Git reference newtypes: branch names and commit shas.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A branch name that `git check-ref-format --branch` would accept (the subset of rules that
/// matter for a target revision), at most 255 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BranchName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitRefError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 255 bytes")]
    TooLong,
    #[error("is not a valid git branch name ({0})")]
    Invalid(&'static str),
    #[error("must be a hexadecimal commit sha of 7 to 64 characters")]
    BadSha,
}

impl BranchName {
    pub fn parse(s: impl Into<String>) -> Result<Self, GitRefError> {
        let s = s.into();
        if s.is_empty() {
            return Err(GitRefError::Empty);
        }
        if s.chars().count() > 255 {
            return Err(GitRefError::TooLong);
        }
        if s.chars().any(|c| c.is_control() || " ~^:?*[\\".contains(c)) {
            return Err(GitRefError::Invalid(
                "no spaces, control characters or any of ~^:?*[\\",
            ));
        }
        if s.contains("..") || s.contains("@{") || s.contains("//") {
            return Err(GitRefError::Invalid("no '..', '@{' or '//'"));
        }
        if s.starts_with(['-', '/', '.']) || s.ends_with(['/', '.']) || s.ends_with(".lock") {
            return Err(GitRefError::Invalid(
                "must not start with '-', '/' or '.', nor end with '/', '.' or '.lock'",
            ));
        }
        if s == "@" {
            return Err(GitRefError::Invalid("'@' alone is not a branch"));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BranchName {
    type Error = GitRefError;
    fn try_from(s: String) -> Result<Self, GitRefError> {
        Self::parse(s)
    }
}

impl From<BranchName> for String {
    fn from(b: BranchName) -> String {
        b.0
    }
}

impl fmt::Display for BranchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A commit sha (abbreviated or full, SHA-1 or SHA-256), stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommitSha(String);

impl CommitSha {
    pub fn parse(s: impl Into<String>) -> Result<Self, GitRefError> {
        let s = s.into().to_ascii_lowercase();
        if (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s))
        } else {
            Err(GitRefError::BadSha)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 characters, as GitLab shows them.
    pub fn short(&self) -> &str {
        &self.0[..8.min(self.0.len())]
    }
}

impl TryFrom<String> for CommitSha {
    type Error = GitRefError;
    fn try_from(s: String) -> Result<Self, GitRefError> {
        Self::parse(s)
    }
}

impl From<CommitSha> for String {
    fn from(c: CommitSha) -> String {
        c.0
    }
}

impl fmt::Display for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_branches_are_fine() {
        for b in ["main", "feature/login-form", "release-1.2", "user/émile"] {
            assert!(BranchName::parse(b).is_ok(), "{b}");
        }
    }

    #[test]
    fn refs_git_refuses_are_refused() {
        for b in [
            "", "a b", "a..b", "-x", "x/", "x.lock", "a\nb", "a:b", "@", "x@{1}",
        ] {
            assert!(BranchName::parse(b).is_err(), "{b:?}");
        }
        assert_eq!(
            BranchName::parse("a".repeat(256)),
            Err(GitRefError::TooLong)
        );
    }

    #[test]
    fn shas_are_hex_and_lowercased() {
        let sha = CommitSha::parse("DA1560886D4F094C3E6C9EF40349F7D38B5D27D7").unwrap();
        assert_eq!(sha.as_str(), "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
        assert_eq!(sha.short(), "da156088");
        assert!(CommitSha::parse("xyz1234").is_err());
        assert!(CommitSha::parse("abc").is_err());
    }
}
