//! Fork merge requests need a maintainer: nothing from a fork is deployed until a Maintainer
//! comments `/blueberry approve` (checked through GitLab); it deploys the head the comment was
//! made on, and every later push waits for a new approval, which the note says.

use std::time::Duration;

use serde_json::{Value, json};

use crate::hooks::{
    DEVELOPER, PROJECT, Project, gitlab_time, merge_request_event, note_event, sha,
};

const WITHIN: Duration = Duration::from_secs(15);
/// A Maintainer of the project.
const MAINTAINER: u64 = 8;
/// The fork the merge requests come from.
const FORK: u64 = 99;

/// A merge request event from the fork.
fn fork_event(action: &str, iid: u64, head: &str, at: u64) -> Value {
    let mut ev = merge_request_event(action, iid, head, at);
    ev["object_attributes"]["source_project_id"] = json!(FORK);
    ev
}

/// A comment by `user` on fork MR `iid` whose head (as GitLab shows it with the comment) is
/// `head`, made at `at` seconds.
fn fork_comment(iid: u64, note_id: u64, text: &str, user: u64, head: &str, at: u64) -> Value {
    let mut ev = note_event(iid, note_id, text, user);
    let mr = &mut ev["merge_request"];
    mr["source_project_id"] = json!(FORK);
    mr["target_project_id"] = json!(PROJECT);
    mr["last_commit"]["id"] = json!(head);
    mr["last_commit"]["timestamp"] = json!(gitlab_time(at));
    ev
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn start() -> Project {
    let p = Project::start(|_| {}).await;
    p.gitlab.state().members.insert(MAINTAINER, 40);
    p
}

#[tokio::test]
async fn a_fork_runs_only_the_commits_a_maintainer_approved() {
    let p = start().await;
    p.accept(&fork_event("open", 11, &sha(1), 10), "mr-11-open")
        .await;
    p.wait_for_note(11, "comment `/blueberry approve`", WITHIN)
        .await;
    let absent = p.app.get("/api/environments/pr-11-shop").await;
    assert_eq!(absent.status(), reqwest::StatusCode::NOT_FOUND);
    assert!(p.app.applications().is_empty());

    // A Developer cannot approve: it lets the fork's code run with the platform's credentials.
    p.accept(
        &fork_comment(11, 9201, "/blueberry approve", DEVELOPER, &sha(1), 10),
        "note-9201",
    )
    .await;
    p.wait_for_note(11, "needs Maintainer access", WITHIN).await;
    assert!(p.app.applications().is_empty());

    // A Maintainer's approval deploys the head the comment was made on.
    p.accept(
        &fork_comment(11, 9202, "/blueberry approve", MAINTAINER, &sha(1), 10),
        "note-9202",
    )
    .await;
    let env = p.wait_at("pr-11-shop", "ready", &sha(1), WITHIN).await;
    assert_eq!(env["fork_approval"]["sha"], sha(1), "{env}");
    assert!(env["fork_approval"]["unapproved_head"].is_null(), "{env}");
    p.wait_for_note(11, &format!("Approved `{}`", &sha(1)[..8]), WITHIN)
        .await;
    p.wait_for_note(11, "| Approval | `00000000` approved by gitlab:", WITHIN)
        .await;

    // The fork pushes: nothing new is deployed, and the note asks for a new approval.
    p.accept(&fork_event("update", 11, &sha(2), 20), "mr-11-push")
        .await;
    p.wait_for_note(11, "| Approval | **needed**", WITHIN).await;
    let held = p.app.environment("pr-11-shop").await;
    assert_eq!(held["git"]["sha"], sha(1), "{held}");
    assert_eq!(held["fork_approval"]["unapproved_head"], sha(2), "{held}");
    assert!(kinds(&p.app.events("pr-11-shop").await).contains(&"approval_needed".to_owned()));
    let page = p
        .app
        .get("/environments/pr-11-shop")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"fork-approval\"") && page.contains("/blueberry approve"));
    // `/blueberry redeploy` deploys the approved commit again, never the fork's new head.
    p.accept(
        &fork_comment(11, 9203, "/blueberry redeploy", DEVELOPER, &sha(2), 20),
        "note-9203",
    )
    .await;
    p.wait_for_note(11, "Redeploying `pr-11-shop`", WITHIN)
        .await;
    p.wait_at("pr-11-shop", "ready", &sha(1), WITHIN).await;

    // Approved again: the new head runs.
    let approve = fork_comment(11, 9204, "/blueberry approve", MAINTAINER, &sha(2), 20);
    p.accept(&approve, "note-9204").await;
    let env = p.wait_at("pr-11-shop", "ready", &sha(2), WITHIN).await;
    assert!(env["fork_approval"]["unapproved_head"].is_null(), "{env}");
    // GitLab delivering the same comment again approves nothing twice.
    p.accept(&approve, "note-9204-again").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let approvals = kinds(&p.app.events("pr-11-shop").await)
        .iter()
        .filter(|k| *k == "fork_approved")
        .count();
    assert_eq!(approvals, 2);

    // Closing tears it down as any other.
    p.accept(&fork_event("close", 11, &sha(2), 30), "mr-11-close")
        .await;
    p.wait_at("pr-11-shop", "terminated", &sha(2), WITHIN).await;
}

#[tokio::test]
async fn an_approval_never_deploys_a_push_made_after_the_comment() {
    let p = start().await;
    p.accept(&fork_event("open", 12, &sha(1), 10), "mr-12-open")
        .await;
    p.wait_for_note(12, "comment `/blueberry approve`", WITHIN)
        .await;
    // The fork pushes sha(2) at 30 s; the maintainer's comment was made on sha(1) (at 10 s) and
    // processed after the push.
    p.accept(&fork_event("update", 12, &sha(2), 30), "mr-12-push")
        .await;
    p.accept(
        &fork_comment(12, 9301, "/blueberry approve", MAINTAINER, &sha(1), 10),
        "note-9301",
    )
    .await;
    let env = p.wait_at("pr-12-shop", "ready", &sha(1), WITHIN).await;
    assert_eq!(env["fork_approval"]["sha"], sha(1));
    assert_eq!(env["fork_approval"]["unapproved_head"], sha(2), "{env}");
    p.wait_for_note(12, "| Approval | **needed**", WITHIN).await;
}

#[tokio::test]
async fn approving_a_merge_request_that_is_not_a_fork_says_it_needs_none() {
    let p = start().await;
    p.accept(&merge_request_event("open", 13, &sha(1), 10), "mr-13-open")
        .await;
    p.wait_at("pr-13-shop", "ready", &sha(1), WITHIN).await;
    p.accept(
        &note_event(13, 9401, "/blueberry approve", MAINTAINER),
        "note-9401",
    )
    .await;
    p.wait_for_note(13, "not from a fork: it needs no approval", WITHIN)
        .await;
    assert!(
        p.app
            .environment("pr-13-shop")
            .await
            .get("fork_approval")
            .is_none()
    );
}
