//! Writes to the simulated store: create, server-side apply, merge patch, replace, modify and
//! delete, each checked like the API server checks it.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::sim::discovery::GROUP_VERSION;

use super::{ApiFailure, ApiResult, Inner, Object, SimStore, merge_patch, meta_str, now_ts};

impl SimStore {
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
        let obj = self.record(inner, "ADDED", &mut obj);
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
        let obj = self.record(&mut inner, "MODIFIED", &mut next);
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
        self.modify_known(ns, name, &mut None, f)
    }

    /// [`SimStore::modify`] for a writer that keeps the version it last read or wrote, parsed
    /// (`known`): while that is still the stored version it is not parsed again. `known` is
    /// left holding the version this call ends with (none once the object is gone).
    pub fn modify_known(
        &self,
        ns: &str,
        name: &str,
        known: &mut Option<(Object, Value)>,
        f: impl FnOnce(&mut Value) -> ApiResult<()>,
    ) -> ApiResult<Object> {
        let mut inner = self.lock();
        let key = (ns.to_owned(), name.to_owned());
        let Some(before) = inner.objects.get(&key).cloned() else {
            *known = None;
            return Err(ApiFailure::not_found(name));
        };
        let mut obj = match known.take() {
            Some((seen, value)) if Arc::ptr_eq(&seen, &before) => value,
            _ => before.value(),
        };
        // A refusal may leave `obj` half changed: it is dropped, and `known` stays empty.
        f(&mut obj)?;
        // Whether anything changed is told by the text: a copy of the tree to compare with
        // cost more than writing the tree out.
        if serde_json::to_vec(&obj).expect("JSON values serialize") == before.json() {
            *known = Some((before.clone(), obj));
            return Ok(before);
        }
        let finalizers_empty = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if obj.pointer("/metadata/deletionTimestamp").is_some() && finalizers_empty {
            inner.objects.remove(&key);
            return Ok(self.record(&mut inner, "DELETED", &mut obj));
        }
        let stored = self.record(&mut inner, "MODIFIED", &mut obj);
        inner.objects.insert(key, stored.clone());
        *known = Some((stored.clone(), obj));
        Ok(stored)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> Value {
        json!({
            "apiVersion": GROUP_VERSION, "kind": "Application",
            "metadata": {"name": "pr-1-shop"},
            "spec": {"source": {"targetRevision": "main"}},
        })
    }

    #[test]
    fn a_writer_that_keeps_its_last_write_never_loses_anothers() {
        let store = SimStore::new();
        store.create("argocd", &app()).unwrap();
        let mut known = None;
        let first = store
            .modify_known("argocd", "pr-1-shop", &mut known, |o| {
                o["status"]["phase"] = json!("Running");
                Ok(())
            })
            .unwrap();
        let (kept, value) = known.as_ref().expect("the write is kept");
        assert!(Arc::ptr_eq(kept, &first));
        assert_eq!(
            value,
            &first.value(),
            "kept as stored, resourceVersion included"
        );

        // Someone else writes: the kept version is stale and the stored one is read.
        store
            .patch(
                "argocd",
                "pr-1-shop",
                &json!({"metadata": {"labels": {"a": "b"}}}),
            )
            .unwrap();
        let last = store
            .modify_known("argocd", "pr-1-shop", &mut known, |o| {
                o["status"]["phase"] = json!("Succeeded");
                Ok(())
            })
            .unwrap()
            .value();
        assert_eq!(last["metadata"]["labels"]["a"], "b");
        assert_eq!(last["status"]["phase"], "Succeeded");

        // Unchanged, refused and gone all leave `known` true to the store (or empty).
        store
            .modify_known("argocd", "pr-1-shop", &mut known, |_| Ok(()))
            .unwrap();
        assert_eq!(known.as_ref().map(|(_, v)| v), Some(&last));
        let refused = store.modify_known("argocd", "pr-1-shop", &mut known, |o| {
            o["status"]["phase"] = json!("Lost");
            Err(ApiFailure::bad("no"))
        });
        assert!(refused.is_err());
        assert!(known.is_none(), "a refused change is not kept");
        let stored = store.get("argocd", "pr-1-shop").unwrap();
        assert_eq!(stored.value(), last, "nor stored");
        store.delete("argocd", "pr-1-shop").unwrap();
        assert!(
            store
                .modify_known("argocd", "pr-1-shop", &mut known, |_| Ok(()))
                .is_err()
        );
        assert!(known.is_none());
    }
}
