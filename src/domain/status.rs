//! The environment status and its state machine.

use serde::{Deserialize, Serialize};

/// Where an environment is in its life. See DESIGN.md §3 for the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created or redeployed; the worker is applying or waiting for health.
    Pending,
    /// The Application is Healthy and Synced at the desired revision.
    Ready,
    /// Every attempt failed; `status_message` says why. Retry, redeploy or destroy.
    Failed,
    /// Teardown requested; the Application is being deleted.
    Deleting,
    /// Gone from the cluster. Kept for history; the name can be used again.
    Terminated,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an environment that is {from} cannot become {to}")]
pub struct TransitionError {
    pub from: Status,
    pub to: Status,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Ready,
        Status::Failed,
        Status::Deleting,
        Status::Terminated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Ready => "ready",
            Status::Failed => "failed",
            Status::Deleting => "deleting",
            Status::Terminated => "terminated",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the environment still holds (or is about to hold) cluster resources.
    pub fn is_live(self) -> bool {
        !matches!(self, Status::Terminated)
    }

    /// Checks a transition against the lifecycle. Staying in the same status is allowed where a
    /// step repeats (a new attempt while pending, a teardown delivered twice).
    pub fn transition(self, to: Status) -> Result<Status, TransitionError> {
        if can_transition(self, to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The allowed moves of the lifecycle state machine.
pub fn can_transition(from: Status, to: Status) -> bool {
    use Status::*;
    matches!(
        (from, to),
        (Pending, Pending | Ready | Failed | Deleting)
            | (Ready, Pending | Ready | Failed | Deleting)
            | (Failed, Pending | Deleting)
            | (Deleting, Deleting | Terminated)
            | (Terminated, Pending)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn the_lifecycle_in_the_design_is_allowed() {
        for (a, b) in [
            (Pending, Ready),
            (Pending, Failed),
            (Pending, Pending),
            (Ready, Pending),
            (Failed, Pending),
            (Ready, Deleting),
            (Failed, Deleting),
            (Pending, Deleting),
            (Deleting, Terminated),
            (Terminated, Pending),
        ] {
            assert!(can_transition(a, b), "{a} -> {b}");
        }
    }

    #[test]
    fn nothing_leaves_deleting_but_terminated() {
        for to in Status::ALL {
            assert_eq!(
                can_transition(Deleting, to),
                matches!(to, Deleting | Terminated),
                "{to}"
            );
        }
    }

    #[test]
    fn terminated_only_comes_back_as_pending() {
        for to in Status::ALL {
            assert_eq!(can_transition(Terminated, to), to == Pending, "{to}");
        }
        assert_eq!(
            Terminated.transition(Ready).unwrap_err().to_string(),
            "an environment that is terminated cannot become ready"
        );
    }

    #[test]
    fn failed_cannot_become_ready_without_a_new_attempt() {
        assert!(!can_transition(Failed, Ready));
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(Status::parse("Ready"), None);
    }
}
