//! Lifecycle jobs as data: what the queue carries. The worker (`crate::worker::jobs`) runs them.

use serde::{Deserialize, Serialize};

use super::{CommitSha, EnvironmentId};

/// One lifecycle step for one environment. The ordering key is always the environment id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum LifecycleJob {
    /// Render and apply the Application for deployment `generation`, attempt `attempt`.
    Apply {
        environment_id: EnvironmentId,
        generation: u64,
        attempt: u32,
    },
    /// Wait until the Application is Healthy and Synced at the desired revision.
    Provision {
        environment_id: EnvironmentId,
        generation: u64,
        attempt: u32,
    },
    /// Start a new deployment (new commits, `/blueberry redeploy`), at `sha` when given.
    Redeploy {
        environment_id: EnvironmentId,
        sha: Option<CommitSha>,
        actor: String,
    },
    /// Delete the Application and wait until it is gone.
    Teardown { environment_id: EnvironmentId },
    /// Tear the environment down if it is past its expiry.
    Expire { environment_id: EnvironmentId },
    /// A merge request event from GitLab: create, redeploy or tear down as the rules say.
    MergeRequest {
        environment_id: EnvironmentId,
        repository_id: String,
        event: super::gitlab::MergeRequestEvent,
    },
    /// A `/blueberry` command from a merge request comment.
    Command {
        environment_id: EnvironmentId,
        repository_id: String,
        event: super::gitlab::CommandEvent,
    },
    /// Tell GitLab where the environment is (sticky note, commit status, deployment).
    Notify { environment_id: EnvironmentId },
}

impl LifecycleJob {
    pub fn environment_id(&self) -> &EnvironmentId {
        match self {
            LifecycleJob::Apply { environment_id, .. }
            | LifecycleJob::Provision { environment_id, .. }
            | LifecycleJob::Redeploy { environment_id, .. }
            | LifecycleJob::Teardown { environment_id }
            | LifecycleJob::Expire { environment_id }
            | LifecycleJob::MergeRequest { environment_id, .. }
            | LifecycleJob::Command { environment_id, .. }
            | LifecycleJob::Notify { environment_id } => environment_id,
        }
    }

    /// Jobs of one environment run in order; notifications have their own order, so a GitLab
    /// outage delays notes but never the lifecycle.
    pub fn ordering_key(&self) -> String {
        match self {
            LifecycleJob::Notify { environment_id } => format!("notify:{environment_id}"),
            other => other.environment_id().to_string(),
        }
    }

    /// Job name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            LifecycleJob::Apply { .. } => "apply",
            LifecycleJob::Provision { .. } => "provision",
            LifecycleJob::Redeploy { .. } => "redeploy",
            LifecycleJob::Teardown { .. } => "teardown",
            LifecycleJob::Expire { .. } => "expire",
            LifecycleJob::MergeRequest { .. } => "merge_request",
            LifecycleJob::Command { .. } => "command",
            LifecycleJob::Notify { .. } => "notify",
        }
    }
}

/// Delay before attempt `next_attempt` (2, 3, …): `base`, doubling each time, capped at 10 min.
pub fn retry_delay(base: std::time::Duration, next_attempt: u32) -> std::time::Duration {
    let exp = next_attempt.saturating_sub(2).min(16);
    base.saturating_mul(1 << exp)
        .min(std::time::Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn jobs_serialize_with_their_name() {
        let job = LifecycleJob::Teardown {
            environment_id: EnvironmentId::parse("pr-1-shop").unwrap(),
        };
        let v = serde_json::to_value(&job).unwrap();
        assert_eq!(v["job"], "teardown");
        assert_eq!(serde_json::from_value::<LifecycleJob>(v).unwrap(), job);
    }

    #[test]
    fn retry_delays_grow_and_are_capped() {
        let base = Duration::from_secs(5);
        assert_eq!(retry_delay(base, 2), Duration::from_secs(5));
        assert_eq!(retry_delay(base, 3), Duration::from_secs(10));
        assert_eq!(retry_delay(base, 4), Duration::from_secs(20));
        assert_eq!(retry_delay(base, 60), Duration::from_secs(600));
    }
}
