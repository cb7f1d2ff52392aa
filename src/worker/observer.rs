//! One shared watch of every Application Blueberry manages (label selector on its ownership
//! label), kept as a cache the reconciler reads, and turned into reconcile triggers: a change
//! to an Application triggers its environment; a (re)list triggers every environment, so a
//! missed event costs nothing (level-triggered).

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use futures::StreamExt;
use tokio::sync::{Notify, watch};

use super::workqueue::WorkQueue;
use crate::{
    domain::argo::ObservedApplication,
    ports::cluster::{Cluster, ClusterEvent},
};

/// What the watch has shown of the cluster.
#[derive(Default)]
pub struct Observer {
    apps: RwLock<HashMap<String, ObservedApplication>>,
    /// A complete list has arrived at least once: absence in the cache means absence.
    synced: AtomicBool,
    /// The watch is connected now (no error since its last list).
    live: AtomicBool,
    /// Notified on every relist: the resync pass then looks at every live environment.
    pub relisted: Notify,
}

/// Newer of two reads of the same object, by `resourceVersion` (opaque strings that the
/// simulator and etcd-backed servers both make numeric).
fn newer(candidate: &ObservedApplication, current: &ObservedApplication) -> bool {
    match (
        candidate
            .resource_version
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok()),
        current
            .resource_version
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok()),
    ) {
        (Some(a), Some(b)) => a >= b,
        _ => true,
    }
}

/// The environment an Application belongs to: its label, else its name without `env-`.
pub fn environment_of(app: &ObservedApplication) -> Option<String> {
    app.environment
        .clone()
        .or_else(|| app.name.strip_prefix("env-").map(str::to_owned))
}

impl Observer {
    pub fn get(&self, name: &str) -> Option<ObservedApplication> {
        self.apps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::SeqCst)
    }

    pub fn len(&self) -> usize {
        self.apps.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records an Application as read or applied, unless the cache already has a newer one.
    pub fn record(&self, app: ObservedApplication) {
        let mut apps = self.apps.write().unwrap_or_else(|p| p.into_inner());
        match apps.get(&app.name) {
            Some(current) if !newer(&app, current) => {}
            _ => {
                apps.insert(app.name.clone(), app);
            }
        }
    }

    /// Applies one watch event; returns the environments to reconcile.
    pub fn apply(&self, event: ClusterEvent) -> Vec<String> {
        let mut apps = self.apps.write().unwrap_or_else(|p| p.into_inner());
        match event {
            ClusterEvent::Applied(app) => {
                let env = environment_of(&app);
                match apps.get(&app.name) {
                    Some(current) if !newer(&app, current) => {}
                    _ => {
                        apps.insert(app.name.clone(), *app);
                    }
                }
                env.into_iter().collect()
            }
            ClusterEvent::Deleted(app) => {
                // A delete older than what was recorded since (a re-create) is not the news.
                if apps
                    .get(&app.name)
                    .is_none_or(|current| newer(&app, current))
                {
                    apps.remove(&app.name);
                }
                environment_of(&app).into_iter().collect()
            }
            ClusterEvent::Relisted(all) => {
                let mut triggers: Vec<String> = apps.values().filter_map(environment_of).collect();
                *apps = all.into_iter().map(|a| (a.name.clone(), a)).collect();
                triggers.extend(apps.values().filter_map(environment_of));
                triggers.sort();
                triggers.dedup();
                self.synced.store(true, Ordering::SeqCst);
                self.live.store(true, Ordering::SeqCst);
                self.relisted.notify_waiters();
                triggers
            }
        }
    }

    /// Follows `cluster`'s watch until `shutdown`, triggering reconciles on `queue`.
    pub async fn run(
        self: Arc<Self>,
        cluster: Arc<dyn Cluster>,
        queue: Arc<WorkQueue>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut stream = cluster.watch_managed();
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = shutdown.changed() => return,
            };
            match item {
                Some(Ok(event)) => {
                    for env in self.apply(event) {
                        queue.trigger(&env);
                    }
                }
                Some(Err(e)) => {
                    if self.live.swap(false, Ordering::SeqCst) {
                        tracing::warn!(error = %e, "the Application watch broke; it reconnects and relists by itself");
                    }
                }
                None => {
                    self.live.store(false, Ordering::SeqCst);
                    stream = cluster.watch_managed();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, rv: u64) -> ObservedApplication {
        ObservedApplication {
            name: name.into(),
            environment: name.strip_prefix("env-").map(str::to_owned),
            resource_version: Some(rv.to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn the_newest_read_wins_whatever_order_reads_arrive_in() {
        let o = Observer::default();
        o.record(app("env-a", 10));
        assert_eq!(
            o.apply(ClusterEvent::Applied(Box::new(app("env-a", 9)))),
            ["a"]
        );
        assert_eq!(
            o.get("env-a").unwrap().resource_version.as_deref(),
            Some("10")
        );
        o.apply(ClusterEvent::Applied(Box::new(app("env-a", 11))));
        assert_eq!(
            o.get("env-a").unwrap().resource_version.as_deref(),
            Some("11")
        );
        // The delete of an older incarnation does not remove the re-created one.
        o.apply(ClusterEvent::Deleted(Box::new(app("env-a", 5))));
        assert!(o.get("env-a").is_some());
        o.apply(ClusterEvent::Deleted(Box::new(app("env-a", 12))));
        assert!(o.get("env-a").is_none());
    }

    #[test]
    fn a_relist_replaces_everything_and_triggers_what_was_and_what_is() {
        let o = Observer::default();
        assert!(!o.is_synced() && !o.is_live());
        o.apply(ClusterEvent::Applied(Box::new(app("env-gone", 1))));
        let triggers = o.apply(ClusterEvent::Relisted(vec![
            app("env-b", 3),
            app("env-c", 4),
        ]));
        assert_eq!(triggers, ["b", "c", "gone"]);
        assert!(
            o.get("env-gone").is_none(),
            "deleted while the watch was away"
        );
        assert_eq!(o.len(), 2);
        assert!(o.is_synced() && o.is_live());
    }
}
