//! The Argo CD `Application` for an environment, built as a typed value (DESIGN.md §4).
//!
//! Nothing here formats YAML: user input only ever lands in string fields or inside
//! `valuesObject`, and serialization escapes it, so it cannot add or change a field.
//!
//! Long on purpose: the whole Application document is built here field by field, so everything that
//! reaches Argo CD is seen in one place; its tests are in `manifest_tests.rs`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{ChartSource, ConfigSet, Environment, Repository, overrides::deep_merge};

pub const API_VERSION: &str = "argoproj.io/v1alpha1";
pub const KIND: &str = "Application";
pub const CASCADE_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";
pub const LABEL_ENVIRONMENT: &str = "blueberry.io/environment";
pub const LABEL_REPOSITORY: &str = "blueberry.io/repository";
pub const LABEL_MERGE_REQUEST: &str = "blueberry.io/merge-request";
pub const LABEL_MANAGED_BY: &str = "blueberry.io/managed-by";
pub const MANAGED_BY: &str = "blueberry";
/// `{generation}.{attempt}` of the deployment that applied the Application.
pub const ANNOTATION_DEPLOYMENT: &str = "blueberry.io/deployment";
/// Asks Argo CD to refresh (and, with automated sync, sync) now; Argo CD removes it.
pub const ANNOTATION_REFRESH: &str = "argocd.argoproj.io/refresh";

/// The `operation.info` entry that names the deployment (`{generation}.{attempt}`) a sync was
/// requested for; Argo CD copies it into `status.operationState.operation.info`.
pub const INFO_DEPLOYMENT: &str = "blueberry.io/deployment";
/// Who Blueberry's sync operations are initiated by.
pub const INITIATOR: &str = "blueberry";

/// `argoproj.io/v1alpha1` `Application`, the fields Blueberry writes and reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ApplicationSpec,
    /// A requested operation (Argo CD runs it, records it in `status.operationState` and
    /// clears this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ApplicationStatus>,
}

/// An Argo CD operation (only sync operations are used).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncOperation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<OperationInitiator>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<Info>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncOperation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(default)]
    pub prune: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationInitiator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default)]
    pub automated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Info {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    pub project: String,
    pub source: ApplicationSource,
    pub destination: ApplicationDestination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub target_revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<HelmSource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_object: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub namespace: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<AutomatedSync>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomatedSync {
    pub prune: bool,
    pub self_heal: bool,
}

/// The part of `.status` Argo CD writes and Blueberry reads (Argo CD's `ApplicationStatus`;
/// see ARCHITECTURE.md for which fields decide a verdict).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_state: Option<OperationState>,
    /// When the controller last compared the Application with its source (refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceStatus>,
}

/// `status.conditions[]`: comparison and sync errors, warnings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

/// `status.resources[]`: one managed resource with its sync state, health and sync wave.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
    /// `Synced`, `OutOfSync`.
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    #[serde(default)]
    pub sync_wave: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthStatus {
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    #[serde(default)]
    pub status: String,
    /// The commit the comparison was made at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// The source and destination the comparison was made against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_to: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    /// The operation as requested (with its `info`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    /// `Running`, `Terminating`, `Succeeded`, `Failed`, `Error`.
    #[serde(default)]
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_result: Option<SyncResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncResult {
    /// The commit the operation synced (a branch resolved in that operation).
    #[serde(default)]
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Value>,
}

/// Platform settings the manifest depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestSettings {
    /// Namespace Argo CD watches for Applications.
    pub argocd_namespace: String,
    /// Argo CD project environments belong to.
    pub project: String,
    /// Destination cluster API server.
    pub destination_server: String,
    /// Environments are served on `{id}.{base_domain}`.
    pub base_domain: String,
    /// Environments run in namespace `{namespace_prefix}{id}`.
    pub namespace_prefix: String,
    /// Where a sleeping environment's host is sent: Blueberry's Service, as a DNS name the
    /// environment's ExternalName Service points at.
    pub wake_service: String,
}

/// Builds the Application for `env` from its repository and config set.
pub fn build_application(
    env: &Environment,
    repo: &Repository,
    config_set: &ConfigSet,
    settings: &ManifestSettings,
) -> Application {
    let id = env.id.as_str();
    let mut labels = BTreeMap::from([
        (LABEL_ENVIRONMENT.to_owned(), id.to_owned()),
        (LABEL_REPOSITORY.to_owned(), repo.name.to_string()),
        (LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned()),
    ]);
    if let Some(mr) = &env.merge_request {
        labels.insert(LABEL_MERGE_REQUEST.to_owned(), mr.iid.to_string());
    }
    let (chart, path) = match &config_set.source {
        ChartSource::Chart(c) => (Some(c.clone()), None),
        ChartSource::Path(p) => (None, Some(p.clone())),
    };
    // MR environments and environments pinned to a commit deploy that commit; others follow the
    // branch when the chart lives in git, and the config set's chart version otherwise.
    let target_revision = match (&config_set.source, &env.sha) {
        (_, Some(sha)) => sha.to_string(),
        (ChartSource::Path(_), None) => env.branch.to_string(),
        (ChartSource::Chart(_), None) => config_set.target_revision.clone(),
    };

    let mut values = config_set.values.clone();
    if let Some(over) = &env.helm_values_override {
        deep_merge(&mut values, over.as_map());
    }
    deep_merge(&mut values, &platform_values(env, repo, settings));

    let deployment = env.deployment_id();
    Application {
        api_version: API_VERSION.to_owned(),
        kind: KIND.to_owned(),
        operation: Some(Operation {
            sync: Some(SyncOperation {
                revision: Some(target_revision.clone()),
                prune: true,
            }),
            initiated_by: Some(OperationInitiator {
                username: Some(INITIATOR.to_owned()),
                automated: false,
            }),
            info: vec![Info {
                name: INFO_DEPLOYMENT.to_owned(),
                value: deployment.clone(),
            }],
        }),
        metadata: ObjectMeta {
            name: Some(env.id.application_name()),
            namespace: Some(settings.argocd_namespace.clone()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([
                (ANNOTATION_DEPLOYMENT.to_owned(), deployment),
                (ANNOTATION_REFRESH.to_owned(), "normal".to_owned()),
            ])),
            finalizers: Some(vec![CASCADE_FINALIZER.to_owned()]),
            ..ObjectMeta::default()
        },
        spec: ApplicationSpec {
            project: settings.project.clone(),
            source: ApplicationSource {
                repo_url: config_set.repo_url.clone(),
                chart,
                path,
                target_revision,
                helm: Some(HelmSource {
                    release_name: Some(id.to_owned()),
                    values_object: Some(values),
                }),
            },
            destination: ApplicationDestination {
                server: Some(settings.destination_server.clone()),
                name: None,
                namespace: env.id.namespace(&settings.namespace_prefix),
            },
            sync_policy: Some(SyncPolicy {
                automated: Some(AutomatedSync {
                    prune: true,
                    self_heal: true,
                }),
                sync_options: vec!["CreateNamespace=true".to_owned()],
            }),
        },
        status: None,
    }
}

/// Values the platform owns (under the `blueberry` key; overrides may not touch it).
fn platform_values(
    env: &Environment,
    repo: &Repository,
    settings: &ManifestSettings,
) -> Map<String, Value> {
    let hostname = env.id.hostname(&settings.base_domain);
    let mut platform = json!({
        "environmentId": env.id.as_str(),
        "hostname": hostname,
        "url": format!("https://{hostname}"),
        "repository": repo.path_with_namespace,
        "branch": env.branch.as_str(),
        "revision": env.target_revision(),
        "imageTag": image_tag(env),
    });
    if let Some(mr) = &env.merge_request {
        platform["mergeRequest"] = json!(mr.iid);
    }
    // Asleep: the chart scales every workload to 0 and sends the host to Blueberry.
    platform["sleeping"] = json!(env.asleep.is_some());
    if env.asleep.is_some() {
        platform["wakeService"] = json!(settings.wake_service);
    }
    let mut map = Map::new();
    map.insert(super::overrides::PLATFORM_KEY.to_owned(), platform);
    map
}

/// The image tag an environment runs: the commit sha, else the branch made tag-safe
/// (`[A-Za-z0-9_.-]`, at most 128 characters, not starting with `.` or `-`).
pub fn image_tag(env: &Environment) -> String {
    if let Some(sha) = &env.sha {
        return sha.to_string();
    }
    let tag: String = env
        .branch
        .as_str()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    tag.trim_start_matches(['.', '-']).to_owned()
}

impl Application {
    /// The Application's name (`env-{id}`).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
