//! What Blueberry tells a merge request: the sticky note, the commit status, the GitLab
//! environment name. Pure rendering; the notify job sends it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Environment, Status};

/// How every note Blueberry writes begins, so its own notes are never read as commands.
pub const MARKER_PREFIX: &str = "<!-- blueberry";
/// The sticky note's marker: found by it when its id was lost.
pub const MARKER: &str = "<!-- blueberry:sticky -->";

/// The marker of a reply to `reply_to` (a comment's `note:{id}`, or another unique tag), found
/// by it before the reply is posted again.
pub fn reply_marker(reply_to: &str) -> String {
    format!("<!-- blueberry:reply:{reply_to} -->")
}

/// Whether a note was written by Blueberry.
pub fn is_own_note(body: &str) -> bool {
    body.contains(MARKER_PREFIX)
}

/// GitLab's commit status states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitState {
    Pending,
    Running,
    Success,
    Failed,
    Canceled,
}

impl CommitState {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitState::Pending => "pending",
            CommitState::Running => "running",
            CommitState::Success => "success",
            CommitState::Failed => "failed",
            CommitState::Canceled => "canceled",
        }
    }
}

/// The commit status name Blueberry owns.
pub const COMMIT_STATUS_NAME: &str = "blueberry/environment";

/// The commit status for the environment's current deployment.
pub fn commit_state(env: &Environment) -> CommitState {
    match env.status {
        Status::Pending if env.observed.health.is_some() => CommitState::Running,
        Status::Pending => CommitState::Pending,
        Status::Ready => CommitState::Success,
        Status::Failed => CommitState::Failed,
        Status::Deleting | Status::Terminated => CommitState::Canceled,
    }
}

/// What the commit status and the GitLab environment say: status, commit state, revision,
/// deployment. Sent at once on every change, so no commit misses its status.
pub fn commit_signature(env: &Environment) -> String {
    format!(
        "{}:{}@{}#{}",
        env.status,
        commit_state(env).as_str(),
        env.target_revision(),
        env.generation
    )
}

/// What the sticky note says, to skip repeats: the commit's part, expiry, keep, sleep, place in
/// line, fork approval.
pub fn signature(env: &Environment) -> String {
    format!(
        "{}~{}{}{}{}{}{}",
        commit_signature(env),
        env.expires_at.timestamp(),
        if env.kept.is_some() { "+kept" } else { "" },
        // A warning refreshes the note (its "in …" is near).
        env.expiry_warning
            .as_ref()
            .map(|w| format!("!{}", w.hours))
            .unwrap_or_default(),
        if env.asleep.is_some() { "+asleep" } else { "" },
        // Moving up the line refreshes the note too.
        env.waiting
            .as_ref()
            .map(|w| format!("?{}/{}/{}", w.position, w.running, w.cap))
            .unwrap_or_default(),
        // A fork's push waiting for approval, and the approval itself.
        env.fork
            .as_ref()
            .map(|f| format!(
                "^{}{}",
                f.sha.short(),
                f.unapproved_head
                    .as_ref()
                    .map(|h| format!("<{}", h.short()))
                    .unwrap_or_default()
            ))
            .unwrap_or_default()
    )
}

/// The GitLab environment an MR's deployments are recorded under ("View app").
pub fn gitlab_environment_name(iid: u64) -> String {
    format!("review/pr-{iid}")
}

fn human_left(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let left = expires_at - now;
    if left <= chrono::Duration::zero() {
        return "expired".into();
    }
    let (h, m) = (left.num_hours(), left.num_minutes() % 60);
    if h >= 48 {
        format!("{} days", h / 24)
    } else {
        format!("{h} h {m} min")
    }
}

/// The sticky note, rewritten in place as the environment changes.
pub fn sticky_note(
    env: &Environment,
    app_url: &str,
    status_page: &str,
    now: DateTime<Utc>,
    rates: &super::cost::Rates,
) -> String {
    let icon = match env.status {
        Status::Pending => "🟡",
        Status::Ready => "🟢",
        Status::Failed => "🔴",
        Status::Deleting => "⚪",
        Status::Terminated => "⚫",
    };
    let mut lines = vec![
        MARKER.to_owned(),
        format!(
            "### {icon} Blueberry environment `{}` is **{}**",
            env.id, env.status
        ),
        String::new(),
        format!(
            "| | |\n|---|---|\n| App | {app_url} |\n| Status page | {status_page} |\n| Revision | `{}` |",
            env.target_revision()
        ),
    ];
    if let Some(w) = env
        .waiting
        .as_ref()
        .filter(|_| env.status == Status::Pending)
    {
        lines.push(format!(
            "| Queue | {} (it starts by itself when a running one ends) |",
            w.describe()
        ));
    }
    if let Some(f) = env.fork.as_ref().filter(|_| env.is_live_not_deleting()) {
        lines.push(match &f.unapproved_head {
            Some(head) => format!(
                "| Approval | **needed**: new commits up to `{}` are not deployed until a Maintainer comments `/blueberry approve`; it still runs `{}` |",
                head.short(),
                f.sha.short()
            ),
            None => format!(
                "| Approval | `{}` approved by {} (from a fork: each push needs a new approval) |",
                f.sha.short(),
                f.by.replace('|', "\\|")
            ),
        });
    }
    if let Some(a) = env.asleep.as_ref().filter(|_| env.is_live_not_deleting()) {
        lines.push(format!(
            "| Asleep | since {} (scaled to zero; visiting the app or `/blueberry wake` wakes it) |",
            a.since.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    if env.status.is_live() && env.status != Status::Deleting {
        lines.push(match &env.kept {
            Some(k) => format!(
                "| Expires | never: kept by {} (`/blueberry unkeep` lets it expire) |",
                k.by.replace('|', "\\|")
            ),
            None => format!(
                "| Expires | {} (in {}) |",
                env.expires_at.format("%Y-%m-%d %H:%M UTC"),
                human_left(env.expires_at, now)
            ),
        });
    }
    if let Some((spent, saved)) = env.cost(now, rates) {
        lines.push(format!(
            "| Cost | {} |",
            super::cost::describe(spent, saved)
        ));
    }
    if env.status == Status::Failed
        && let Some(m) = &env.status_message
    {
        lines.push(format!(
            "| Last error | {} |",
            m.replace('|', "\\|").replace('\n', " ")
        ));
    }
    lines.push(String::new());
    if env.status == Status::Terminated {
        lines.push(
            "Torn down. Push to the merge request (or reopen it) for a new environment.".into(),
        );
        return lines.join("\n");
    }
    let sleep = if env.asleep.is_some() {
        "wake"
    } else {
        "sleep"
    };
    lines.push(format!("Commands: `/blueberry redeploy`, `/blueberry extend [hours]`, `/blueberry keep`, `/blueberry {sleep}`, `/blueberry destroy`, `/blueberry status`, `/blueberry help`"));
    lines.join("\n")
}

#[cfg(test)]
#[path = "feedback_tests.rs"]
mod tests;
