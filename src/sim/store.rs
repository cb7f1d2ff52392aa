//! The simulated API server's object store: Applications by namespace and name, a global
//! `resourceVersion`, a bounded watch history and a broadcast of changes. It knows nothing of
//! Argo CD: the Argo stand-in (`super::argo`) is one more client that watches and writes.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
};

use axum::body::Bytes;
use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, watch};

use super::{
    discovery::{GROUP_VERSION, status},
    selector::{FieldSelector, LabelSelector},
};

/// Watch events kept for resuming watches; older resource versions get 410 Gone (as after an
/// etcd compaction). Each event shares its object with the store.
const HISTORY: usize = 1024;

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
    fn new(object: &Value) -> Self {
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
    fn not_found(name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("applications.argoproj.io \"{name}\" not found"),
            Some(name),
        )
    }
    fn bad(message: impl Into<String>) -> Self {
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

#[derive(Default)]
struct Inner {
    objects: BTreeMap<(String, String), Object>,
    rv: u64,
    history: VecDeque<WatchEvent>,
    /// Watches from before this resource version cannot be resumed.
    compacted_through: u64,
}

/// The objects of one simulated cluster.
pub struct SimStore {
    inner: Mutex<Inner>,
    events: broadcast::Sender<WatchEvent>,
    /// Changing the value ends every open watch stream (to test clients' resumption).
    pub(crate) close_watches: watch::Sender<u64>,
}

pub(crate) fn now_ts() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
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

impl SimStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner::default()),
            events: broadcast::channel(HISTORY).0,
            close_watches: watch::channel(0).0,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<WatchEvent> {
        self.events.subscribe()
    }

    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Ends every open watch stream (clients must resume them).
    pub fn close_all_watches(&self) {
        self.close_watches.send_modify(|n| *n += 1);
    }

    /// Forgets the watch history, so resuming any older watch gets 410 Gone.
    /// Forgets the watch history as etcd's compaction does: resuming a watch from any version
    /// seen so far gets `410 Gone` (the store moves one version on, so even a client that saw
    /// everything must relist).
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.history.clear();
        inner.rv += 1;
        inner.compacted_through = inner.rv;
    }

    fn record(&self, inner: &mut Inner, kind: &'static str, mut object: Value) -> Object {
        inner.rv += 1;
        object["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        let object = Arc::new(Stored::new(&object));
        let event = WatchEvent {
            rv: inner.rv,
            kind,
            object: object.clone(),
        };
        if inner.history.len() == HISTORY
            && let Some(old) = inner.history.pop_front()
        {
            inner.compacted_through = old.rv;
        }
        inner.history.push_back(event.clone());
        let _ = self.events.send(event);
        object
    }

    pub fn get(&self, ns: &str, name: &str) -> ApiResult<Object> {
        self.lock()
            .objects
            .get(&(ns.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| ApiFailure::not_found(name))
    }

    pub fn list(&self, filter: &Filter) -> (Vec<Object>, u64) {
        let inner = self.lock();
        let items = inner
            .objects
            .values()
            .filter(|o| filter.matches(o))
            .cloned()
            .collect();
        (items, inner.rv)
    }

    /// Events a new watch starts with: history after `since`, or every current object as ADDED.
    pub fn watch_start(
        &self,
        since: Option<u64>,
        filter: &Filter,
    ) -> ApiResult<(Vec<WatchEvent>, u64)> {
        let inner = self.lock();
        match since {
            Some(rv) if rv > 0 => {
                if rv < inner.compacted_through {
                    return Err(ApiFailure::new(
                        410,
                        "Expired",
                        format!(
                            "too old resource version: {rv} ({})",
                            inner.compacted_through
                        ),
                        None,
                    ));
                }
                let events = inner
                    .history
                    .iter()
                    .filter(|e| e.rv > rv && filter.matches(&e.object))
                    .cloned()
                    .collect();
                Ok((events, inner.rv))
            }
            _ => {
                let events = inner
                    .objects
                    .values()
                    .filter(|o| filter.matches(o))
                    .map(|o| WatchEvent {
                        rv: inner.rv,
                        kind: "ADDED",
                        object: o.clone(),
                    })
                    .collect();
                Ok((events, inner.rv))
            }
        }
    }

    fn check_body(ns: &str, name: Option<&str>, body: &Value) -> ApiResult<String> {
        if !body.is_object() {
            return Err(ApiFailure::bad("the body must be a JSON object"));
        }
        if body.get("apiVersion").and_then(Value::as_str) != Some(GROUP_VERSION)
            || body.get("kind").and_then(Value::as_str) != Some("Application")
        {
            return Err(ApiFailure::bad(format!(
                "expected apiVersion {GROUP_VERSION} and kind Application"
            )));
        }
        let body_name =
            meta_str(body, "name").ok_or_else(|| ApiFailure::bad("metadata.name is required"))?;
        if let Some(n) = name
            && n != body_name
        {
            return Err(ApiFailure::bad(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({n})"
            )));
        }
        let subdomain = body_name.len() <= 253
            && body_name
                .split('.')
                .all(|l| crate::domain::names::check_dns_label(l).is_ok());
        if !subdomain {
            return Err(ApiFailure::new(
                422,
                "Invalid",
                format!("metadata.name {body_name:?} is invalid"),
                Some(body_name),
            ));
        }
        if let Some(body_ns) = meta_str(body, "namespace")
            && body_ns != ns
        {
            return Err(ApiFailure::bad(format!(
                "the namespace of the object ({body_ns}) does not match the namespace on the request ({ns})"
            )));
        }
        Ok(body_name.to_owned())
    }

    fn insert_new(&self, inner: &mut Inner, ns: &str, name: &str, body: &Value) -> Object {
        let mut obj = body.clone();
        if let Some(map) = obj.as_object_mut() {
            map.remove("status");
        }
        let meta = obj["metadata"].as_object_mut().expect("checked");
        meta.insert("namespace".into(), json!(ns));
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(now_ts()));
        meta.insert("generation".into(), json!(1));
        meta.remove("deletionTimestamp");
        meta.remove("resourceVersion");
        let obj = self.record(inner, "ADDED", obj);
        inner
            .objects
            .insert((ns.to_owned(), name.to_owned()), obj.clone());
        obj
    }

    pub fn create(&self, ns: &str, body: &Value) -> ApiResult<Object> {
        let name = Self::check_body(ns, None, body)?;
        let mut inner = self.lock();
        if inner.objects.contains_key(&(ns.to_owned(), name.clone())) {
            return Err(ApiFailure::new(
                409,
                "AlreadyExists",
                format!("applications.argoproj.io \"{name}\" already exists"),
                Some(&name),
            ));
        }
        Ok(self.insert_new(&mut inner, ns, &name, body))
    }

    /// Server-side apply: creates, or takes over spec, labels, annotations, finalizers and a
    /// requested `operation`. Returns the object and whether it was created.
    pub fn apply(&self, ns: &str, name: &str, body: &Value) -> ApiResult<(Object, bool)> {
        Self::check_body(ns, Some(name), body)?;
        let mut inner = self.lock();
        let key = (ns.to_owned(), name.to_owned());
        let Some(stored) = inner.objects.get(&key).cloned() else {
            return Ok((self.insert_new(&mut inner, ns, name, body), true));
        };
        let existing = stored.value();
        if existing.pointer("/metadata/deletionTimestamp").is_some() {
            // The API server refuses to change an object being deleted only in its finalizers'
            // favour; a re-apply of spec is accepted but changes nothing that matters here.
            return Ok((stored, false));
        }
        let mut next = existing.clone();
        for field in ["labels", "annotations", "finalizers"] {
            if let Some(v) = body["metadata"].get(field) {
                next["metadata"][field] = v.clone();
            }
        }
        if let Some(op) = body.get("operation") {
            next["operation"] = op.clone();
        }
        if body.get("spec").is_some_and(|s| s != &existing["spec"]) {
            next["spec"] = body["spec"].clone();
            let generation = existing["metadata"]["generation"].as_u64().unwrap_or(1) + 1;
            next["metadata"]["generation"] = json!(generation);
        }
        if next == existing {
            return Ok((stored, false));
        }
        let obj = self.record(&mut inner, "MODIFIED", next);
        inner.objects.insert(key, obj.clone());
        Ok((obj, false))
    }

    /// JSON merge patch (what `kubectl annotate` and `kubectl label` send for custom resources).
    pub fn patch(&self, ns: &str, name: &str, patch: &Value) -> ApiResult<Object> {
        self.modify(ns, name, |obj| {
            let spec_before = obj["spec"].clone();
            merge_patch(obj, patch);
            if obj["spec"] != spec_before {
                let generation = obj["metadata"]["generation"].as_u64().unwrap_or(1) + 1;
                obj["metadata"]["generation"] = json!(generation);
            }
            Ok(())
        })
    }

    /// PUT: replaces the object; a stale `resourceVersion` is a 409 Conflict.
    pub fn replace(&self, ns: &str, name: &str, body: &Value) -> ApiResult<Object> {
        Self::check_body(ns, Some(name), body)?;
        let given_rv = meta_str(body, "resourceVersion").map(str::to_owned);
        self.modify(ns, name, |obj| {
            if let Some(rv) = &given_rv
                && meta_str(obj, "resourceVersion") != Some(rv)
            {
                return Err(ApiFailure::new(
                    409,
                    "Conflict",
                    format!(
                        "Operation cannot be fulfilled on applications.argoproj.io \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
                    ),
                    Some(name),
                ));
            }
            let keep: Map<String, Value> = [
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
                "namespace",
            ]
            .iter()
            .filter_map(|k| obj["metadata"].get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
            let status = obj.get("status").cloned();
            let spec_changed = body.get("spec") != obj.get("spec");
            *obj = body.clone();
            for (k, v) in keep {
                obj["metadata"][k] = v;
            }
            if spec_changed {
                let generation = obj["metadata"]["generation"].as_u64().unwrap_or(1) + 1;
                obj["metadata"]["generation"] = json!(generation);
            }
            if let Some(s) = status {
                obj["status"] = s;
            }
            Ok(())
        })
    }

    /// Applies `f` to a stored object and records the change; an object whose deletion was
    /// requested disappears once its last finalizer is removed.
    pub fn modify(
        &self,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value) -> ApiResult<()>,
    ) -> ApiResult<Object> {
        let mut inner = self.lock();
        let key = (ns.to_owned(), name.to_owned());
        let before = inner
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiFailure::not_found(name))?;
        let original = before.value();
        let mut obj = original.clone();
        f(&mut obj)?;
        if obj == original {
            return Ok(before);
        }
        let finalizers_empty = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if obj.pointer("/metadata/deletionTimestamp").is_some() && finalizers_empty {
            inner.objects.remove(&key);
            return Ok(self.record(&mut inner, "DELETED", obj));
        }
        let obj = self.record(&mut inner, "MODIFIED", obj);
        inner.objects.insert(key, obj.clone());
        Ok(obj)
    }

    /// DELETE: with finalizers, marks the object (its finalizers' owners finish the job);
    /// otherwise removes it.
    pub fn delete(&self, ns: &str, name: &str) -> ApiResult<Object> {
        self.modify(ns, name, |obj| {
            if obj.pointer("/metadata/deletionTimestamp").is_none() {
                obj["metadata"]["deletionTimestamp"] = json!(now_ts());
            }
            Ok(())
        })
    }

    /// How many objects are stored.
    pub fn len(&self) -> usize {
        self.lock().objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
    }
}
