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
    /// What the simulated Argo CD looks at on every event, taken here from the tree being
    /// stored rather than by parsing each version again.
    pub seen: Seen,
}

/// An object version at a glance: whether it is being deleted, fingerprints of its `spec` and
/// `operation` (0 when absent or null), and its annotations' names.
#[derive(Debug)]
pub struct Seen {
    pub deleting: bool,
    pub spec: u64,
    pub operation: u64,
    pub annotations: Vec<String>,
}

impl Seen {
    fn of(object: &Value) -> Self {
        Self {
            deleting: object.pointer("/metadata/deletionTimestamp").is_some(),
            spec: fingerprint(object.get("spec")),
            operation: fingerprint(object.get("operation")),
            annotations: object
                .pointer("/metadata/annotations")
                .and_then(Value::as_object)
                .map(|a| a.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

/// A hash of a value's JSON text, 0 for none or null (never 0 otherwise).
fn fingerprint(v: Option<&Value>) -> u64 {
    use std::hash::Hasher;
    /// Hashes what is written to it, so the text is never held.
    struct Hashing(std::collections::hash_map::DefaultHasher);
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return 0;
    };
    let mut h = Hashing(std::collections::hash_map::DefaultHasher::new());
    serde_json::to_writer(&mut h, v).expect("JSON values serialize");
    h.0.finish().max(1)
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
            seen: Seen::of(object),
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
    fn a_stored_version_is_seen_at_a_glance() {
        let app = json!({
            "metadata": {"name": "pr-1-shop", "annotations": {"argocd.argoproj.io/refresh": "normal"}},
            "spec": {"source": {"repoURL": "r", "targetRevision": "main"}},
            "status": {"sync": {"status": "Synced"}},
        });
        let seen = Stored::new(&app).seen;
        assert!(!seen.deleting);
        assert_ne!(seen.spec, 0);
        assert_eq!(seen.operation, 0);
        assert_eq!(seen.annotations, ["argocd.argoproj.io/refresh"]);

        let mut status_only = app.clone();
        status_only["status"]["sync"]["status"] = json!("OutOfSync");
        assert_eq!(Stored::new(&status_only).seen.spec, seen.spec);
        let mut new_spec = app.clone();
        new_spec["spec"]["source"]["targetRevision"] = json!("dev");
        assert_ne!(Stored::new(&new_spec).seen.spec, seen.spec);

        let mut deleting = app.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2026-12-04T21:00:00Z");
        deleting["operation"] = json!({"sync": {"revision": "main"}});
        let d = Stored::new(&deleting).seen;
        assert!(d.deleting);
        assert_ne!(d.operation, 0);
        deleting["operation"] = Value::Null;
        assert_eq!(Stored::new(&deleting).seen.operation, 0);
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
    }
}
