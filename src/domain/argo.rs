//! What Argo CD reports about an Application, and the rule that turns it into a verdict for the
//! current deployment. Pure: the kube adapter reads the Application, this decides.
//!
//! A verdict counts only on status Argo CD produced after it saw the current deployment:
//! - the sync operation must be ours: `status.operationState.operation.info` carries
//!   `blueberry.io/deployment = {generation}.{attempt}` (Blueberry requests every attempt's sync
//!   through the Application's `operation` field with that info; Argo CD copies it into the
//!   operation state). An older operation, whatever its phase, means "waiting".
//! - a failed operation (`phase` `Failed`/`Error`) of ours is a failure;
//! - after our operation `Succeeded`, health counts only once Argo CD has refreshed since the
//!   operation finished (`status.reconciledAt >= operationState.finishedAt`, both written by
//!   Argo CD's controller, so no clock is compared across machines), and only for the commit
//!   that operation synced (`status.sync.revision == operationState.syncResult.revision`, which
//!   for a branch is what the branch resolved to in that same operation; for a pinned commit it
//!   must also be that commit).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::manifest::{
    ANNOTATION_DEPLOYMENT, Application, INFO_DEPLOYMENT, LABEL_ENVIRONMENT, Operation,
};

/// A sync operation as Argo CD reports it in `status.operationState`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedOperation {
    /// The `blueberry.io/deployment` info of the operation, when Blueberry requested it.
    pub deployment: Option<String>,
    /// `Running`, `Terminating`, `Succeeded`, `Failed`, `Error`.
    pub phase: String,
    pub message: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `syncResult.revision`: the commit the operation synced.
    pub revision: Option<String>,
}

/// One managed resource (`status.resources[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ObservedResource {
    pub kind: String,
    pub name: String,
    /// `argocd.argoproj.io/sync-wave` of the resource.
    pub wave: i64,
    /// `Synced` or `OutOfSync`.
    pub sync: String,
    /// Absent for kinds Argo CD has no health check for (ConfigMaps).
    pub health: Option<String>,
    pub message: Option<String>,
}

/// What Argo CD reports about one Application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedApplication {
    pub name: String,
    /// The `blueberry.io/environment` label.
    pub environment: Option<String>,
    /// The `blueberry.io/deployment` annotation of the last apply.
    pub deployment: Option<String>,
    /// `metadata.resourceVersion`, to keep the newest of two reads.
    pub resource_version: Option<String>,
    /// The deployment whose sync is requested and not yet finished (the `operation` field;
    /// Argo CD clears it when an operation completes).
    pub requested: Option<String>,
    /// A `deletionTimestamp` is set (finalizers still running).
    pub deleting: bool,
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing`, `Unknown`.
    pub health: String,
    pub health_message: Option<String>,
    /// `Synced`, `OutOfSync`, `Unknown`.
    pub sync: String,
    /// `status.sync.revision`: the commit the last comparison was made at.
    pub sync_revision: Option<String>,
    pub reconciled_at: Option<DateTime<Utc>>,
    pub operation: Option<ObservedOperation>,
    /// `status.conditions[]` as `(type, message)`.
    pub conditions: Vec<(String, String)>,
    pub resources: Vec<ObservedResource>,
}

fn deployment_info(op: Option<&Operation>) -> Option<String> {
    op?.info
        .iter()
        .find(|i| i.name == INFO_DEPLOYMENT)
        .map(|i| i.value.clone())
}

fn or_unknown(s: &str) -> String {
    if s.is_empty() {
        "Unknown".to_owned()
    } else {
        s.to_owned()
    }
}

impl From<&Application> for ObservedApplication {
    fn from(app: &Application) -> Self {
        let status = app.status.clone().unwrap_or_default();
        let health = status.health.unwrap_or_default();
        let sync = status.sync.unwrap_or_default();
        let meta = &app.metadata;
        Self {
            name: meta.name.clone().unwrap_or_default(),
            environment: meta
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_ENVIRONMENT).cloned()),
            deployment: meta
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_DEPLOYMENT).cloned()),
            resource_version: meta.resource_version.clone(),
            requested: deployment_info(app.operation.as_ref()),
            deleting: meta.deletion_timestamp.is_some(),
            health: or_unknown(&health.status),
            health_message: health.message.filter(|m| !m.is_empty()),
            sync: or_unknown(&sync.status),
            sync_revision: sync.revision.filter(|r| !r.is_empty()),
            reconciled_at: status.reconciled_at,
            operation: status.operation_state.map(|op| ObservedOperation {
                deployment: deployment_info(op.operation.as_ref()),
                phase: op.phase,
                message: op.message.filter(|m| !m.is_empty()),
                started_at: op.started_at,
                finished_at: op.finished_at,
                revision: op.sync_result.map(|r| r.revision).filter(|r| !r.is_empty()),
            }),
            conditions: status
                .conditions
                .into_iter()
                .map(|c| (c.kind, c.message))
                .collect(),
            resources: status
                .resources
                .into_iter()
                .map(|r| ObservedResource {
                    kind: r.kind,
                    name: r.name,
                    wave: r.sync_wave,
                    sync: r.status,
                    message: r.health.as_ref().and_then(|h| h.message.clone()),
                    health: r.health.map(|h| h.status).filter(|s| !s.is_empty()),
                })
                .collect(),
        }
    }
}

/// What the status means for the current deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Healthy and Synced at `revision`, after our sync.
    Ready { revision: String },
    /// Our sync failed, or what it deployed is Degraded; the cause, in Argo CD's words.
    Failed(String),
    /// Not decided yet; what Argo CD is doing, for people to read.
    Waiting(String),
}

impl ObservedApplication {
    /// Whether the sync requested for `deployment` is gone without having run: it is neither
    /// pending in the `operation` field nor the operation reported. Argo CD clears that field
    /// when an operation completes, which also wipes a request written just before; then the
    /// request must be made again.
    pub fn request_lost(&self, deployment: &str) -> bool {
        self.deployment.as_deref() == Some(deployment)
            && self.requested.as_deref() != Some(deployment)
            && self.operation_for(deployment).is_none()
    }

    /// The operation Argo CD ran for `deployment`, if the reported one is it.
    pub fn operation_for(&self, deployment: &str) -> Option<&ObservedOperation> {
        self.operation
            .as_ref()
            .filter(|op| op.deployment.as_deref() == Some(deployment))
    }

    /// Why it is failing, most telling first: a Degraded resource and its message, else the
    /// Application's health message, else the operation's message, else a condition.
    pub fn failure_cause(&self) -> String {
        if let Some(r) = self
            .resources
            .iter()
            .find(|r| r.health.as_deref() == Some("Degraded"))
        {
            return match &r.message {
                Some(m) => format!("{} {}: {m}", r.kind, r.name),
                None => format!("{} {} is Degraded", r.kind, r.name),
            };
        }
        if self.health == "Degraded"
            && let Some(m) = &self.health_message
        {
            return m.clone();
        }
        if let Some(m) = self.operation.as_ref().and_then(|o| o.message.as_ref())
            && self
                .operation
                .as_ref()
                .is_some_and(|o| matches!(o.phase.as_str(), "Failed" | "Error"))
        {
            return m.clone();
        }
        if let Some((kind, message)) = self.conditions.first() {
            return format!("{kind}: {message}");
        }
        format!("health {}, sync {}", self.health, self.sync)
    }

    /// What Argo CD is doing, in one line: the operation's message while it runs.
    pub fn progress(&self) -> String {
        let op = self
            .operation
            .as_ref()
            .filter(|o| matches!(o.phase.as_str(), "Running" | "Terminating"))
            .and_then(|o| o.message.clone());
        match op {
            Some(m) => format!("{} / {}: {m}", self.health, self.sync),
            None => format!("{} / {}", self.health, self.sync),
        }
    }
}

/// Judges `app` for deployment `deployment` (`{generation}.{attempt}`), whose commit is
/// `pinned` when the environment deploys a fixed commit (a branch otherwise).
pub fn judge(app: &ObservedApplication, deployment: &str, pinned: Option<&str>) -> Verdict {
    if app.deployment.as_deref() != Some(deployment) {
        return Verdict::Waiting(format!("Argo CD has not seen deployment {deployment} yet"));
    }
    if app.deleting {
        return Verdict::Waiting("the Application is being deleted".into());
    }
    let Some(op) = app.operation_for(deployment) else {
        return Verdict::Waiting(format!(
            "waiting for Argo CD to start the sync ({})",
            app.progress()
        ));
    };
    match op.phase.as_str() {
        "Failed" | "Error" => return Verdict::Failed(app.failure_cause()),
        "Succeeded" => {}
        _ => return Verdict::Waiting(app.progress()),
    }
    let Some(synced) = op.revision.as_deref() else {
        return Verdict::Waiting("the sync reported no revision yet".into());
    };
    if let Some(want) = pinned
        && !synced.starts_with(want)
        && !want.starts_with(synced)
    {
        return Verdict::Waiting(format!("Argo CD synced {synced}, waiting for {want}"));
    }
    if app.sync_revision.as_deref() != Some(synced) {
        return Verdict::Waiting(format!("waiting for Argo CD to compare at {synced}"));
    }
    let fresh = matches!((app.reconciled_at, op.finished_at), (Some(r), Some(f)) if r >= f);
    if !fresh {
        return Verdict::Waiting("waiting for Argo CD to refresh after the sync".into());
    }
    match (app.health.as_str(), app.sync.as_str()) {
        ("Healthy", "Synced") => Verdict::Ready {
            revision: synced.to_owned(),
        },
        ("Degraded", _) => Verdict::Failed(app.failure_cause()),
        _ => Verdict::Waiting(app.progress()),
    }
}

#[cfg(test)]
#[path = "argo_tests.rs"]
mod tests;
