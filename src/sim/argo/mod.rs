//! The simulated Argo CD application controller. Like the real one, it is a client of the API
//! server: it watches Applications (`SimStore::subscribe`), notices a changed spec or a
//! requested `operation` only after a refresh delay (reporting the previous status until then),
//! runs sync operations wave by wave in the background, fills the real status fields
//! (`health`, `sync.status`/`revision`/`comparedTo`, `operationState` with its `operation`,
//! `phase`, `startedAt`, `finishedAt` and `syncResult`, `reconciledAt`, `conditions`,
//! `resources`), and runs the cascade finalizer on delete. Nothing here runs inside an API
//! request.
//!
//! Long on purpose: the stand-in's watch loop, refresh delay and operation scheduling are one state
//! machine; one sync operation's run is `sync.rs`.

mod faults;
mod resources;
mod sync;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::{sync::broadcast::error::RecvError, task::AbortHandle};

pub use faults::{FaultMode, Faults, SYNC_ERROR_MESSAGE, degraded_message};
pub use resources::{Resource, render};

use super::{
    settings::SharedSettings,
    store::{Filter, Object, SimStore, now_ts},
};
use crate::domain::manifest::ANNOTATION_REFRESH;

type Key = (String, String);

/// What the controller remembers of one Application between events.
#[derive(Default)]
struct App {
    /// Hashes of the spec and of the requested operation seen last, to tell their changes
    /// from status writes.
    spec: u64,
    operation: u64,
    refresh_pending: bool,
    /// The operation currently running (its requested body) and its task.
    running: Option<(Value, AbortHandle)>,
    /// Only the operation with this number may write status.
    current_op: Arc<AtomicU64>,
    ops_started: u64,
    finalizing: bool,
}

/// The Argo CD stand-in of one simulated cluster.
pub struct ArgoSim {
    store: Arc<SimStore>,
    settings: SharedSettings,
    pub faults: Faults,
    apps: Mutex<HashMap<Key, App>>,
    /// The sync time drawn for each Application's latest operation (for benchmarks).
    drawn: Mutex<HashMap<String, std::time::Duration>>,
}

fn key_of(obj: &Object) -> Key {
    (obj.namespace.clone(), obj.name.clone())
}

/// The commit a target revision resolves to: a sha stays itself; a branch, tag or chart version
/// resolves to a stable made-up commit of the repository.
pub fn resolve_revision(source: &Value) -> String {
    let rev = source
        .get("targetRevision")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .unwrap_or("HEAD");
    if rev.len() >= 7 && rev.len() <= 64 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
        return rev.to_ascii_lowercase();
    }
    let repo = source
        .get("repoURL")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{repo}#{rev}").as_bytes());
    hex::encode(digest)[..40].to_owned()
}

fn automated(obj: &Value) -> bool {
    obj.pointer("/spec/syncPolicy/automated")
        .is_some_and(|a| !a.is_null())
}

/// Whether an automated sync of `source` at `revision` was already attempted (Argo CD does not
/// retry a finished automated sync of the same revision and source by itself).
fn already_attempted(obj: &Value, revision: &str) -> bool {
    let Some(result) = obj.pointer("/status/operationState/syncResult") else {
        return false;
    };
    result.get("revision").and_then(Value::as_str) == Some(revision)
        && result.get("source") == obj.pointer("/spec/source")
}

impl ArgoSim {
    /// Starts the controller on `store`; it runs until the runtime stops.
    pub fn start(store: Arc<SimStore>, settings: SharedSettings) -> Arc<Self> {
        let argo = Arc::new(Self {
            store,
            settings,
            faults: Faults::default(),
            apps: Mutex::new(HashMap::new()),
            drawn: Mutex::new(HashMap::new()),
        });
        tokio::spawn(argo.clone().run());
        argo
    }

    fn apps(&self) -> std::sync::MutexGuard<'_, HashMap<Key, App>> {
        self.apps.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn settings(&self) -> super::SimSettings {
        self.settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets or clears the fault rule for Application `name`. It applies from the next sync (a
    /// stuck finalizer resumes as soon as the rule is cleared).
    pub fn set_fault(&self, name: &str, mode: Option<FaultMode>) {
        self.faults.set(name, mode);
    }

    /// The sync time drawn for Application `name`'s latest operation.
    pub fn drawn_sync_time(&self, name: &str) -> Option<std::time::Duration> {
        self.drawn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .copied()
    }

    /// The longest sync time drawn so far.
    pub fn slowest_drawn_sync_time(&self) -> std::time::Duration {
        self.drawn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .copied()
            .max()
            .unwrap_or_default()
    }

    fn record_drawn(&self, name: &str, took: std::time::Duration) {
        self.drawn
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), took);
    }

    async fn run(self: Arc<Self>) {
        let mut events = self.store.subscribe();
        self.relist();
        loop {
            match events.recv().await {
                Ok(e) if e.kind == "DELETED" => self.forget(&key_of(&e.object)),
                Ok(e) => self.observe(&e.object),
                Err(RecvError::Lagged(_)) => {
                    // Like an informer after a watch gap: start over from a full list.
                    events = self.store.subscribe();
                    self.relist();
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    fn relist(self: &Arc<Self>) {
        let (objects, _) = self.store.list(&Filter::default());
        let present: std::collections::HashSet<Key> = objects.iter().map(key_of).collect();
        let gone: Vec<Key> = self
            .apps()
            .keys()
            .filter(|k| !present.contains(*k))
            .cloned()
            .collect();
        for k in gone {
            self.forget(&k);
        }
        for obj in &objects {
            self.observe(obj);
        }
    }

    fn forget(&self, key: &Key) {
        if let Some(app) = self.apps().remove(key)
            && let Some((_, task)) = app.running
        {
            app.current_op.store(0, Ordering::SeqCst);
            task.abort();
        }
    }

    /// Reacts to an Application as the watch delivered it.
    fn observe(self: &Arc<Self>, stored: &Object) {
        let key = key_of(stored);
        let seen = &stored.seen;
        if seen.deleting {
            self.start_finalizer(key);
            return;
        }
        let (spec, operation) = (seen.spec, seen.operation);
        let refresh_requested = seen.annotations.iter().any(|a| a == ANNOTATION_REFRESH);
        let schedule = {
            let mut apps = self.apps();
            let app = apps.entry(key.clone()).or_default();
            let changed = app.spec != spec
                || (operation != 0 && app.operation != operation)
                || refresh_requested;
            app.spec = spec;
            app.operation = operation;
            let schedule = changed && !app.refresh_pending;
            app.refresh_pending |= changed;
            schedule
        };
        if schedule {
            let argo = self.clone();
            tokio::spawn(async move {
                let delay = argo.settings().refresh_delay;
                tokio::time::sleep(delay).await;
                argo.refresh(&key);
            });
        }
    }

    /// Compares the Application with its source, as Argo CD's refresh does, and starts the
    /// operation that is asked for (or an automated sync).
    fn refresh(self: &Arc<Self>, key: &Key) {
        if let Some(app) = self.apps().get_mut(key) {
            app.refresh_pending = false;
        }
        // What the refresh saw, read in the same pass that writes it (one parse of the object):
        // the operation requested, and whether an automated sync is due and of which revision.
        let mut seen = None;
        let written = self.store.modify(&key.0, &key.1, |o| {
            if o.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(());
            }
            let source = o.pointer("/spec/source").cloned().unwrap_or(Value::Null);
            let compared = json!({"source": source, "destination": o.pointer("/spec/destination")});
            let revision = resolve_revision(&source);
            let status = &mut o["status"];
            if status.get("sync").and_then(|s| s.get("comparedTo")) != Some(&compared)
                || status.pointer("/sync/revision").and_then(Value::as_str)
                    != Some(revision.as_str())
            {
                status["sync"] =
                    json!({"status": "OutOfSync", "comparedTo": compared, "revision": revision});
            }
            if status.get("health").is_none() {
                status["health"] = json!({"status": "Missing"});
            }
            status["reconciledAt"] = json!(now_ts());
            if let Some(a) = o
                .pointer_mut("/metadata/annotations")
                .and_then(Value::as_object_mut)
            {
                a.remove(ANNOTATION_REFRESH);
            }
            let requested = o.get("operation").filter(|o| !o.is_null()).cloned();
            let sync_due = automated(o)
                && o.pointer("/status/sync/status").and_then(Value::as_str) == Some("OutOfSync")
                && !already_attempted(o, &revision);
            seen = Some((requested, sync_due.then_some(revision)));
            Ok(())
        });
        let (Ok(_), Some((requested, sync_due))) = (written, seen) else {
            return;
        };
        let (running, running_same) = {
            let apps = self.apps();
            let running = apps.get(key).and_then(|a| a.running.as_ref());
            (
                running.is_some(),
                running.is_some_and(|(op, _)| Some(op) == requested.as_ref()),
            )
        };
        match (requested, sync_due) {
            (Some(op), _) if !running_same => self.start_operation(key, op),
            (Some(_), _) => {}
            (None, Some(revision)) if !running => {
                let op =
                    json!({"sync": {"revision": revision}, "initiatedBy": {"automated": true}});
                self.start_operation(key, op);
            }
            (None, _) => {}
        }
    }

    /// Starts `op` on the Application, abandoning any operation still running.
    fn start_operation(self: &Arc<Self>, key: &Key, op: Value) {
        let mut apps = self.apps();
        let app = apps.entry(key.clone()).or_default();
        app.ops_started += 1;
        let id = app.ops_started;
        app.current_op.store(id, Ordering::SeqCst);
        if let Some((_, old)) = app.running.take() {
            old.abort();
        }
        let run = sync::Operation {
            argo: self.clone(),
            key: key.clone(),
            id,
            current: app.current_op.clone(),
            op: op.clone(),
            known: Mutex::new(None),
        };
        let task = tokio::spawn(run.run());
        app.running = Some((op, task.abort_handle()));
    }

    /// Marks the operation finished (called by the operation itself).
    fn operation_finished(&self, key: &Key, id: u64) {
        if let Some(app) = self.apps().get_mut(key)
            && app.current_op.load(Ordering::SeqCst) == id
        {
            app.running = None;
        }
    }

    /// On delete: stop syncing, then remove the workload and the cascade finalizer.
    fn start_finalizer(self: &Arc<Self>, key: Key) {
        {
            let mut apps = self.apps();
            let app = apps.entry(key.clone()).or_default();
            if app.finalizing {
                return;
            }
            app.finalizing = true;
            app.current_op.store(0, Ordering::SeqCst);
            if let Some((_, task)) = app.running.take() {
                task.abort();
            }
        }
        tokio::spawn(sync::finalize(self.clone(), key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shas_resolve_to_themselves_and_branches_to_a_stable_commit() {
        let sha = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";
        assert_eq!(resolve_revision(&json!({"targetRevision": sha})), sha);
        let a = resolve_revision(&json!({"repoURL": "r", "targetRevision": "main"}));
        assert_eq!(a.len(), 40);
        assert_eq!(
            a,
            resolve_revision(&json!({"repoURL": "r", "targetRevision": "main"}))
        );
        assert_ne!(
            a,
            resolve_revision(&json!({"repoURL": "r", "targetRevision": "dev"}))
        );
    }
}
