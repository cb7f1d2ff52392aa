//! The simulator's stand-in for the Argo CD application controller: it moves an applied
//! Application through `Progressing` to `Healthy`/`Synced` (or a fault), and runs the cascade
//! finalizer on delete.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};

use super::state::SimState;
use crate::domain::manifest::CASCADE_FINALIZER;

/// Per-Application fault injection (annotation `blueberry.io/sim` or a server rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultMode {
    /// Behave like a healthy Argo CD.
    None,
    /// Sync, then report `Degraded` with a message.
    Degraded,
    /// Take ten times the configured delay.
    Slow,
    /// Alternate between `Healthy` and `Degraded`.
    Flap,
    /// Stay `Progressing` forever.
    Stuck,
}

impl FaultMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" | "" => Some(Self::None),
            "degraded" => Some(Self::Degraded),
            "slow" => Some(Self::Slow),
            "flap" => Some(Self::Flap),
            "stuck" => Some(Self::Stuck),
            _ => None,
        }
    }
}

pub const DEGRADED_MESSAGE: &str =
    "simulated: Deployment \"backend\" exceeded its progress deadline";

fn set_status(state: &SimState, ns: &str, name: &str, op: u64, status: Value) -> bool {
    if state.current_operation(ns, name) != Some(op) {
        return false;
    }
    state
        .modify(ns, name, |obj| {
            if obj.pointer("/metadata/deletionTimestamp").is_none() {
                obj["status"] = status;
                if let Some(a) = obj
                    .pointer_mut("/metadata/annotations")
                    .and_then(Value::as_object_mut)
                {
                    a.remove("argocd.argoproj.io/refresh");
                }
            }
            Ok(())
        })
        .is_ok()
}

fn status(health: &str, message: Option<&str>, sync: &str, revision: &Value, phase: &str) -> Value {
    let mut health_v = json!({"status": health});
    if let Some(m) = message {
        health_v["message"] = json!(m);
    }
    json!({
        "health": health_v,
        "sync": {"status": sync, "revision": revision},
        "operationState": {"phase": phase, "message": match phase {
            "Running" => "simulated sync in progress",
            "Succeeded" => "successfully synced (all tasks run)",
            _ => "",
        }},
        "reconciledAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

/// Starts a (simulated) sync of the Application: Progressing now, the outcome after the delay.
pub fn start_sync(state: &Arc<SimState>, ns: &str, name: &str) {
    let Ok(obj) = state.get(ns, name) else { return };
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        return;
    }
    let op = state.next_operation(ns, name);
    let revision = obj
        .pointer("/spec/source/targetRevision")
        .cloned()
        .unwrap_or(json!("HEAD"));
    set_status(
        state,
        ns,
        name,
        op,
        status("Progressing", None, "OutOfSync", &revision, "Running"),
    );
    let fault = state.fault_for(&obj);
    let delay = state.settings().ready_delay;
    let (state, ns, name) = (state.clone(), ns.to_owned(), name.to_owned());
    tokio::spawn(async move {
        let delay = if fault == FaultMode::Slow {
            delay * 10
        } else {
            delay
        };
        tokio::time::sleep(delay).await;
        match fault {
            FaultMode::Stuck => {}
            FaultMode::Degraded => {
                set_status(
                    &state,
                    &ns,
                    &name,
                    op,
                    status(
                        "Degraded",
                        Some(DEGRADED_MESSAGE),
                        "Synced",
                        &revision,
                        "Succeeded",
                    ),
                );
            }
            FaultMode::None | FaultMode::Slow => {
                set_status(
                    &state,
                    &ns,
                    &name,
                    op,
                    status("Healthy", None, "Synced", &revision, "Succeeded"),
                );
            }
            FaultMode::Flap => {
                let period = delay.max(Duration::from_millis(50));
                let mut healthy = true;
                loop {
                    let s = if healthy {
                        status("Healthy", None, "Synced", &revision, "Succeeded")
                    } else {
                        status(
                            "Degraded",
                            Some("simulated: flapping"),
                            "Synced",
                            &revision,
                            "Succeeded",
                        )
                    };
                    if !set_status(&state, &ns, &name, op, s) {
                        break;
                    }
                    healthy = !healthy;
                    tokio::time::sleep(period).await;
                }
            }
        }
    });
}

/// Runs the cascade finalizer after the delay: the workload is "deleted", then the finalizer
/// is removed and the Application goes away.
pub fn start_finalizer(state: &Arc<SimState>, ns: &str, name: &str) {
    let delay = state.settings().ready_delay / 2;
    let (state, ns, name) = (state.clone(), ns.to_owned(), name.to_owned());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = state.modify(&ns, &name, |obj| {
            if let Some(f) = obj
                .pointer_mut("/metadata/finalizers")
                .and_then(Value::as_array_mut)
            {
                f.retain(|v| v.as_str() != Some(CASCADE_FINALIZER));
            }
            Ok(())
        });
    });
}
