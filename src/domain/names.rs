//! DNS-1123 label newtypes: environment names, environment ids, repository names.
//!
//! "Parse, don't validate": a value of these types can only hold a valid label, so code that
//! receives one never checks again.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest DNS-1123 label Kubernetes accepts (namespace names are labels).
pub const MAX_LABEL_LEN: usize = 63;

/// Why a string is not a DNS-1123 label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_LABEL_LEN} characters (got {0})")]
    TooLong(usize),
    #[error(
        "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit (found {0:?})"
    )]
    BadCharacter(char),
    #[error("must start and end with a lowercase letter or digit")]
    BadEdge,
}

/// Checks that `s` is a DNS-1123 label (RFC 1123, as Kubernetes uses it for namespaces).
pub fn check_dns_label(s: &str) -> Result<(), LabelError> {
    if s.is_empty() {
        return Err(LabelError::Empty);
    }
    let len = s.chars().count();
    if len > MAX_LABEL_LEN {
        return Err(LabelError::TooLong(len));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(LabelError::BadCharacter(c));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(LabelError::BadEdge);
    }
    Ok(())
}

macro_rules! label_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a DNS-1123 label.
            pub fn parse(s: impl Into<String>) -> Result<Self, LabelError> {
                let s = s.into();
                check_dns_label(&s)?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = LabelError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

label_newtype!(
    /// The name of an environment inside its repository: `pr-{iid}` for merge requests, a custom
    /// label for manual ones.
    EnvironmentName
);
label_newtype!(
    /// The environment id: unique across repositories, the namespace name, and the suffix of the
    /// Argo CD Application `env-{id}`.
    EnvironmentId
);
label_newtype!(
    /// A connected repository's short name; it becomes part of environment ids.
    RepositoryName
);

impl EnvironmentName {
    /// The name of a merge request's environment: `pr-{iid}`.
    pub fn for_merge_request(iid: u64) -> Self {
        Self(format!("pr-{iid}"))
    }

    /// The merge request iid when this is a `pr-{iid}` name.
    pub fn merge_request_iid(&self) -> Option<u64> {
        let digits = self.0.strip_prefix("pr-")?;
        if digits.starts_with('0') {
            return None;
        }
        digits.parse().ok()
    }
}

/// `full` when it is short enough for a label, else its head and a hash of the whole.
fn fit_label(full: String) -> String {
    if full.len() <= MAX_LABEL_LEN {
        return full;
    }
    let digest = Sha256::digest(full.as_bytes());
    let hash = &hex::encode(digest)[..8];
    let head = full[..MAX_LABEL_LEN - hash.len() - 1].trim_end_matches('-');
    format!("{head}-{hash}")
}

impl EnvironmentId {
    /// Derives the id of environment `name` in repository `repository`: `{name}-{repository}`,
    /// shortened with a hash suffix when that would exceed 63 characters. The store refuses a
    /// second environment with the same id, so the rare ambiguous pair cannot collide silently.
    pub fn derive(name: &EnvironmentName, repository: &RepositoryName) -> Self {
        Self(fit_label(format!("{name}-{repository}")))
    }

    /// The Kubernetes namespace the environment runs in: `{prefix}{id}`, shortened like ids.
    /// A fixed prefix lets the Argo CD project allow environments' namespaces and nothing else.
    pub fn namespace(&self, prefix: &str) -> String {
        fit_label(format!("{prefix}{}", self.0))
    }

    /// The Argo CD Application that delivers this environment.
    pub fn application_name(&self) -> String {
        format!("env-{}", self.0)
    }

    /// The hostname the environment is served on.
    pub fn hostname(&self, base_domain: &str) -> String {
        format!("{}.{base_domain}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_labels() {
        for ok in ["a", "pr-42", "feature-x1", &"a".repeat(63)] {
            assert!(EnvironmentName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_kubernetes_refuses() {
        assert_eq!(EnvironmentName::parse(""), Err(LabelError::Empty));
        assert_eq!(
            EnvironmentName::parse("a".repeat(64)),
            Err(LabelError::TooLong(64))
        );
        assert_eq!(
            EnvironmentName::parse("PR_42!"),
            Err(LabelError::BadCharacter('P'))
        );
        assert_eq!(
            EnvironmentName::parse("pr_42"),
            Err(LabelError::BadCharacter('_'))
        );
        assert_eq!(EnvironmentName::parse("-pr"), Err(LabelError::BadEdge));
        assert_eq!(EnvironmentName::parse("pr-"), Err(LabelError::BadEdge));
        assert_eq!(
            EnvironmentName::parse("pré"),
            Err(LabelError::BadCharacter('é'))
        );
    }

    #[test]
    fn merge_request_names_round_trip() {
        let name = EnvironmentName::for_merge_request(42);
        assert_eq!(name.as_str(), "pr-42");
        assert_eq!(name.merge_request_iid(), Some(42));
        assert_eq!(
            EnvironmentName::parse("pr-x").unwrap().merge_request_iid(),
            None
        );
        assert_eq!(
            EnvironmentName::parse("pr-007")
                .unwrap()
                .merge_request_iid(),
            None
        );
    }

    #[test]
    fn ids_differ_between_repositories() {
        let name = EnvironmentName::for_merge_request(42);
        let a = EnvironmentId::derive(&name, &RepositoryName::parse("shop").unwrap());
        let b = EnvironmentId::derive(&name, &RepositoryName::parse("billing").unwrap());
        assert_eq!(a.as_str(), "pr-42-shop");
        assert_ne!(a, b);
        assert_eq!(a.application_name(), "env-pr-42-shop");
        assert_eq!(
            a.hostname("preview.example.com"),
            "pr-42-shop.preview.example.com"
        );
    }

    #[test]
    fn long_ids_are_shortened_with_a_hash() {
        let name = EnvironmentName::parse("a".repeat(60)).unwrap();
        let repo = RepositoryName::parse("b".repeat(60)).unwrap();
        let id = EnvironmentId::derive(&name, &repo);
        assert_eq!(id.as_str().len(), 63);
        assert!(check_dns_label(id.as_str()).is_ok());
    }

    #[test]
    fn serde_refuses_invalid_labels() {
        let err = serde_json::from_str::<EnvironmentName>("\"Bad Name\"").unwrap_err();
        assert!(err.to_string().contains("DNS-1123"), "{err}");
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
    }

    proptest! {
        #[test]
        fn namespaces_are_valid_labels_with_the_prefix(name in label(), repo in label()) {
            let id = EnvironmentId::derive(
                &EnvironmentName::parse(name).unwrap(),
                &RepositoryName::parse(repo).unwrap(),
            );
            let ns = id.namespace("bb-");
            prop_assert!(ns.starts_with("bb-"));
            prop_assert!(EnvironmentName::parse(ns.clone()).is_ok(), "{ns}");
        }

        #[test]
        fn derived_ids_are_always_valid_labels(name in label(), repo in label()) {
            let id = EnvironmentId::derive(
                &EnvironmentName::parse(name.clone()).unwrap(),
                &RepositoryName::parse(repo.clone()).unwrap(),
            );
            prop_assert!(check_dns_label(id.as_str()).is_ok(), "{}", id);
            prop_assert!(id.as_str().starts_with(&name[..name.len().min(20)].trim_end_matches('-').to_string()));
        }

        #[test]
        fn distinct_long_pairs_get_distinct_ids(a in label(), b in label(), repo in label()) {
            prop_assume!(a != b);
            let r = RepositoryName::parse(repo).unwrap();
            let ia = EnvironmentId::derive(&EnvironmentName::parse(a).unwrap(), &r);
            let ib = EnvironmentId::derive(&EnvironmentName::parse(b).unwrap(), &r);
            prop_assert_ne!(ia, ib);
        }

        #[test]
        fn parse_accepts_exactly_valid_labels(s in "\\PC{0,70}") {
            let valid = !s.is_empty()
                && s.chars().count() <= 63
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !s.starts_with('-') && !s.ends_with('-');
            prop_assert_eq!(EnvironmentName::parse(s).is_ok(), valid);
        }
    }
}
