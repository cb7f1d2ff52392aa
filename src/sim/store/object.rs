//! What the simulated store keeps and answers: stored objects, watch events, API failures,
//! selectors, and RFC 7386 merge patches.

use std::{collections::BTreeMap, sync::Arc};

use axum::body::Bytes;
use serde_json::Value;

use crate::sim::{
    discovery::status,
    selector::{FieldSelector, LabelSelector},
};

/// One stored version of an object: its JSON (what GET, LIST and WATCH send), and what lists
/// and watches select on. Kept as LZ4-compressed text, not as a `Value` tree: a tree's many
/// small maps cost several times the text's size, an Application's text compresses to about a
/// fifth, and thousands of versions are kept while each is read rarely (a write, a few
/// watchers, a list).
#[derive(Debug)]
pub struct Stored {
    packed: Box<[u8]>,
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
            packed: lz4_flex::compress_prepend_size(
                &serde_json::to_vec(object).expect("JSON values serialize"),
            )
            .into_boxed_slice(),
            namespace: s("/metadata/namespace"),
            name: s("/metadata/name"),
            labels: object
                .pointer("/metadata/labels")
                .and_then(|l| serde_json::from_value(l.clone()).ok())
                .unwrap_or_default(),
        }
    }

    /// The object's JSON.
    pub fn json(&self) -> Bytes {
        lz4_flex::decompress_size_prepended(&self.packed)
            .expect("stored objects were compressed here")
            .into()
    }

    /// The object, parsed.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json()).expect("stored objects are JSON")
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
    fn a_stored_object_gives_back_its_json_and_keeps_less() {
        let resources: Vec<Value> = (0..10)
            .map(|i| {
                json!({"kind": "Deployment", "name": format!("web-{i}"), "status": "Synced",
                "health": {"status": "Healthy"}, "syncWave": i})
            })
            .collect();
        let app = json!({
            "metadata": {"name": "pr-1-shop", "namespace": "argocd", "labels": {"a": "b"}},
            "status": {"resources": resources, "sync": {"status": "Synced"}},
        });
        let stored = Stored::new(&app);
        assert_eq!(stored.value(), app);
        assert_eq!(stored.json(), serde_json::to_vec(&app).unwrap());
        assert_eq!(
            (stored.name.as_str(), stored.namespace.as_str()),
            ("pr-1-shop", "argocd")
        );
        assert!(
            stored.packed.len() * 2 < stored.json().len(),
            "{} bytes kept for {}",
            stored.packed.len(),
            stored.json().len()
        );
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
    }
}
