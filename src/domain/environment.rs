//! The environment record and the pure rules that change it.
//!
//! Long on purpose: the record's fields and the rules that change them belong together; its tests
//! are in `environment_tests.rs`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    git::{BranchName, CommitSha},
    names::{EnvironmentId, EnvironmentName},
    overrides::HelmValuesOverride,
    resources::ObservedResources,
    status::{Status, TransitionError},
    ttl::TtlHours,
};

/// The merge request an environment belongs to (absent for manual environments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MergeRequest {
    pub iid: u64,
    pub title: String,
    pub url: String,
    pub author: String,
}

/// Health and sync as last read from the cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterObservation {
    pub health: Option<String>,
    pub sync: Option<String>,
    /// What Argo CD is doing, or why the deployment is failing, in its words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The managed resources with their sync waves, as Argo CD last reported them.
    #[serde(default, skip_serializing_if = "ObservedResources::nothing_to_store")]
    pub resources: ObservedResources,
}

/// Where the current deployment attempt is, as the reconciler records it. A worker never
/// waits: "not ready yet" is `deadline` on the record and a requeue, not a held task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// The deployment (`{generation}.{attempt}`) whose Application was last applied.
    pub applied: Option<String>,
    #[serde(default, with = "super::timestamp::option")]
    pub applied_at: Option<DateTime<Utc>>,
    /// The attempt fails if Argo CD has not made it ready by then.
    #[serde(default, with = "super::timestamp::option")]
    pub deadline: Option<DateTime<Utc>>,
    /// The attempt is not applied before then (the back-off after a failed attempt).
    #[serde(default, with = "super::timestamp::option")]
    pub not_before: Option<DateTime<Utc>>,
}

/// The merge request's sticky note and what it last said.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GitLabFeedback {
    /// The sticky note, edited in place.
    pub note_id: Option<u64>,
    /// What the sticky note last said (`feedback::signature`).
    pub synced: Option<String>,
    /// What the commit status and GitLab environment last said (`feedback::commit_signature`).
    #[serde(default)]
    pub commit_synced: Option<String>,
}

/// A warning that the environment expires soon: given when `hours` were left before
/// `expires_at`. An expiry moved since (extend, a push) makes it stale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiryWarning {
    #[serde(with = "super::timestamp")]
    pub expires_at: DateTime<Utc>,
    pub hours: u32,
}

/// Who pinned an environment against expiry, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    pub by: String,
    #[serde(with = "super::timestamp")]
    pub at: DateTime<Utc>,
    /// Pinned by the merge request's keep label (removing the label lets it expire again).
    #[serde(default)]
    pub by_label: bool,
}

/// A maintainer's approval of a fork merge request's environment, for one commit. A push to
/// the fork is not deployed until approved again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForkApproval {
    pub by: String,
    #[serde(with = "super::timestamp")]
    pub at: DateTime<Utc>,
    /// The commit approved (and deployed).
    pub sha: CommitSha,
    /// A newer head pushed since, waiting for a new approval (not deployed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unapproved_head: Option<CommitSha>,
}

/// Asleep: every workload at 0 replicas and the host pointed at Blueberry, through the
/// Application's values (`blueberry.sleeping`); a visit or `/blueberry wake` wakes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asleep {
    #[serde(with = "super::timestamp")]
    pub since: DateTime<Utc>,
    pub by: String,
}

/// One environment: its identity, its desired state and what was last observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub id: EnvironmentId,
    pub name: EnvironmentName,
    pub repository_id: String,
    pub config_set_id: Option<String>,
    pub branch: BranchName,
    /// The commit to deploy; the branch head when absent.
    pub sha: Option<CommitSha>,
    pub merge_request: Option<MergeRequest>,
    pub status: Status,
    pub status_message: Option<String>,
    /// Deployment number: bumped by every create, redeploy and retry, so jobs for an older
    /// deployment recognise themselves as stale.
    pub generation: u64,
    /// Provisioning attempt of the current deployment, from 1.
    pub attempt: u32,
    pub ttl_hours: TtlHours,
    pub helm_values_override: Option<HelmValuesOverride>,
    #[serde(with = "super::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "super::timestamp")]
    pub updated_at: DateTime<Utc>,
    #[serde(with = "super::timestamp")]
    pub expires_at: DateTime<Utc>,
    #[serde(default, with = "super::timestamp::option")]
    pub terminated_at: Option<DateTime<Utc>>,
    /// When the current deployment was requested (create, redeploy, retry).
    #[serde(with = "super::timestamp")]
    pub deployment_started_at: DateTime<Utc>,
    /// When the current deployment became ready.
    #[serde(default, with = "super::timestamp::option")]
    pub ready_at: Option<DateTime<Utc>>,
    pub observed: ClusterObservation,
    /// The reconciler's bookkeeping for the current attempt.
    #[serde(default)]
    pub rollout: Rollout,
    /// What was last told to GitLab about this environment.
    #[serde(default)]
    pub feedback: GitLabFeedback,
    /// GitLab note ids of the `/blueberry` commands applied (the newest 50), so a
    /// redelivered command takes effect once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applied_notes: Vec<u64>,
    /// Pinned against expiry (`/blueberry keep`, the keep label, the API); closing or merging
    /// the merge request still tears it down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Kept>,
    /// The last expiry warning given to the merge request, for the expiry it warned about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_warning: Option<ExpiryWarning>,
    /// In line for a slot under a quota (`max_environments`): not applied until admitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<super::quota::Waiting>,
    /// A fork merge request's environment: who approved which commit (`/blueberry approve`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork: Option<ForkApproval>,
    /// Scaled to zero until woken (`/blueberry sleep`, the API, the status page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asleep: Option<Asleep>,
    /// What it requests while awake, and how long it was awake and asleep (its cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter: Option<super::cost::Meter>,
    /// The last sign of use besides a deployment: an extend, a keep, a status-page visit.
    #[serde(
        default,
        with = "super::timestamp::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub active_at: Option<DateTime<Utc>>,
    /// Bumped by the store on every write; a write with a stale version is refused.
    pub version: u64,
}

/// What it takes to create an environment, already parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEnvironment {
    pub name: EnvironmentName,
    pub repository_id: String,
    pub config_set_id: Option<String>,
    pub branch: BranchName,
    pub sha: Option<CommitSha>,
    pub merge_request: Option<MergeRequest>,
    pub ttl_hours: TtlHours,
    pub helm_values_override: Option<HelmValuesOverride>,
}

impl Environment {
    /// A fresh `pending` environment with id `id`, expiring `ttl_hours` after `now`.
    pub fn create(id: EnvironmentId, new: NewEnvironment, now: DateTime<Utc>) -> Self {
        Self {
            id,
            name: new.name,
            repository_id: new.repository_id,
            config_set_id: new.config_set_id,
            branch: new.branch,
            sha: new.sha,
            merge_request: new.merge_request,
            status: Status::Pending,
            status_message: Some("waiting for a worker to apply the Application".into()),
            generation: 1,
            attempt: 1,
            ttl_hours: new.ttl_hours,
            helm_values_override: new.helm_values_override,
            created_at: now,
            updated_at: now,
            expires_at: now + new.ttl_hours.duration(),
            terminated_at: None,
            deployment_started_at: now,
            ready_at: None,
            observed: ClusterObservation::default(),
            rollout: Rollout::default(),
            feedback: GitLabFeedback::default(),
            applied_notes: Vec::new(),
            kept: None,
            expiry_warning: None,
            waiting: None,
            fork: None,
            asleep: None,
            active_at: None,
            meter: None,
            version: 0,
        }
    }

    /// Brings a terminated environment back with a new deployment (MR reopened, name reused).
    pub fn recreate(
        &mut self,
        new: NewEnvironment,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        if self.status != Status::Terminated {
            return Err(TransitionError {
                from: self.status,
                to: Status::Pending,
            });
        }
        let (version, generation, feedback, notes) = (
            self.version,
            self.generation,
            self.feedback.clone(),
            std::mem::take(&mut self.applied_notes),
        );
        *self = Self::create(self.id.clone(), new, now);
        self.version = version;
        self.applied_notes = notes;
        self.feedback = GitLabFeedback {
            note_id: feedback.note_id,
            ..GitLabFeedback::default()
        };
        self.generation = generation + 1;
        Ok(())
    }

    /// Moves to `to` with `message`, enforcing the lifecycle.
    pub fn transition(
        &mut self,
        to: Status,
        message: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.status = self.status.transition(to)?;
        self.status_message = message;
        self.updated_at = now;
        match to {
            Status::Ready => self.ready_at = Some(now),
            Status::Terminated => self.terminated_at = Some(now),
            Status::Pending => self.ready_at = None,
            _ => {}
        }
        Ok(())
    }

    /// Starts a new deployment (redeploy, retry): pending, attempt 1, next generation.
    pub fn start_deployment(
        &mut self,
        message: String,
        now: DateTime<Utc>,
    ) -> Result<(), TransitionError> {
        self.transition(Status::Pending, Some(message), now)?;
        self.generation += 1;
        self.attempt = 1;
        self.deployment_started_at = now;
        self.rollout = Rollout::default();
        Ok(())
    }

    /// `{generation}.{attempt}`: names the current attempt on the Application (annotation and
    /// sync operation info), so its status can be told apart from an older attempt's.
    pub fn deployment_id(&self) -> String {
        format!("{}.{}", self.generation, self.attempt)
    }

    /// The revision Argo CD should deploy: the commit when known, else the branch.
    pub fn target_revision(&self) -> &str {
        self.sha
            .as_ref()
            .map(CommitSha::as_str)
            .unwrap_or(self.branch.as_str())
    }

    /// Whether the command of GitLab note `note_id` was applied already.
    pub fn applied_note(&self, note_id: u64) -> bool {
        self.applied_notes.contains(&note_id)
    }

    /// Records that the command of GitLab note `note_id` was applied (keeps the newest 50).
    pub fn record_note(&mut self, note_id: u64) {
        if !self.applied_note(note_id) {
            self.applied_notes.push(note_id);
            let excess = self.applied_notes.len().saturating_sub(50);
            self.applied_notes.drain(..excess);
        }
    }

    /// The warning due now, if any: the smallest of `thresholds` (hours before expiry) already
    /// reached and not yet warned about for this expiry. Only merge request environments that
    /// expire (not kept) are warned.
    pub fn expiry_warning_due(&self, thresholds: &[u32], now: DateTime<Utc>) -> Option<u32> {
        if self.kept.is_some() || !self.is_live_not_deleting() {
            return None;
        }
        let warned = self
            .expiry_warning
            .as_ref()
            .filter(|w| w.expires_at == self.expires_at)
            .map(|w| w.hours);
        thresholds
            .iter()
            .copied()
            .filter(|h| self.warns_at(*h).is_some_and(|at| at <= now))
            .filter(|h| warned.is_none_or(|w| *h < w))
            .min()
    }

    /// When the next warning falls due (for the controller's wait), if one is still to come.
    pub fn next_expiry_warning(
        &self,
        thresholds: &[u32],
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if self.kept.is_some() || !self.is_live_not_deleting() {
            return None;
        }
        thresholds
            .iter()
            .filter_map(|h| self.warns_at(*h))
            .filter(|at| *at > now)
            .min()
    }

    /// When the warning `hours` before expiry falls, if the environment lives longer than
    /// that (a 2-hour environment gets no "a day left" warning).
    fn warns_at(&self, hours: u32) -> Option<DateTime<Utc>> {
        let at = self.expires_at - chrono::Duration::hours(i64::from(hours));
        (at > self.created_at).then_some(at)
    }

    /// The last activity: a deployment started (create, push, redeploy, wake, retry), or an
    /// extend, keep or status-page visit. Idle sleep counts from here.
    pub fn last_active(&self) -> DateTime<Utc> {
        self.active_at.map_or(self.deployment_started_at, |a| {
            a.max(self.deployment_started_at)
        })
    }

    /// Dollars spent and saved by sleeping so far, at `rates`.
    pub fn cost(&self, now: DateTime<Utc>, rates: &super::cost::Rates) -> Option<(f64, f64)> {
        let meter = self.meter.as_ref()?;
        Some(meter.so_far(now, self.status.is_live(), self.asleep.is_some(), rates))
    }

    /// Activity (new commits, a wake, a let-go keep) gives a whole lifetime from `now` at the
    /// soonest; never a shorter one.
    pub fn live_a_lifetime_from(&mut self, now: DateTime<Utc>) {
        let lifetime = chrono::Duration::hours(i64::from(self.ttl_hours.hours()));
        self.expires_at = self.expires_at.max(now + lifetime);
    }

    /// Pending, ready or failed: live and not on its way out.
    pub fn is_live_not_deleting(&self) -> bool {
        self.status.is_live() && self.status != Status::Deleting
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.status.is_live()
            && self.status != Status::Deleting
            && self.kept.is_none()
            && self.expires_at <= now
    }
}

#[cfg(test)]
#[path = "environment_tests.rs"]
pub(crate) mod tests;
