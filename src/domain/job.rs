//! Durable jobs as data: what the queue carries. The worker (`crate::worker`) runs them.
//!
//! A `Reconcile` is a reason to look again, not a recipe: the controller decides what to do
//! from the record and the cluster. The others carry what only the event knows (which merge
//! request, which comment) or talk to GitLab, under their own keys so that GitLab never holds
//! the lifecycle.

use serde::{Deserialize, Serialize};

use super::EnvironmentId;

/// One durable job. Ordering key and coalescing key per kind: see the methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum LifecycleJob {
    /// Look at the environment again (it changed, or may have).
    Reconcile { environment_id: EnvironmentId },
    /// Bring the merge request's environment in line with the newest event recorded for it.
    MergeRequest {
        environment_id: EnvironmentId,
        repository_id: String,
        iid: u64,
    },
    /// A `/blueberry` command from a merge request comment (takes effect once per note id).
    Command {
        environment_id: EnvironmentId,
        repository_id: String,
        event: super::gitlab::CommandEvent,
    },
    /// Tell GitLab's commit and environment where the environment is (commit status,
    /// deployment, stopped environment).
    Notify { environment_id: EnvironmentId },
    /// Write the merge request's sticky note as the environment is now. Queued a moment after a
    /// change, so the changes of that moment merge into one note update.
    StickyNote { environment_id: EnvironmentId },
    /// Write a terminated environment's archive.
    Archive { environment_id: EnvironmentId },
    /// Post `text` on the merge request once (a command's answer; found by its marker
    /// before posting again).
    Reply {
        environment_id: EnvironmentId,
        project_id: u64,
        iid: u64,
        /// What the reply answers: a comment's note id, or another unique tag.
        reply_to: String,
        text: String,
    },
    /// A moment subscriptions may want: queue a `Deliver` for each that does.
    Announce {
        environment_id: EnvironmentId,
        topic: super::notification::Topic,
        /// The environment's version when it happened (part of each message's id).
        version: u64,
    },
    /// One message to one subscription, tried until delivered or given up.
    Deliver {
        environment_id: EnvironmentId,
        subscription_id: String,
        topic: super::notification::Topic,
        message_id: String,
    },
}

impl LifecycleJob {
    pub fn environment_id(&self) -> &EnvironmentId {
        match self {
            LifecycleJob::Reconcile { environment_id }
            | LifecycleJob::MergeRequest { environment_id, .. }
            | LifecycleJob::Command { environment_id, .. }
            | LifecycleJob::Notify { environment_id }
            | LifecycleJob::StickyNote { environment_id }
            | LifecycleJob::Archive { environment_id }
            | LifecycleJob::Reply { environment_id, .. }
            | LifecycleJob::Announce { environment_id, .. }
            | LifecycleJob::Deliver { environment_id, .. } => environment_id,
        }
    }

    /// Jobs with one key run one at a time, first in first out:
    /// - a merge request's events and its comment commands share `{id}`, so they take effect in
    ///   the order GitLab delivered them (a `/blueberry destroy` after a push wins over it);
    /// - reconcile triggers have `reconcile:{id}`: a reason to look again never waits behind a
    ///   command whose permission check waits for GitLab;
    /// - what is sent to GitLab (commit statuses, replies) has `gitlab:{id}`, so a GitLab outage
    ///   delays it but never the lifecycle; the sticky note has its own `note:{id}`, so a note
    ///   waiting for its moment holds nothing else back.
    pub fn ordering_key(&self) -> String {
        let id = self.environment_id();
        match self {
            LifecycleJob::MergeRequest { .. } | LifecycleJob::Command { .. } => id.to_string(),
            LifecycleJob::Reconcile { .. } => format!("reconcile:{id}"),
            LifecycleJob::Notify { .. } | LifecycleJob::Reply { .. } => format!("gitlab:{id}"),
            LifecycleJob::StickyNote { .. } => format!("note:{id}"),
            LifecycleJob::Archive { .. } => format!("archive:{id}"),
            LifecycleJob::Announce { .. } => format!("announce:{id}"),
            // A receiver's trouble holds back only its own messages, in order.
            LifecycleJob::Deliver {
                subscription_id, ..
            } => format!("subscription:{subscription_id}"),
        }
    }

    /// Jobs that say "look again" merge while they wait; a command or a reply is unique.
    pub fn coalesce_key(&self) -> Option<String> {
        let id = self.environment_id();
        match self {
            LifecycleJob::Reconcile { .. } => Some(format!("reconcile:{id}")),
            LifecycleJob::MergeRequest { .. } => Some(format!("merge_request:{id}")),
            LifecycleJob::Notify { .. } => Some(format!("notify:{id}")),
            LifecycleJob::StickyNote { .. } => Some(format!("note:{id}")),
            LifecycleJob::Archive { .. } => Some(format!("archive:{id}")),
            LifecycleJob::Command { .. }
            | LifecycleJob::Reply { .. }
            | LifecycleJob::Announce { .. }
            | LifecycleJob::Deliver { .. } => None,
        }
    }

    /// Job name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            LifecycleJob::Reconcile { .. } => "reconcile",
            LifecycleJob::MergeRequest { .. } => "merge_request",
            LifecycleJob::Command { .. } => "command",
            LifecycleJob::Notify { .. } => "notify",
            LifecycleJob::StickyNote { .. } => "sticky_note",
            LifecycleJob::Reply { .. } => "reply",
            LifecycleJob::Archive { .. } => "archive",
            LifecycleJob::Announce { .. } => "announce",
            LifecycleJob::Deliver { .. } => "deliver",
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
        let job = LifecycleJob::Reconcile {
            environment_id: EnvironmentId::parse("pr-1-shop").unwrap(),
        };
        let v = serde_json::to_value(&job).unwrap();
        assert_eq!(v["job"], "reconcile");
        assert_eq!(serde_json::from_value::<LifecycleJob>(v).unwrap(), job);
    }

    #[test]
    fn gitlab_work_has_its_own_order_and_only_reasons_to_look_again_coalesce() {
        let id = EnvironmentId::parse("pr-1-shop").unwrap();
        let reconcile = LifecycleJob::Reconcile {
            environment_id: id.clone(),
        };
        let notify = LifecycleJob::Notify {
            environment_id: id.clone(),
        };
        assert_eq!(reconcile.ordering_key(), "reconcile:pr-1-shop");
        assert_eq!(notify.ordering_key(), "gitlab:pr-1-shop");
        // A note waiting for its moment holds no commit status or reply back.
        let note = LifecycleJob::StickyNote {
            environment_id: id.clone(),
        };
        assert_eq!(note.ordering_key(), "note:pr-1-shop");
        assert_eq!(note.coalesce_key().as_deref(), Some("note:pr-1-shop"));
        assert_eq!(
            reconcile.coalesce_key().as_deref(),
            Some("reconcile:pr-1-shop")
        );
        let reply = LifecycleJob::Reply {
            environment_id: id,
            project_id: 1,
            iid: 1,
            reply_to: "note:5".into(),
            text: "hi".into(),
        };
        assert_eq!(reply.coalesce_key(), None);
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
