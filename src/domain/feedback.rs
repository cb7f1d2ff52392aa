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
mod tests {
    use super::*;

    const RATES: crate::domain::cost::Rates = crate::domain::cost::Rates {
        vcpu_hour: 0.0445,
        gib_hour: 0.0049225,
    };
    use crate::domain::*;
    use chrono::TimeZone;

    fn env(now: DateTime<Utc>) -> Environment {
        let name = EnvironmentName::for_merge_request(42);
        Environment::create(
            EnvironmentId::derive(&name, &RepositoryName::parse("shop").unwrap()),
            NewEnvironment {
                name,
                repository_id: "r".into(),
                config_set_id: None,
                branch: BranchName::parse("feature/x").unwrap(),
                sha: Some(CommitSha::parse("da1560886d4f094c3e6c9ef40349f7d38b5d27d7").unwrap()),
                merge_request: None,
                ttl_hours: TtlHours::default(),
                helm_values_override: None,
            },
            now,
        )
    }

    #[test]
    fn commit_states_follow_the_lifecycle() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut e = env(now);
        assert_eq!(commit_state(&e), CommitState::Pending);
        e.observed.health = Some("Progressing".into());
        assert_eq!(commit_state(&e), CommitState::Running);
        e.status = Status::Ready;
        assert_eq!(commit_state(&e), CommitState::Success);
        e.status = Status::Failed;
        assert_eq!(commit_state(&e), CommitState::Failed);
    }

    #[test]
    fn the_sticky_note_shows_urls_expiry_and_the_last_error() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut e = env(now);
        let note = sticky_note(
            &e,
            "https://pr-42-shop.example.com",
            "https://bb/environments/pr-42-shop",
            now,
            &RATES,
        );
        assert!(note.starts_with(MARKER));
        assert!(note.contains("**pending**") && note.contains("https://pr-42-shop.example.com"));
        assert!(note.contains("https://bb/environments/pr-42-shop"));
        assert!(note.contains("in 3 days"), "{note}");
        e.status = Status::Failed;
        e.status_message = Some("Degraded | boom\nline".into());
        let note = sticky_note(&e, "a", "b", now, &RATES);
        assert!(note.contains("Degraded \\| boom line"));
    }

    /// The note's whole text in each state people see it in.
    #[test]
    fn the_sticky_note_in_each_state() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let note = |e: &Environment| {
            sticky_note(
                e,
                "https://pr-42-shop.example.com",
                "https://bb/environments/pr-42-shop",
                now,
                &RATES,
            )
        };
        let mut e = env(now);
        insta::assert_snapshot!("pending", note(&e));
        e.waiting = Some(crate::domain::quota::Waiting {
            since: now,
            position: 3,
            running: 5,
            cap: 5,
            scope: crate::domain::quota::QuotaScope::Repository,
        });
        insta::assert_snapshot!("queued_with_position", note(&e));
        e.waiting = None;
        e.transition(Status::Ready, None, now).unwrap();
        insta::assert_snapshot!("ready_with_expiry", note(&e));
        e.expires_at = now + chrono::Duration::minutes(50);
        insta::assert_snapshot!("expiring_soon", note(&e));
        e.kept = Some(crate::domain::environment::Kept {
            by: "gitlab:alice".into(),
            at: now,
            by_label: false,
        });
        insta::assert_snapshot!("kept", note(&e));
        e.kept = None;
        let approved = e.sha.clone().unwrap();
        e.fork = Some(crate::domain::environment::ForkApproval {
            by: "gitlab:maria".into(),
            at: now,
            sha: approved,
            unapproved_head: None,
        });
        insta::assert_snapshot!("fork_approved", note(&e));
        e.fork.as_mut().unwrap().unapproved_head =
            Some(CommitSha::parse("b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327").unwrap());
        insta::assert_snapshot!("needs_approval", note(&e));
        e.fork = None;
        e.asleep = Some(crate::domain::environment::Asleep {
            since: now,
            by: "gitlab:alice".into(),
        });
        // Awake 48 h, then asleep 24 h (the hand-computed example in `cost`).
        let mut meter = crate::domain::cost::Meter::start(
            crate::domain::cost::Requests {
                cpu_millis: 750,
                memory_mib: 1024,
            },
            now - chrono::Duration::hours(72),
        );
        meter.close(now - chrono::Duration::hours(24), false);
        e.meter = Some(meter);
        insta::assert_snapshot!("asleep", note(&e));
        e.asleep = None;
        e.meter = None;
        e.transition(
            Status::Failed,
            Some("Degraded: image pull back-off".into()),
            now,
        )
        .unwrap();
        insta::assert_snapshot!("failed_with_reason", note(&e));
        e.transition(Status::Deleting, None, now).unwrap();
        e.transition(Status::Terminated, None, now).unwrap();
        insta::assert_snapshot!("torn_down", note(&e));
    }
}
