//! Tests of GitLab event parsing and commands (kept apart so the code reads in one screen).

use super::*;
use MergeRequestDecision::*;

const HEAD: &str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";
const OLD: &str = "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327";

fn ev(action: &str) -> MergeRequestEvent {
    MergeRequestEvent {
        project_id: 15,
        iid: 42,
        action: action.into(),
        state: match action {
            "close" => "closed",
            "merge" => "merged",
            _ => "opened",
        }
        .into(),
        updated_at: None,
        commit_at: None,
        title: "t".into(),
        url: "u".into(),
        author: "alice".into(),
        source_branch: "feature/x".into(),
        target_branch: "main".into(),
        head_sha: Some(CommitSha::parse(HEAD).unwrap()),
        new_commits: false,
        draft: false,
        labels: vec!["preview".into()],
        from_fork: false,
    }
}

fn none() -> Current<'static> {
    Current {
        live: false,
        sha: None,
    }
}

fn live_at(sha: &CommitSha) -> Current<'_> {
    Current {
        live: true,
        sha: Some(sha),
    }
}

#[test]
fn open_and_reopen_create_and_close_and_merge_tear_down() {
    let f = RepositoryFilters::default();
    let head = CommitSha::parse(HEAD).unwrap();
    assert_eq!(decide(&ev("open"), &f, none()), Create);
    assert_eq!(decide(&ev("reopen"), &f, none()), Create);
    assert!(
        matches!(decide(&ev("open"), &f, live_at(&head)), Ignore(_)),
        "a repeated open does nothing"
    );
    assert!(matches!(
        decide(&ev("close"), &f, live_at(&head)),
        Teardown(_)
    ));
    assert!(
        matches!(decide(&ev("merge"), &f, live_at(&head)), Teardown(r) if r.contains("merged"))
    );
    assert!(matches!(decide(&ev("merge"), &f, none()), Ignore(_)));
    assert!(matches!(
        decide(&ev("approved"), &f, live_at(&head)),
        Ignore(_)
    ));
    assert!(
        matches!(decide(&ev("approved"), &f, none()), Ignore(_)),
        "approving creates nothing"
    );
    let old = CommitSha::parse(OLD).unwrap();
    assert_eq!(
        decide(&ev("approved"), &f, live_at(&old)),
        Redeploy(head.clone()),
        "an approval newer than a push still carries the push's head"
    );
    let mut closed_state = ev("update");
    closed_state.state = "closed".into();
    assert!(matches!(
        decide(&closed_state, &f, live_at(&head)),
        Teardown(_)
    ));
}

#[test]
fn the_environment_follows_the_head_commit_whatever_the_event_says_about_commits() {
    let f = RepositoryFilters::default();
    let old = CommitSha::parse(OLD).unwrap();
    let head = CommitSha::parse(HEAD).unwrap();
    let mut e = ev("update");
    e.new_commits = true;
    assert_eq!(decide(&e, &f, live_at(&old)), Redeploy(head.clone()));
    assert!(
        matches!(decide(&e, &f, live_at(&head)), Ignore(_)),
        "already at the head: delivering it again changes nothing"
    );
    // A label-only update that is the newest event still carries the head commit: a push
    // coalesced behind it is not lost.
    e.new_commits = false;
    assert_eq!(decide(&e, &f, live_at(&old)), Redeploy(head));
    assert_eq!(
        decide(&e, &f, none()),
        Create,
        "a wanted MR without environment gets one"
    );
}

#[test]
fn filters_decide_whether_an_environment_is_wanted() {
    let f = RepositoryFilters::default();
    let head = CommitSha::parse(HEAD).unwrap();
    let mut e = ev("update");
    e.draft = true;
    assert!(
        matches!(decide(&e, &f, live_at(&head)), Teardown(r) if r.contains("draft")),
        "marked draft"
    );
    assert!(matches!(decide(&e, &f, none()), Ignore(_)));
    e.draft = false;
    assert_eq!(decide(&e, &f, none()), Create, "marked ready");
    let labelled = RepositoryFilters {
        include_labels: vec!["deploy".into()],
        ..f.clone()
    };
    assert!(matches!(decide(&e, &labelled, live_at(&head)), Teardown(r) if r.contains("deploy")));
    let excluded = RepositoryFilters {
        exclude_labels: vec!["preview".into()],
        ..f.clone()
    };
    assert!(matches!(decide(&ev("open"), &excluded, none()), Ignore(r) if r.contains("preview")));
    let release = RepositoryFilters {
        target_branch_pattern: Some("release/*".into()),
        ..f
    };
    assert!(matches!(decide(&ev("open"), &release, none()), Ignore(r) if r.contains("release/*")));
}

#[test]
fn forks_are_refused_unless_allowed() {
    let mut e = ev("open");
    e.from_fork = true;
    assert_eq!(
        decide(&e, &RepositoryFilters::default(), none()),
        RefuseFork
    );
    let allowed = RepositoryFilters {
        allow_forks: true,
        ..Default::default()
    };
    assert_eq!(decide(&e, &allowed, none()), Create);
}

#[test]
fn an_approved_fork_follows_only_approved_commits() {
    let filters = RepositoryFilters::default();
    let approved = CommitSha::parse(OLD).unwrap();
    let running = Current {
        live: true,
        sha: Some(&approved),
    };
    let mut push = ev("update");
    push.from_fork = true;
    // Not approved yet: a push does nothing (the open said how to approve).
    assert!(matches!(decide(&push, &filters, none()), Ignore(_)));
    // Approved at OLD: a push to HEAD is held for a new approval, not deployed.
    assert_eq!(
        decide(&push, &filters, running.clone()),
        AwaitApproval(CommitSha::parse(HEAD).unwrap())
    );
    // The approved head itself changes nothing; closing still tears down.
    push.head_sha = Some(approved.clone());
    assert!(matches!(
        decide(&push, &filters, running.clone()),
        Ignore(_)
    ));
    assert!(matches!(
        decide(&ev("close"), &filters, running),
        Teardown(_)
    ));
    // A reopened fork needs approving again.
    let mut reopen = ev("reopen");
    reopen.from_fork = true;
    assert_eq!(decide(&reopen, &filters, none()), RefuseFork);
}

#[test]
fn events_order_by_update_time_then_commit_time() {
    let at = |s: &str| parse_gitlab_time(s);
    assert_eq!(
        at("2013-12-03 17:23:34 UTC"),
        at("2013-12-03T17:23:34Z"),
        "both of GitLab's formats"
    );
    assert_eq!(at("2012-01-03T23:36:29+02:00"), at("2012-01-03T21:36:29Z"));
    assert_eq!(at("yesterday"), None);
    let mut older = ev("update");
    older.updated_at = at("2026-12-01T08:00:00Z");
    older.commit_at = at("2026-12-01T07:00:00Z");
    let mut newer = older.clone();
    newer.commit_at = at("2026-12-01T07:30:00Z");
    assert!(
        older.order() < newer.order(),
        "same update time: the later commit wins"
    );
    let mut later = older.clone();
    later.updated_at = at("2026-12-01T08:00:01Z");
    later.commit_at = at("2020-01-01T00:00:00Z");
    assert!(newer.order() < later.order(), "update time first");
    assert!(ev("open").order() < older.order(), "no times sort first");
}
