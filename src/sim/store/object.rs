//! What the simulated store keeps and answers: stored objects, watch events, API failures,
//! selectors, and RFC 7386 merge patches.

use std::{collections::BTreeMap, sync::Arc};

use axum::body::Bytes;
use serde_json::Value;

use crate::sim::{
    discovery::status,
    selector::{FieldSelector, LabelSelector},
};

/// One stored version of an object: its JSON (what GET, LIST and WATCH send as they are), and
/// what lists and watches select on. Kept as text, not as a `Value` tree: a tree's many small
/// maps cost several times the text's size, and thousands of objects are kept.
#[derive(Debug)]
pub struct Stored {
    pub json: Bytes,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl Stored {
    pub(super) fn new(object: &Value) -> Self {
        let s = |p: &str| {
            object
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            json: Bytes::from(serde_json::to_vec(object).expect("JSON values serialize")),
            namespace: s("/metadata/namespace"),
            name: s("/metadata/name"),
            labels: object
                .pointer("/metadata/labels")
                .and_then(|l| serde_json::from_value(l.clone()).ok())
                .unwrap_or_default(),
        }
    }

    /// The object, parsed.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).expect("stored objects are JSON")
    }
}

/// A stored object version: shared by the store, the watch history and every watcher.
pub type Object = Arc<Stored>;

/// One change, as a watch stream sends it.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub rv: u64,
    pub kind: &'static str,
    pub object: Object,
}

/// A failed API call: HTTP code plus a Kubernetes `Status` body.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub code: u16,
    pub body: Value,
}

impl ApiFailure {
    pub fn new(code: u16, reason: &str, message: impl Into<String>, name: Option<&str>) -> Self {
        Self {
            code,
            body: status(code, reason, &message.into(), name),
        }
    }
    pub(super) fn not_found(name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("applications.argoproj.io \"{name}\" not found"),
            Some(name),
        )
    }
    pub(super) fn bad(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message, None)
    }
}

pub type ApiResult<T> = Result<T, ApiFailure>;

/// What a list or watch selects.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn matches(&self, obj: &Stored) -> bool {
        self.namespace.as_deref().is_none_or(|n| n == obj.namespace)
            && self.fields.matches(&obj.name, &obj.namespace)
            && self.labels.matches(&obj.labels)
    }
}

pub(super) fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
    }
}
