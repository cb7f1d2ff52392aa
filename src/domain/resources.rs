//! The managed resources an environment record keeps (`observed.resources`), parsed when first
//! read.
//!
//! Every record read parses its whole JSON document, and a list of environments never looks at
//! the resources: with their strings (kind, name, sync, health, message per resource) they were
//! 11 % of a list request's CPU. A record read from the store keeps them as their JSON text
//! (checked to be JSON, not yet turned into values) until something reads them; writing the
//! record back copies that text unchanged.
//!
//! Stored records are JSON (`serde_json`); reading one with another serde format fails, as
//! only `serde_json` can hand over raw text.

use std::{fmt, ops::Deref, sync::OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::argo::ObservedResource;

/// `observed.resources`: the managed resources with their sync waves, as Argo CD last reported
/// them. Reads as a slice.
#[derive(Clone, Default)]
pub struct ObservedResources {
    /// As read from the store, when read from the store.
    raw: Option<Box<RawValue>>,
    /// Set on first read (from `raw`) or when built from values.
    parsed: OnceLock<Vec<ObservedResource>>,
}

impl ObservedResources {
    /// Whether there is nothing to write: no stored text, or an empty list (records leave it
    /// out). Decided by the stored text when there is one, without parsing it, so text that
    /// does not parse (read as no resources) is still written back. Not the slice's `is_empty`,
    /// which says whether there are resources to show.
    pub fn nothing_to_store(&self) -> bool {
        match &self.raw {
            Some(raw) => raw
                .get()
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .is_some_and(|inside| inside.trim().is_empty()),
            None => self.parsed.get().is_none_or(Vec::is_empty),
        }
    }
}

impl Deref for ObservedResources {
    type Target = [ObservedResource];

    fn deref(&self) -> &[ObservedResource] {
        self.parsed.get_or_init(|| {
            let Some(raw) = &self.raw else {
                return Vec::new();
            };
            serde_json::from_str(raw.get()).unwrap_or_else(|e| {
                // Shown as none; the stored text is kept and written back as it was.
                tracing::warn!(error = %e, "stored observed resources do not parse; shown as none");
                Vec::new()
            })
        })
    }
}

impl From<Vec<ObservedResource>> for ObservedResources {
    fn from(resources: Vec<ObservedResource>) -> Self {
        Self {
            raw: None,
            parsed: OnceLock::from(resources),
        }
    }
}

impl PartialEq for ObservedResources {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for ObservedResources {}

impl fmt::Debug for ObservedResources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl Serialize for ObservedResources {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.raw {
            Some(raw) => raw.serialize(s),
            None => (**self).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ObservedResources {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self {
            raw: Some(Box::<RawValue>::deserialize(d)?),
            parsed: OnceLock::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> ObservedResource {
        ObservedResource {
            kind: "Deployment".into(),
            name: "web".into(),
            wave: 2,
            sync: "Synced".into(),
            health: Some("Progressing".into()),
            message: Some("Waiting for rollout".into()),
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        #[serde(default, skip_serializing_if = "ObservedResources::nothing_to_store")]
        resources: ObservedResources,
        after: u32,
    }

    #[test]
    fn stored_resources_read_back_equal_and_write_back_unchanged() {
        let record = Record {
            resources: vec![web()].into(),
            after: 7,
        };
        let text = serde_json::to_string(&record).unwrap();
        let read: Record = serde_json::from_str(&text).unwrap();
        assert!(
            read.resources.parsed.get().is_none(),
            "parsed before anything read them"
        );
        assert_eq!(serde_json::to_string(&read).unwrap(), text);
        assert!(read.resources.parsed.get().is_none(), "writing parsed them");
        assert_eq!(read, record);
        assert_eq!(read.resources.to_vec(), vec![web()]);
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            serde_json::to_value(&record).unwrap()
        );
    }

    #[test]
    fn none_are_left_out_and_read_as_empty() {
        let empty = Record {
            resources: ObservedResources::default(),
            after: 1,
        };
        assert_eq!(serde_json::to_string(&empty).unwrap(), r#"{"after":1}"#);
        let read: Record = serde_json::from_str(r#"{"after":1}"#).unwrap();
        assert!(read.resources.nothing_to_store());
        assert_eq!(read.resources.to_vec(), vec![]);
        let listed: Record = serde_json::from_str(r#"{"resources": [ ],"after":1}"#).unwrap();
        assert!(listed.resources.nothing_to_store() && listed.resources.is_empty());
        assert_eq!(serde_json::to_string(&listed).unwrap(), r#"{"after":1}"#);
    }

    #[test]
    fn resources_that_do_not_parse_read_as_none_and_are_kept() {
        let text = r#"{"resources":[{"kind":"Deployment","wave":"two"}],"after":3}"#;
        let read: Record = serde_json::from_str(text).unwrap();
        assert_eq!(read.resources.len(), 0);
        assert!(
            !read.resources.nothing_to_store(),
            "the stored text would be dropped"
        );
        assert_eq!(serde_json::to_string(&read).unwrap(), text);
        let broken = serde_json::from_str::<Record>(r#"{"resources":[{"kind":],"after":3}"#);
        assert!(
            broken.is_err(),
            "text that is not JSON is refused when read"
        );
    }
}
