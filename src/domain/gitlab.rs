//! GitLab webhook payloads (the fields Blueberry reads) and the pure rules that turn a merge
//! request event into a lifecycle decision.
//!
//! Long on purpose: the payload types GitLab sends and the one decision made from them belong
//! together; tests in `gitlab_tests.rs`.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    CommitSha,
    repository::{RepositoryFilters, glob_matches},
};

/// Reads a time as GitLab writes it in webhooks: RFC 3339 (`2013-12-03T17:23:34Z`, with an
/// offset) or the older `2013-12-03 17:23:34 UTC`.
pub fn parse_gitlab_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = s.strip_suffix(" UTC")?;
    NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub title: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    #[serde(default)]
    pub id: u64,
    #[serde(default)]
    pub username: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub id: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Commit {
    pub id: String,
    #[serde(default)]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MergeRequestAttributes {
    pub iid: u64,
    pub title: String,
    pub url: String,
    pub source_branch: String,
    pub target_branch: String,
    pub source_project_id: u64,
    pub target_project_id: u64,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub oldrev: Option<String>,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub work_in_progress: bool,
    pub last_commit: Option<Commit>,
}

/// `object_kind: merge_request`.
#[derive(Debug, Clone, Deserialize)]
pub struct MergeRequestHook {
    pub user: User,
    pub project: Project,
    pub object_attributes: MergeRequestAttributes,
    #[serde(default)]
    pub labels: Vec<Label>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NoteAttributes {
    pub id: u64,
    pub note: String,
    pub noteable_type: String,
    #[serde(default)]
    pub system: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NotedMergeRequest {
    pub iid: u64,
    /// The head when the comment was made: what a maintainer's `/blueberry approve` approves.
    #[serde(default)]
    pub last_commit: Option<Commit>,
    #[serde(default)]
    pub source_project_id: Option<u64>,
    #[serde(default)]
    pub target_project_id: Option<u64>,
}

impl NotedMergeRequest {
    /// The merge request comes from a fork.
    pub fn from_fork(&self) -> bool {
        matches!((self.source_project_id, self.target_project_id), (Some(s), Some(t)) if s != t)
    }

    pub fn head_sha(&self) -> Option<CommitSha> {
        self.last_commit
            .as_ref()
            .and_then(|c| CommitSha::parse(c.id.as_str()).ok())
    }

    /// When the head commit was made.
    pub fn head_at(&self) -> Option<DateTime<Utc>> {
        self.last_commit
            .as_ref()
            .and_then(|c| c.timestamp.as_deref())
            .and_then(parse_gitlab_time)
    }
}

/// `object_kind: note`.
#[derive(Debug, Clone, Deserialize)]
pub struct NoteHook {
    pub user: User,
    pub project: Project,
    pub object_attributes: NoteAttributes,
    pub merge_request: Option<NotedMergeRequest>,
}

/// What is kept of a merge request event: the facts, already parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRequestEvent {
    pub project_id: u64,
    pub iid: u64,
    pub action: String,
    /// `opened`, `closed`, `merged`, `locked`.
    #[serde(default)]
    pub state: String,
    /// `object_attributes.updated_at`.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// The head commit's timestamp.
    #[serde(default)]
    pub commit_at: Option<DateTime<Utc>>,
    pub title: String,
    pub url: String,
    pub author: String,
    pub source_branch: String,
    pub target_branch: String,
    pub head_sha: Option<CommitSha>,
    pub new_commits: bool,
    pub draft: bool,
    pub labels: Vec<String>,
    pub from_fork: bool,
}

impl From<&MergeRequestHook> for MergeRequestEvent {
    fn from(h: &MergeRequestHook) -> Self {
        let a = &h.object_attributes;
        Self {
            project_id: h.project.id,
            iid: a.iid,
            action: a.action.clone().unwrap_or_default(),
            state: a.state.clone(),
            updated_at: a.updated_at.as_deref().and_then(parse_gitlab_time),
            commit_at: a
                .last_commit
                .as_ref()
                .and_then(|c| c.timestamp.as_deref())
                .and_then(parse_gitlab_time),
            title: a.title.clone(),
            url: a.url.clone(),
            author: h.user.username.clone(),
            source_branch: a.source_branch.clone(),
            target_branch: a.target_branch.clone(),
            head_sha: a
                .last_commit
                .as_ref()
                .and_then(|c| CommitSha::parse(c.id.as_str()).ok()),
            new_commits: a.oldrev.as_deref().is_some_and(|r| !r.is_empty()),
            draft: a.draft || a.work_in_progress,
            labels: h.labels.iter().map(|l| l.title.clone()).collect(),
            from_fork: a.source_project_id != a.target_project_id,
        }
    }
}

impl MergeRequestEvent {
    /// Where this event stands among its merge request's events, as sortable text:
    /// `updated_at`, then the head commit's time (an event without them sorts first).
    pub fn order(&self) -> String {
        let t = |t: Option<DateTime<Utc>>| {
            t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                .unwrap_or_default()
        };
        // Fixed-width times; a space (below every digit) stands between them and for none.
        format!("{} {}", t(self.updated_at), t(self.commit_at))
    }

    /// Closed or merged: the merge request wants no environment.
    pub fn is_closed(&self) -> bool {
        matches!(self.action.as_str(), "close" | "merge")
            || matches!(self.state.as_str(), "closed" | "merged")
    }
}

/// A comment on a merge request that holds a `/blueberry` command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandEvent {
    pub project_id: u64,
    pub iid: u64,
    pub note_id: u64,
    pub user_id: u64,
    pub username: String,
    pub command: super::commands::Command,
    /// The merge request's head when the comment was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<CommitSha>,
    /// When that head commit was made (to tell a newer push from an older event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_at: Option<DateTime<Utc>>,
    /// The merge request comes from a fork.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_fork: bool,
}

/// Whether the repository's filters admit the merge request; `Err` says why not.
pub fn admits(ev: &MergeRequestEvent, f: &RepositoryFilters) -> Result<(), String> {
    if f.skip_drafts && ev.draft {
        return Err("draft merge requests get no environment until marked ready".into());
    }
    if let Some(pattern) = &f.target_branch_pattern
        && !glob_matches(pattern, &ev.target_branch)
    {
        return Err(format!(
            "target branch `{}` does not match `{pattern}`",
            ev.target_branch
        ));
    }
    if let Some(l) = ev.labels.iter().find(|l| f.exclude_labels.contains(l)) {
        return Err(format!("label `{l}` excludes it"));
    }
    if !f.include_labels.is_empty() && !ev.labels.iter().any(|l| f.include_labels.contains(l)) {
        return Err(format!(
            "it has none of the labels {}",
            f.include_labels.join(", ")
        ));
    }
    Ok(())
}

/// What to do about a merge request event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeRequestDecision {
    Create,
    Redeploy(CommitSha),
    Teardown(String),
    /// A fork's MR: not deployed until a maintainer approves it, with a note saying so.
    RefuseFork,
    /// A fork's approved environment got a new head: held until approved again.
    AwaitApproval(CommitSha),
    Ignore(String),
}

/// What the merge request's environment is now, as far as deciding goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current<'a> {
    /// It is live (not terminated).
    pub live: bool,
    /// The commit it deploys.
    pub sha: Option<&'a CommitSha>,
}

/// Decides from the newest event, the repository's filters and the environment, level-wise:
/// the environment should exist, at the merge request's head, exactly when the merge request is
/// open and wanted. Running it again on the same facts asks for nothing new.
pub fn decide(
    ev: &MergeRequestEvent,
    f: &RepositoryFilters,
    now: Current<'_>,
) -> MergeRequestDecision {
    use MergeRequestDecision::*;
    if ev.is_closed() {
        return if now.live {
            Teardown(format!(
                "merge request {}",
                if ev.action == "merge" || ev.state == "merged" {
                    "merged"
                } else {
                    "closed"
                }
            ))
        } else {
            Ignore("no live environment to tear down".into())
        };
    }
    // Other actions (approvals, …) change nothing by themselves, but as the newest event they
    // still say where the merge request is: a push coalesced behind one is not lost.
    let opens = matches!(ev.action.as_str(), "open" | "reopen" | "update");
    // A fork's code runs only as a maintainer approved it (`/blueberry approve`).
    let held = ev.from_fork && !f.allow_forks;
    if held && !now.live {
        return if ev.action == "open" || ev.action == "reopen" {
            RefuseFork
        } else {
            Ignore("merge requests from forks wait for a maintainer's `/blueberry approve`".into())
        };
    }
    let decision = match (admits(ev, f), now.live) {
        (Ok(()), false) if opens => Create,
        (Ok(()), false) => Ignore(format!(
            "action `{}` does not create environments",
            ev.action
        )),
        (Ok(()), true) => match &ev.head_sha {
            Some(head) if now.sha != Some(head) => Redeploy(head.clone()),
            Some(_) => Ignore("the environment already runs the merge request's head".into()),
            None => Ignore("the event names no head commit".into()),
        },
        (Err(why), true) => Teardown(format!("no longer wanted: {why}")),
        (Err(why), false) => Ignore(why),
    };
    match decision {
        Redeploy(head) if held => AwaitApproval(head),
        d => d,
    }
}

#[cfg(test)]
#[path = "gitlab_tests.rs"]
mod tests;
