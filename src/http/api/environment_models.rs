//! Request and response bodies for environments (the seed API's `EnvironmentCreate` and
//! `EnvironmentResponse`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::{
    domain::{Environment, MergeRequest, Status},
    service::{Settings, environments::CreateEnvironment},
};

fn default_branch() -> String {
    "main".to_owned()
}

/// Create an environment by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentCreate {
    /// A DNS-1123 label (lowercase letters, digits, '-'), at most 63 characters.
    #[schema(example = "demo")]
    #[schema(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length = 63)]
    pub name: String,
    #[schema(min_length = 1)]
    pub repository_id: String,
    /// Branch to deploy: a git branch name.
    #[serde(default = "default_branch")]
    #[schema(
        default = "main",
        pattern = r"^(?!.*(?:\.\.|@\{|//))(?![-/.])(?!.*(?:[/.]|\.lock)$)(?!@$)[^\x00-\x20\x7f-\x9f~^:?*\[\\]+$",
        max_length = 255
    )]
    pub branch: String,
    /// Defaults to the repository's config set.
    #[serde(default)]
    #[schema(min_length = 1)]
    pub config_set_id: Option<String>,
    /// 1..=168; the server default (72) when absent.
    #[serde(default, deserialize_with = "crate::domain::whole::optional")]
    #[schema(minimum = 1, maximum = 168)]
    pub ttl_hours: Option<i64>,
    /// Helm values merged over the config set's; at most 64 KiB; may not set the namespace,
    /// the Argo CD project or the platform's `blueberry` values.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub helm_values_override: Option<Value>,
}

impl From<EnvironmentCreate> for CreateEnvironment {
    fn from(b: EnvironmentCreate) -> Self {
        CreateEnvironment {
            name: b.name,
            repository_id: b.repository_id,
            branch: Some(b.branch),
            config_set_id: b.config_set_id,
            ttl_hours: b.ttl_hours,
            helm_values_override: b.helm_values_override,
            sha: None,
            merge_request: None,
            fork: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GitInfo {
    pub repository_id: String,
    pub branch: String,
    pub sha: Option<String>,
    pub merge_request: Option<MergeRequest>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KubernetesInfo {
    pub namespace: String,
    pub application: String,
    pub health: Option<String>,
    pub sync: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentLinks {
    /// The status page merge request notes link to.
    pub status_page: String,
    pub events: String,
}

/// An environment as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentResponse {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub status_message: Option<String>,
    /// Provisioning attempt of the current deployment.
    pub attempt: u32,
    pub urls: Vec<String>,
    pub ttl_hours: u16,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub terminated_at: Option<DateTime<Utc>>,
    pub git: GitInfo,
    pub kubernetes: KubernetesInfo,
    pub links: EnvironmentLinks,
    /// Increases with every change; useful for caches and conditional updates.
    pub version: u64,
    /// The store let this terminated environment go after its retention; what is shown comes
    /// from its archive.
    pub archived: bool,
    /// Scaled to zero until woken (a visit, `/blueberry wake`, the API); its status stays
    /// within the five (ready once asleep).
    pub sleeping: bool,
    /// Since when it sleeps, and who put it to sleep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asleep_since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asleep_by: Option<String>,
    /// When it was last used (a deployment, a command, a wake, a status-page visit, ingress
    /// traffic): what idle sleep and the sleep schedule go by.
    pub last_active_at: DateTime<Utc>,
    /// What it costs: its requests priced over the time it was awake, and what sleeping saved
    /// (`--cost-vcpu-hour`, `--cost-gib-hour`). Absent until first applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostInfo>,
    /// Pinned against expiry: by whom, since when, and whether the merge request's keep label
    /// did it. Absent when it expires as usual.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<KeptInfo>,
    /// Its place in line under a quota (1: next to start); absent once admitted or without
    /// a quota, and 0 for the moment between asking and being placed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u32>,
    /// Why it waits: the cap that holds it and how full it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueInfo>,
    /// A fork merge request's approval: who approved which commit, and a newer head waiting
    /// for approval (not deployed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork_approval: Option<ForkApprovalInfo>,
}

/// A maintainer's approval of a fork merge request's commit.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ForkApprovalInfo {
    pub by: String,
    pub at: DateTime<Utc>,
    pub sha: String,
    /// Pushed since; deployed only after `/blueberry approve`.
    pub unapproved_head: Option<String>,
}

/// An environment's place in line under a quota.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueInfo {
    pub position: u32,
    /// Environments running under the cap that holds it.
    pub running: u32,
    /// The cap.
    pub max: u32,
    pub scope: crate::domain::quota::QuotaScope,
    /// When it got in line; the line goes oldest first.
    pub since: DateTime<Utc>,
}

/// An environment's cost so far, in US dollars.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CostInfo {
    pub spent_usd: f64,
    pub saved_usd: f64,
    /// Requested while awake.
    pub cpu_millis: u64,
    pub memory_mib: u64,
    pub awake_hours: f64,
    pub asleep_hours: f64,
}

/// Who keeps an environment from expiring.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeptInfo {
    pub by: String,
    pub since: DateTime<Utc>,
    pub by_label: bool,
}

impl EnvironmentResponse {
    pub fn new(env: &Environment, settings: &Settings, now: DateTime<Utc>) -> Self {
        let cost = env.meter.as_ref().map(|m| {
            let (spent, saved) = env.cost(now, &settings.cost_rates).unwrap_or_default();
            let mut closed = m.clone();
            if env.status.is_live() {
                closed.close(now, env.asleep.is_some());
            }
            let round = |x: f64| (x * 100.0).round() / 100.0;
            CostInfo {
                spent_usd: round(spent),
                saved_usd: round(saved),
                cpu_millis: m.requests.cpu_millis,
                memory_mib: m.requests.memory_mib,
                awake_hours: round(closed.awake_secs as f64 / 3600.0),
                asleep_hours: round(closed.asleep_secs as f64 / 3600.0),
            }
        });
        Self {
            cost,
            id: env.id.to_string(),
            name: env.name.to_string(),
            status: env.status,
            status_message: env.status_message.clone(),
            attempt: env.attempt,
            urls: vec![format!(
                "https://{}",
                env.id.hostname(&settings.base_domain)
            )],
            ttl_hours: env.ttl_hours.hours(),
            created_at: env.created_at,
            updated_at: env.updated_at,
            expires_at: env.expires_at,
            terminated_at: env.terminated_at,
            git: GitInfo {
                repository_id: env.repository_id.clone(),
                branch: env.branch.to_string(),
                sha: env.sha.as_ref().map(ToString::to_string),
                merge_request: env.merge_request.clone(),
            },
            kubernetes: KubernetesInfo {
                namespace: env.id.namespace(&settings.manifest.namespace_prefix),
                application: env.id.application_name(),
                health: env.observed.health.clone(),
                sync: env.observed.sync.clone(),
            },
            links: EnvironmentLinks {
                status_page: settings.status_page_url(&env.id),
                events: format!("{}/api/environments/{}/events", settings.public_url, env.id),
            },
            version: env.version,
            archived: false,
            kept: env.kept.as_ref().map(|k| KeptInfo {
                by: k.by.clone(),
                since: k.at,
                by_label: k.by_label,
            }),
            sleeping: env.asleep.is_some(),
            asleep_since: env.asleep.as_ref().map(|a| a.since),
            asleep_by: env.asleep.as_ref().map(|a| a.by.clone()),
            last_active_at: env.last_active(),
            queue_position: env.waiting.as_ref().map(|w| w.position),
            queue: env.waiting.as_ref().map(|w| QueueInfo {
                position: w.position,
                running: w.running,
                max: w.cap,
                scope: w.scope,
                since: w.since,
            }),
            fork_approval: env.fork.as_ref().map(|f| ForkApprovalInfo {
                by: f.by.clone(),
                at: f.at,
                sha: f.sha.to_string(),
                unapproved_head: f.unapproved_head.as_ref().map(ToString::to_string),
            }),
        }
    }
}

/// A page of environments, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentList {
    pub items: Vec<EnvironmentResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next: Option<String>,
}

/// Filters and paging for `GET /api/environments`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1..=100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next` value of the previous page: a position in the listing (creation time in
    /// microseconds and id), so any value of this shape is answered.
    #[param(pattern = r"^[0-9]{16}~[a-z0-9-]{0,63}$")]
    pub cursor: Option<String>,
    #[param(value_type = Option<crate::domain::Status>)]
    pub status: Option<String>,
    pub repository_id: Option<String>,
    /// Name prefix.
    pub name: Option<String>,
    /// Only kept environments (`true`), or only those that expire (`false`).
    pub kept: Option<bool>,
    /// Only sleeping environments (`true`), or only awake ones (`false`).
    pub sleeping: Option<bool>,
}

/// `POST /api/environments/{id}/extend`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// Hours to add, 1..=168; the expiry never goes beyond one week from now.
    #[schema(minimum = 1, maximum = 168)]
    #[serde(deserialize_with = "crate::domain::whole::integer")]
    pub hours: i64,
}
