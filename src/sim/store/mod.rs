//! The simulated API server's object store: Applications by namespace and name, a global
//! `resourceVersion`, a bounded watch history and a broadcast of changes. It knows nothing of
//! Argo CD: the Argo stand-in (`super::argo`) is one more client that watches and writes.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
};

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

/// Watch events kept for resuming watches; older resource versions get 410 Gone (as after an
/// etcd compaction). Each event shares its object with the store.
const HISTORY: usize = 1024;

mod object;
mod writes;

use object::meta_str;
pub use object::{ApiFailure, ApiResult, Filter, Object, Stored, WatchEvent, merge_patch};

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

    /// Numbers a new version of `object` (setting its `resourceVersion`), keeps it in the watch
    /// history and sends it to watchers.
    fn record(&self, inner: &mut Inner, kind: &'static str, object: &mut Value) -> Object {
        inner.rv += 1;
        object["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        let object = Arc::new(Stored::new(object));
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

    /// How many objects are stored.
    pub fn len(&self) -> usize {
        self.lock().objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
