use chrono::TimeZone;
use serde_json::json;

use super::*;

const SHA: &str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";
const OLD_SHA: &str = "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327";

fn at(s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, s).unwrap()
}

/// An Application after deployment `deployment` was applied, whose status says what
/// operation `op_deployment` did.
fn app(deployment: &str, op_deployment: &str, phase: &str) -> ObservedApplication {
    ObservedApplication {
        name: "env-demo".into(),
        environment: Some("demo".into()),
        deployment: Some(deployment.into()),
        resource_version: Some("7".into()),
        requested: None,
        deleting: false,
        health: "Healthy".into(),
        health_message: None,
        sync: "Synced".into(),
        sync_revision: Some(SHA.into()),
        reconciled_at: Some(at(30)),
        operation: Some(ObservedOperation {
            deployment: Some(op_deployment.into()),
            phase: phase.into(),
            message: None,
            started_at: Some(at(10)),
            finished_at: (phase != "Running").then(|| at(20)),
            revision: Some(SHA.into()),
        }),
        conditions: vec![],
        resources: vec![],
    }
}

#[test]
fn our_sync_succeeded_and_a_later_refresh_says_healthy_is_ready() {
    assert_eq!(
        judge(&app("1.1", "1.1", "Succeeded"), "1.1", Some(SHA)),
        Verdict::Ready {
            revision: SHA.into()
        }
    );
    assert_eq!(
        judge(&app("1.1", "1.1", "Succeeded"), "1.1", None),
        Verdict::Ready {
            revision: SHA.into()
        },
        "a branch is ready at whatever commit our sync resolved it to"
    );
}

#[test]
fn the_previous_deployments_healthy_status_is_not_ready_after_a_redeploy() {
    // Redeployed as 2.1; Argo CD still reports 1.1's Healthy/Synced until it syncs again.
    let stale = app("2.1", "1.1", "Succeeded");
    assert!(matches!(judge(&stale, "2.1", None), Verdict::Waiting(_)));
    // Not even the annotation is visible yet (the watch has not caught up with the apply).
    let unseen = app("1.1", "1.1", "Succeeded");
    assert!(matches!(judge(&unseen, "2.1", None), Verdict::Waiting(w) if w.contains("2.1")));
}

#[test]
fn an_older_attempts_failure_does_not_fail_the_retry() {
    let mut stale = app("1.2", "1.1", "Failed");
    stale.health = "Degraded".into();
    stale.health_message = Some("old".into());
    assert!(matches!(judge(&stale, "1.2", None), Verdict::Waiting(_)));
}

#[test]
fn degraded_health_from_before_our_sync_finished_is_not_a_failure() {
    let mut running = app("1.2", "1.2", "Running");
    running.health = "Degraded".into();
    assert!(matches!(judge(&running, "1.2", None), Verdict::Waiting(_)));
    // Finished, but Argo CD has not refreshed since: the health is from before the sync.
    let mut unrefreshed = app("1.2", "1.2", "Succeeded");
    unrefreshed.health = "Degraded".into();
    unrefreshed.reconciled_at = Some(at(15));
    assert!(
        matches!(judge(&unrefreshed, "1.2", None), Verdict::Waiting(w) if w.contains("refresh"))
    );
    unrefreshed.reconciled_at = None;
    assert!(matches!(
        judge(&unrefreshed, "1.2", None),
        Verdict::Waiting(_)
    ));
}

#[test]
fn our_failed_sync_fails_with_argo_cds_message() {
    let mut failed = app("3.1", "3.1", "Failed");
    failed.sync = "OutOfSync".into();
    failed.operation.as_mut().unwrap().message = Some("one or more objects failed to apply".into());
    assert_eq!(
        judge(&failed, "3.1", None),
        Verdict::Failed("one or more objects failed to apply".into())
    );
    failed.operation.as_mut().unwrap().phase = "Error".into();
    assert!(matches!(judge(&failed, "3.1", None), Verdict::Failed(_)));
}

#[test]
fn fresh_degraded_health_fails_with_the_degraded_resource_first() {
    let mut degraded = app("1.1", "1.1", "Succeeded");
    degraded.health = "Degraded".into();
    degraded.health_message = Some("app degraded".into());
    assert_eq!(
        judge(&degraded, "1.1", None),
        Verdict::Failed("app degraded".into())
    );
    degraded.resources = vec![ObservedResource {
        kind: "Deployment".into(),
        name: "demo-backend".into(),
        wave: 1,
        sync: "Synced".into(),
        health: Some("Degraded".into()),
        message: Some("Deployment \"demo-backend\" exceeded its progress deadline".into()),
    }];
    assert_eq!(
        judge(&degraded, "1.1", None),
        Verdict::Failed(
            "Deployment demo-backend: Deployment \"demo-backend\" exceeded its progress deadline"
                .into()
        )
    );
}

#[test]
fn a_pinned_commit_must_be_the_one_synced_and_compared() {
    let mut other = app("1.1", "1.1", "Succeeded");
    other.operation.as_mut().unwrap().revision = Some(OLD_SHA.into());
    other.sync_revision = Some(OLD_SHA.into());
    assert!(matches!(judge(&other, "1.1", Some(SHA)), Verdict::Waiting(w) if w.contains(OLD_SHA)));
    assert!(
        matches!(judge(&other, "1.1", Some("b6568db")), Verdict::Ready { .. }),
        "short shas match"
    );
    // The comparison is still at another commit than the one our sync deployed.
    let mut lagging = app("1.1", "1.1", "Succeeded");
    lagging.sync_revision = Some(OLD_SHA.into());
    assert!(matches!(judge(&lagging, "1.1", None), Verdict::Waiting(_)));
}

#[test]
fn progressing_or_deleting_is_waiting_and_says_what_argo_cd_does() {
    let mut p = app("1.1", "1.1", "Running");
    p.health = "Progressing".into();
    p.sync = "OutOfSync".into();
    p.operation.as_mut().unwrap().message =
        Some("waiting for healthy state of apps/Deployment/demo-backend".into());
    assert_eq!(
        judge(&p, "1.1", None),
        Verdict::Waiting(
            "Progressing / OutOfSync: waiting for healthy state of apps/Deployment/demo-backend"
                .into()
        )
    );
    let mut d = app("1.1", "1.1", "Succeeded");
    d.deleting = true;
    assert!(matches!(judge(&d, "1.1", None), Verdict::Waiting(_)));
    let mut none = app("1.1", "1.1", "Succeeded");
    none.operation = None;
    assert!(
        matches!(judge(&none, "1.1", None), Verdict::Waiting(w) if w.contains("start the sync"))
    );
}

#[test]
fn argo_cds_status_json_reads_into_the_observed_view() {
    let app: Application = serde_json::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "env-demo", "namespace": "argocd", "resourceVersion": "42",
            "labels": {"blueberry.io/environment": "demo"},
            "annotations": {"blueberry.io/deployment": "2.1"}},
        "spec": {"project": "p", "source": {"repoURL": "r", "targetRevision": "main"},
            "destination": {"namespace": "bb-demo"}},
        "status": {
            "health": {"status": "Degraded", "message": "m"},
            "sync": {"status": "Synced", "revision": SHA, "comparedTo": {"source": {}}},
            "reconciledAt": "2026-12-02T09:00:30Z",
            "operationState": {
                "operation": {"sync": {"revision": "main"}, "initiatedBy": {"username": "blueberry"},
                    "info": [{"name": "blueberry.io/deployment", "value": "2.1"}]},
                "phase": "Succeeded", "message": "successfully synced (all tasks run)",
                "startedAt": "2026-12-02T09:00:10Z", "finishedAt": "2026-12-02T09:00:20Z",
                "syncResult": {"revision": SHA, "source": {"repoURL": "r"}}},
            "conditions": [{"type": "SyncError", "message": "x"}],
            "resources": [{"group": "apps", "version": "v1", "kind": "Deployment",
                "namespace": "bb-demo", "name": "demo-backend", "status": "Synced",
                "health": {"status": "Degraded", "message": "late"}, "syncWave": 1}]
        }
    }))
    .unwrap();
    let seen = ObservedApplication::from(&app);
    assert_eq!(seen.environment.as_deref(), Some("demo"));
    assert_eq!(seen.deployment.as_deref(), Some("2.1"));
    assert_eq!(seen.resource_version.as_deref(), Some("42"));
    let op = seen.operation_for("2.1").unwrap();
    assert_eq!(
        (op.phase.as_str(), op.revision.as_deref()),
        ("Succeeded", Some(SHA))
    );
    assert_eq!(op.finished_at, Some(at(20)));
    assert_eq!(seen.reconciled_at, Some(at(30)));
    assert_eq!(seen.conditions, [("SyncError".to_owned(), "x".to_owned())]);
    assert_eq!(seen.resources[0].wave, 1);
    assert_eq!(
        judge(&seen, "2.1", None),
        Verdict::Failed("Deployment demo-backend: late".into())
    );
    let empty = ObservedApplication::from(&Application {
        status: None,
        ..app
    });
    assert_eq!(
        (empty.health.as_str(), empty.sync.as_str()),
        ("Unknown", "Unknown")
    );
}
