//! GitLab webhook payloads (the fields Blueberry reads) and the pure rules that turn a merge
//! request event into a lifecycle decision.

use serde::{Deserialize, Serialize};

use super::{
    CommitSha,
    repository::{RepositoryFilters, glob_matches},
};

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
}

/// `object_kind: note`.
#[derive(Debug, Clone, Deserialize)]
pub struct NoteHook {
    pub user: User,
    pub project: Project,
    pub object_attributes: NoteAttributes,
    pub merge_request: Option<NotedMergeRequest>,
}

/// What the queue carries for a merge request event: the facts, already parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRequestEvent {
    pub project_id: u64,
    pub iid: u64,
    pub action: String,
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

/// A comment on a merge request that holds a `/blueberry` command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandEvent {
    pub project_id: u64,
    pub iid: u64,
    pub note_id: u64,
    pub user_id: u64,
    pub username: String,
    pub command: super::commands::Command,
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
    /// A fork's MR: refused, with a note on the MR saying why.
    RefuseFork,
    Ignore(String),
}

/// Decides from the event, the repository's filters and whether the environment is live.
pub fn decide(ev: &MergeRequestEvent, f: &RepositoryFilters, live: bool) -> MergeRequestDecision {
    use MergeRequestDecision::*;
    match ev.action.as_str() {
        "close" | "merge" => {
            return if live {
                Teardown(format!(
                    "merge request {}",
                    if ev.action == "merge" {
                        "merged"
                    } else {
                        "closed"
                    }
                ))
            } else {
                Ignore("no live environment to tear down".into())
            };
        }
        "open" | "reopen" | "update" => {}
        other => return Ignore(format!("action `{other}` does not change environments")),
    }
    if ev.from_fork && !f.allow_forks {
        return if ev.action == "update" {
            Ignore("merge requests from forks are not deployed".into())
        } else {
            RefuseFork
        };
    }
    let wanted = admits(ev, f);
    match (wanted, live) {
        (Ok(()), false) => Create,
        (Ok(()), true) if ev.new_commits => match &ev.head_sha {
            Some(sha) => Redeploy(sha.clone()),
            None => Ignore("new commits but no head sha in the event".into()),
        },
        (Ok(()), true) => Ignore("environment already exists; no new commits".into()),
        (Err(why), true) if ev.action == "update" => Teardown(format!("no longer wanted: {why}")),
        (Err(why), _) => Ignore(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MergeRequestDecision::*;

    fn ev(action: &str) -> MergeRequestEvent {
        MergeRequestEvent {
            project_id: 15,
            iid: 42,
            action: action.into(),
            title: "t".into(),
            url: "u".into(),
            author: "alice".into(),
            source_branch: "feature/x".into(),
            target_branch: "main".into(),
            head_sha: Some(CommitSha::parse("da1560886d4f094c3e6c9ef40349f7d38b5d27d7").unwrap()),
            new_commits: false,
            draft: false,
            labels: vec!["preview".into()],
            from_fork: false,
        }
    }

    #[test]
    fn open_and_reopen_create_and_close_and_merge_tear_down() {
        let f = RepositoryFilters::default();
        assert_eq!(decide(&ev("open"), &f, false), Create);
        assert_eq!(decide(&ev("reopen"), &f, false), Create);
        assert!(
            matches!(decide(&ev("open"), &f, true), Ignore(_)),
            "duplicate open does nothing"
        );
        assert!(matches!(decide(&ev("close"), &f, true), Teardown(_)));
        assert!(matches!(decide(&ev("merge"), &f, true), Teardown(r) if r.contains("merged")));
        assert!(matches!(decide(&ev("merge"), &f, false), Ignore(_)));
        assert!(matches!(decide(&ev("approved"), &f, true), Ignore(_)));
    }

    #[test]
    fn new_commits_redeploy_at_the_new_head() {
        let f = RepositoryFilters::default();
        let mut e = ev("update");
        e.new_commits = true;
        assert_eq!(decide(&e, &f, true), Redeploy(e.head_sha.clone().unwrap()));
        assert_eq!(
            decide(&e, &f, false),
            Create,
            "a wanted MR without environment gets one"
        );
        e.new_commits = false;
        assert!(matches!(decide(&e, &f, true), Ignore(_)));
    }

    #[test]
    fn filters_are_rechecked_on_update() {
        let f = RepositoryFilters::default();
        let mut e = ev("update");
        e.draft = true;
        assert!(
            matches!(decide(&e, &f, true), Teardown(r) if r.contains("draft")),
            "marked draft"
        );
        assert!(matches!(decide(&e, &f, false), Ignore(_)));
        e.draft = false;
        assert_eq!(decide(&e, &f, false), Create, "marked ready");
        let labelled = RepositoryFilters {
            include_labels: vec!["deploy".into()],
            ..f.clone()
        };
        assert!(matches!(decide(&e, &labelled, true), Teardown(r) if r.contains("deploy")));
        let excluded = RepositoryFilters {
            exclude_labels: vec!["preview".into()],
            ..f.clone()
        };
        assert!(
            matches!(decide(&ev("open"), &excluded, false), Ignore(r) if r.contains("preview"))
        );
        let release = RepositoryFilters {
            target_branch_pattern: Some("release/*".into()),
            ..f
        };
        assert!(
            matches!(decide(&ev("open"), &release, false), Ignore(r) if r.contains("release/*"))
        );
    }

    #[test]
    fn forks_are_refused_unless_allowed() {
        let mut e = ev("open");
        e.from_fork = true;
        assert_eq!(decide(&e, &RepositoryFilters::default(), false), RefuseFork);
        let allowed = RepositoryFilters {
            allow_forks: true,
            ..Default::default()
        };
        assert_eq!(decide(&e, &allowed, false), Create);
    }
}
