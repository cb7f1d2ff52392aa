//! One simulated sync operation, wave by wave, and the cascade finalizer.
//!
//! Long on purpose: one operation's waves, hooks and result are one sequence, read in the order
//! Argo CD runs it.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};

use super::{
    ArgoSim, Key,
    faults::{FaultMode, SYNC_ERROR_MESSAGE, degraded_message},
    resolve_revision,
    resources::{Resource, aggregate_health, aggregate_sync, render, waves},
};
use crate::{
    domain::manifest::CASCADE_FINALIZER,
    sim::store::{Object, now_ts},
};

/// A sync operation in flight.
pub(super) struct Operation {
    pub argo: Arc<ArgoSim>,
    pub key: Key,
    pub id: u64,
    /// The number of the operation allowed to write; a newer operation or a delete changes it.
    pub current: Arc<AtomicU64>,
    /// The operation as requested (`operation` of the Application, or an automated sync).
    pub op: Value,
    /// The Application as this operation last read or wrote it, parsed: its next write starts
    /// from it while nobody else wrote meanwhile. One tree per operation in flight.
    pub known: Mutex<Option<(Object, Value)>>,
}

fn resources_json(resources: &[Resource]) -> Value {
    Value::Array(resources.iter().map(Resource::to_json).collect())
}

impl Operation {
    fn is_current(&self) -> bool {
        self.current.load(Ordering::SeqCst) == self.id
    }

    /// Writes status while this is still the Application's current operation.
    fn write(&self, f: impl FnOnce(&mut Value)) -> bool {
        if !self.is_current() {
            return false;
        }
        let current = self.current.clone();
        let id = self.id;
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        self.argo
            .store
            .modify_known(&self.key.0, &self.key.1, &mut known, |o| {
                if current.load(Ordering::SeqCst) == id
                    && o.pointer("/metadata/deletionTimestamp").is_none()
                {
                    f(o);
                }
                Ok(())
            })
            .is_ok()
    }

    fn show(&self, resources: &[Resource], message: &str) -> bool {
        let (health, health_message) = aggregate_health(resources);
        let message = message.to_owned();
        self.write(|o| {
            let status = &mut o["status"];
            status["resources"] = resources_json(resources);
            status["health"] = json!({"status": health});
            if let Some(m) = health_message {
                status["health"]["message"] = json!(m);
            }
            status["operationState"]["message"] = json!(message);
        })
    }

    pub(super) async fn run(self) {
        let Ok(stored) = self.argo.store.get(&self.key.0, &self.key.1) else {
            return;
        };
        let obj = stored.value();
        let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
        let source = spec.get("source").cloned().unwrap_or(Value::Null);
        let revision = resolve_revision(&source);
        let fault = self.argo.faults.for_object(&obj);
        let settings = self.argo.settings();
        let mut total = settings.draw_sync_time();
        if fault == FaultMode::Slow {
            total *= 10;
        }
        self.argo.record_drawn(&self.key.1, total);
        let mut resources = render(&spec);
        let started = now_ts();
        let op = self.op.clone();
        let keep_previous: Vec<(String, String)> = obj
            .pointer("/status/resources")
            .and_then(Value::as_array)
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| {
                        Some((
                            r.get("name")?.as_str()?.to_owned(),
                            r.pointer("/health/status")?.as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        *self.known.lock().unwrap_or_else(|p| p.into_inner()) = Some((stored, obj));
        // Resources that already run keep their health until their wave is synced again.
        for r in &mut resources {
            if let Some((_, h)) = keep_previous.iter().find(|(n, _)| *n == r.name)
                && r.health.is_some()
            {
                r.health = Some(match h.as_str() {
                    "Healthy" => "Healthy",
                    "Degraded" => "Degraded",
                    "Progressing" => "Progressing",
                    _ => "Missing",
                });
            }
        }
        let first = self.write(|o| {
            let status = &mut o["status"];
            status["operationState"] = json!({
                "operation": op, "phase": "Running",
                "message": "one or more tasks are running", "startedAt": started,
            });
            if let Some(c) = status.get_mut("conditions").and_then(Value::as_array_mut) {
                c.retain(|c| c["type"] != "SyncError");
            }
        });
        if !first {
            return self.done();
        }
        if fault == FaultMode::SyncError {
            tokio::time::sleep(total / 4).await;
            self.fail(&source, &revision, &resources);
            return self.done();
        }
        let all_waves = waves(&resources);
        let per_wave = total / all_waves.len().max(1) as u32;
        for wave in all_waves {
            for r in resources.iter_mut().filter(|r| r.wave == wave) {
                r.sync = "Synced";
                if r.health.is_some() {
                    r.health = Some(if r.starts_progressing() {
                        "Progressing"
                    } else {
                        "Healthy"
                    });
                    r.message = None;
                }
            }
            let waiting = resources
                .iter()
                .filter(|r| r.wave == wave && r.health == Some("Progressing"))
                .map(Resource::reference)
                .collect::<Vec<_>>();
            let message = if waiting.is_empty() {
                format!("wave {wave} synced")
            } else {
                format!("waiting for healthy state of {}", waiting.join(", "))
            };
            if !self.show(&resources, &message) {
                return self.done();
            }
            tokio::time::sleep(per_wave).await;
            for r in resources
                .iter_mut()
                .filter(|r| r.wave == wave && r.health == Some("Progressing"))
            {
                match fault {
                    FaultMode::Stuck if r.is_backend() => {
                        r.message = Some(format!(
                            "Deployment \"{}\" has not become available: Back-off pulling image (simulated)",
                            r.name
                        ));
                    }
                    FaultMode::Degraded if r.is_backend() => {
                        r.health = Some("Degraded");
                        r.message = Some(degraded_message(&r.name));
                    }
                    _ => r.health = Some("Healthy"),
                }
            }
            if fault == FaultMode::Stuck
                && resources.iter().any(|r| r.wave == wave && r.is_backend())
            {
                // Progressing forever; the operation never finishes.
                let stuck = resources
                    .iter()
                    .find(|r| r.is_backend())
                    .map(Resource::reference);
                self.show(
                    &resources,
                    &format!("waiting for healthy state of {}", stuck.unwrap_or_default()),
                );
                return;
            }
        }
        self.succeed(&source, &revision, &resources);
        if fault == FaultMode::Flap {
            self.flap(resources, total).await;
        }
        self.done();
    }

    fn finished(&self, phase: &str, message: &str, source: &Value, revision: &str) -> Value {
        json!({
            "operation": self.op, "phase": phase, "message": message,
            "startedAt": Value::Null, "finishedAt": now_ts(),
            "syncResult": {"revision": revision, "source": source},
        })
    }

    fn succeed(&self, source: &Value, revision: &str, resources: &[Resource]) {
        let mut state = self.finished(
            "Succeeded",
            "successfully synced (all tasks run)",
            source,
            revision,
        );
        let sync = aggregate_sync(resources);
        let ok = self.write(|o| {
            state["startedAt"] = o["status"]["operationState"]["startedAt"].clone();
            let status = &mut o["status"];
            status["operationState"] = state;
            status["sync"]["status"] = json!(sync);
            status["sync"]["revision"] = json!(revision);
            status["resources"] = resources_json(resources);
            if let Some(map) = o.as_object_mut() {
                map.remove("operation");
            }
        });
        if ok {
            self.refreshed(resources);
        }
    }

    fn fail(&self, source: &Value, revision: &str, resources: &[Resource]) {
        let mut state = self.finished("Failed", SYNC_ERROR_MESSAGE, source, revision);
        let ok = self.write(|o| {
            state["startedAt"] = o["status"]["operationState"]["startedAt"].clone();
            let status = &mut o["status"];
            status["operationState"] = state;
            status["sync"]["status"] = json!("OutOfSync");
            status["resources"] = resources_json(resources);
            let condition = json!({"type": "SyncError", "message": SYNC_ERROR_MESSAGE,
                "lastTransitionTime": now_ts()});
            match status.get_mut("conditions").and_then(Value::as_array_mut) {
                Some(c) => c.push(condition),
                None => status["conditions"] = json!([condition]),
            }
            if let Some(map) = o.as_object_mut() {
                map.remove("operation");
            }
        });
        if ok {
            self.refreshed(resources);
        }
    }

    /// The refresh Argo CD requests after an operation: health as of now, `reconciledAt` now.
    fn refreshed(&self, resources: &[Resource]) {
        let (health, message) = aggregate_health(resources);
        self.write(|o| {
            let status = &mut o["status"];
            status["health"] = json!({"status": health});
            if let Some(m) = message {
                status["health"]["message"] = json!(m);
            }
            status["reconciledAt"] = json!(now_ts());
        });
    }

    async fn flap(&self, mut resources: Vec<Resource>, period: Duration) {
        let period = period.max(Duration::from_millis(50));
        let mut healthy = true;
        loop {
            tokio::time::sleep(period).await;
            healthy = !healthy;
            for r in resources.iter_mut().filter(|r| r.is_backend()) {
                r.health = Some(if healthy { "Healthy" } else { "Degraded" });
                r.message = (!healthy).then(|| "simulated: flapping".to_owned());
            }
            let (health, message) = aggregate_health(&resources);
            let json_resources = resources_json(&resources);
            let ok = self.write(|o| {
                o["status"]["health"] = json!({"status": health});
                if let Some(m) = message {
                    o["status"]["health"]["message"] = json!(m);
                }
                o["status"]["resources"] = json_resources;
            });
            if !ok {
                return;
            }
        }
    }

    fn done(&self) {
        self.argo.operation_finished(&self.key, self.id);
        if self.is_current() {
            // After an operation Argo CD refreshes: a spec changed meanwhile is synced next.
            self.argo.refresh(&self.key);
        }
    }
}

/// The cascade finalizer: after half the sync time the workload is gone and the finalizer is
/// removed, unless the `finalizer-stuck` fault holds it.
pub(super) async fn finalize(argo: Arc<ArgoSim>, key: Key) {
    loop {
        let Ok(obj) = argo.store.get(&key.0, &key.1).map(|o| o.value()) else {
            return;
        };
        if argo.faults.for_object(&obj) != FaultMode::FinalizerStuck {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(argo.settings().ready_delay / 2).await;
    let _ = argo.store.modify(&key.0, &key.1, |o| {
        o["status"]["resources"] = json!([]);
        o["status"]["health"] = json!({"status": "Missing"});
        if let Some(f) = o
            .pointer_mut("/metadata/finalizers")
            .and_then(Value::as_array_mut)
        {
            f.retain(|v| v.as_str() != Some(CASCADE_FINALIZER));
        }
        Ok(())
    });
}
