//! Fork merge requests: their code runs with the platform's credentials, so an environment
//! deploys only the commits a Maintainer approved (`/blueberry approve`). A push to the fork
//! is recorded as waiting for a new approval, not deployed.

use super::{Applied, EnvironmentService, Once, ensure_live};
use crate::{
    domain::{CommitSha, Environment, EventKind, NewEvent, environment::ForkApproval},
    service::{
        ServiceError,
        writes::{Change, Trigger},
    },
};

impl EnvironmentService {
    /// Approves `head` of a live fork environment: records who approved it and deploys it
    /// unless it runs already. `Ok` unchanged when `head` is approved and running. `newest`,
    /// the merge request's newest head when that is not `head` (pushed after the comment),
    /// stays waiting for its own approval.
    pub async fn approve_fork(
        &self,
        id: &str,
        head: CommitSha,
        newest: Option<CommitSha>,
        actor: &str,
        once: Option<&Once<'_>>,
    ) -> Result<(Environment, Applied), ServiceError> {
        let now = self.now();
        self.update_once(id, Trigger::Reconcile, once, |env| {
            ensure_live(env, "approved")?;
            let newest = newest.clone().filter(|n| *n != head);
            let approved = env
                .fork
                .as_ref()
                .is_some_and(|f| f.sha == head && f.unapproved_head == newest);
            if approved && env.sha.as_ref() == Some(&head) {
                return Ok(None);
            }
            env.fork = Some(ForkApproval {
                by: actor.to_owned(),
                at: now,
                sha: head.clone(),
                unapproved_head: newest,
            });
            let mut events = vec![NewEvent::new(
                EventKind::ForkApproved,
                actor,
                format!("{actor} approved `{}` from a fork", head.short()),
            )];
            if env.sha.as_ref() != Some(&head) {
                env.sha = Some(head.clone());
                env.live_a_lifetime_from(now);
                let message = format!(
                    "redeploy of approved {} requested by {actor}",
                    env.target_revision()
                );
                env.start_deployment(message.clone(), now)
                    .map_err(|e| ServiceError::Conflict(e.to_string()))?;
                events.push(NewEvent::new(EventKind::RedeployRequested, actor, message));
            }
            Ok(Change::events(events))
        })
        .await
    }

    /// A fork's environment got a new head: records it as waiting for approval (the note says
    /// so); what runs stays the approved commit.
    pub async fn hold_fork_head(
        &self,
        id: &str,
        head: CommitSha,
        actor: &str,
    ) -> Result<Environment, ServiceError> {
        let now = self.now();
        self.writer
            .update(id, Trigger::None, |env| {
                if !env.is_live_not_deleting() || env.sha.as_ref() == Some(&head) {
                    return Ok(None);
                }
                let fork = env.fork.get_or_insert_with(|| ForkApproval {
                    // Deployed while the repository allowed forks: that is its approval.
                    by: "repository settings (forks allowed)".into(),
                    at: now,
                    sha: env.sha.clone().unwrap_or_else(|| head.clone()),
                    unapproved_head: None,
                });
                if fork.unapproved_head.as_ref() == Some(&head) {
                    return Ok(None);
                }
                fork.unapproved_head = Some(head.clone());
                Ok(Change::event(NewEvent::new(
                    EventKind::ApprovalNeeded,
                    actor,
                    format!(
                        "new commit `{}` from a fork: not deployed until a maintainer comments `/blueberry approve`",
                        head.short()
                    ),
                )))
            })
            .await
    }
}
