//! Per-Application fault modes of the simulated Argo CD, set by `PUT /sim/faults/{application}`
//! or the Application's `blueberry.io/sim` annotation.

use std::{collections::HashMap, sync::Mutex};

use serde_json::Value;

/// How the simulated Argo CD treats one Application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultMode {
    /// Behave like a healthy Argo CD.
    None,
    /// The sync succeeds, then the backend Deployment reports `Degraded` (progress deadline).
    Degraded,
    /// Take ten times the drawn sync time.
    Slow,
    /// Become Healthy, then alternate between `Healthy` and `Degraded`.
    Flap,
    /// The backend never becomes available: `Progressing` and the operation `Running` forever,
    /// as an `ImagePullBackOff` looks until the Deployment's progress deadline.
    Stuck,
    /// The sync operation fails (`Failed`, `OutOfSync`, a `SyncError` condition).
    SyncError,
    /// Deletion never completes: the cascade finalizer is never removed while the fault is set.
    FinalizerStuck,
}

impl FaultMode {
    pub const NAMES: &'static str =
        "none, degraded, slow, flap, stuck, sync-error, finalizer-stuck";

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" | "" => Some(Self::None),
            "degraded" => Some(Self::Degraded),
            "slow" => Some(Self::Slow),
            "flap" => Some(Self::Flap),
            "stuck" => Some(Self::Stuck),
            "sync-error" => Some(Self::SyncError),
            "finalizer-stuck" => Some(Self::FinalizerStuck),
            _ => None,
        }
    }
}

/// The message a Degraded backend reports, as Kubernetes words it.
pub fn degraded_message(deployment: &str) -> String {
    format!("Deployment \"{deployment}\" exceeded its progress deadline")
}

/// What a failed sync reports.
pub const SYNC_ERROR_MESSAGE: &str = "one or more objects failed to apply, reason: admission webhook \"validate.policy.example.com\" denied the request (simulated)";

/// Fault rules by Application name.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<HashMap<String, FaultMode>>,
}

impl Faults {
    pub fn set(&self, name: &str, mode: Option<FaultMode>) {
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        match mode {
            Some(m) => rules.insert(name.to_owned(), m),
            None => rules.remove(name),
        };
    }

    /// The fault for `obj`: its `blueberry.io/sim` annotation, else the rule for its name.
    pub fn for_object(&self, obj: &Value) -> FaultMode {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        obj.pointer("/metadata/annotations/blueberry.io~1sim")
            .and_then(Value::as_str)
            .and_then(FaultMode::parse)
            .or_else(|| {
                self.rules
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(name)
                    .copied()
            })
            .unwrap_or(FaultMode::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_annotation_beats_a_rule_and_names_parse() {
        let faults = Faults::default();
        let obj = json!({"metadata": {"name": "env-a"}});
        assert_eq!(faults.for_object(&obj), FaultMode::None);
        faults.set("env-a", Some(FaultMode::Stuck));
        assert_eq!(faults.for_object(&obj), FaultMode::Stuck);
        let annotated = json!({"metadata": {"name": "env-a",
            "annotations": {"blueberry.io/sim": "sync-error"}}});
        assert_eq!(faults.for_object(&annotated), FaultMode::SyncError);
        faults.set("env-a", None);
        assert_eq!(faults.for_object(&obj), FaultMode::None);
        for name in FaultMode::NAMES.split(", ") {
            assert!(FaultMode::parse(name).is_some(), "{name}");
        }
        assert_eq!(FaultMode::parse("broken"), None);
    }
}
