//! The kube adapter over real HTTP against the simulated cluster.
//!
//! Long on purpose: eight short checks of the kube adapter against the simulated API server,
//! sharing its set-up.

use std::time::Duration;

use blueberry::{
    adapters::kube::{KubeCluster, KubeTarget},
    domain::{
        argo::ObservedApplication,
        manifest::{
            ANNOTATION_DEPLOYMENT, Application, ApplicationDestination, ApplicationSource,
            ApplicationSpec, CASCADE_FINALIZER, INFO_DEPLOYMENT, Info, LABEL_MANAGED_BY,
            MANAGED_BY, Operation, SyncOperation,
        },
    },
    ports::{Cluster, ClusterError, ClusterEvent},
    sim::{FaultMode, SimCluster, SimSettings},
};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

async fn sim(delay_ms: u64) -> (SimCluster, KubeCluster) {
    let settings = SimSettings {
        ready_delay: Duration::from_millis(delay_ms),
        refresh_delay: Duration::from_millis(20),
        ..SimSettings::default()
    };
    let sim = SimCluster::start("127.0.0.1:0".parse().unwrap(), settings)
        .await
        .unwrap();
    let cluster = KubeCluster::connect(&KubeTarget::Url(sim.url()), "argocd", true)
        .await
        .unwrap();
    (sim, cluster)
}

/// Application `name` at `revision`, applied for deployment `deployment` with its sync
/// operation, as the controller applies it.
fn app(name: &str, revision: &str) -> Application {
    app_for(name, revision, "1.1")
}

fn app_for(name: &str, revision: &str, deployment: &str) -> Application {
    Application {
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Application".into(),
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("argocd".into()),
            finalizers: Some(vec![CASCADE_FINALIZER.into()]),
            labels: Some([(LABEL_MANAGED_BY.to_owned(), MANAGED_BY.to_owned())].into()),
            annotations: Some([(ANNOTATION_DEPLOYMENT.to_owned(), deployment.to_owned())].into()),
            ..Default::default()
        },
        spec: ApplicationSpec {
            project: "default".into(),
            source: ApplicationSource {
                repo_url: "https://example.com/r.git".into(),
                chart: None,
                path: Some("helm/environment".into()),
                target_revision: revision.into(),
                helm: None,
            },
            destination: ApplicationDestination {
                server: Some("https://kubernetes.default.svc".into()),
                name: None,
                namespace: name.into(),
            },
            sync_policy: None,
        },
        operation: Some(Operation {
            sync: Some(SyncOperation {
                revision: Some(revision.into()),
                prune: true,
            }),
            initiated_by: None,
            info: vec![Info {
                name: INFO_DEPLOYMENT.into(),
                value: deployment.into(),
            }],
        }),
        status: None,
    }
}

/// Polls the Application until `check` holds.
async fn eventually(
    cluster: &KubeCluster,
    name: &str,
    what: &str,
    check: impl Fn(&ObservedApplication) -> bool,
) -> ObservedApplication {
    for _ in 0..250 {
        if let Some(a) = cluster.get(name).await.unwrap()
            && check(&a)
        {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} never became {what}: {:?}", cluster.get(name).await);
}

fn ours(a: &ObservedApplication, deployment: &str, phase: &str) -> bool {
    a.operation_for(deployment)
        .is_some_and(|o| o.phase == phase)
}

#[tokio::test]
async fn creating_a_client_does_not_panic_on_crypto_providers() {
    let (_sim, cluster) = sim(10).await;
    cluster.ping().await.unwrap();
}

#[tokio::test]
async fn argo_cd_syncs_our_operation_wave_by_wave_and_reports_the_real_status_fields() {
    let (sim, cluster) = sim(300).await;
    let first = cluster.apply(&app("env-a", "abc1234")).await.unwrap();
    assert_eq!(first.deployment.as_deref(), Some("1.1"));
    assert_eq!(
        first.operation, None,
        "nothing yet: Argo CD has not noticed it"
    );
    let running = eventually(&cluster, "env-a", "syncing", |a| ours(a, "1.1", "Running")).await;
    assert_eq!(running.sync, "OutOfSync");
    let done = eventually(&cluster, "env-a", "Healthy", |a| {
        ours(a, "1.1", "Succeeded") && a.health == "Healthy"
    })
    .await;
    let op = done.operation.as_ref().unwrap();
    assert_eq!(op.revision.as_deref(), Some("abc1234"));
    assert_eq!(
        (done.sync.as_str(), done.sync_revision.as_deref()),
        ("Synced", Some("abc1234"))
    );
    assert!(
        done.reconciled_at >= op.finished_at,
        "refreshed after the sync"
    );
    let waves: Vec<i64> = done.resources.iter().map(|r| r.wave).collect();
    assert_eq!(
        waves,
        [0, 0, 0, 1, 1, 2, 2, 3],
        "the chart's resources and their waves"
    );
    assert!(done.resources.iter().all(|r| r.sync == "Synced"));
    // The same spec again is no new spec (same generation); the operation it carries asks
    // for that deployment's sync again, which is why the controller applies once per attempt.
    let generation =
        |s: &SimCluster| s.get("argocd", "env-a").unwrap()["metadata"]["generation"].clone();
    let before = generation(&sim);
    cluster.apply(&app("env-a", "abc1234")).await.unwrap();
    assert_eq!(generation(&sim), before);
    assert_eq!(cluster.get("env-missing").await.unwrap(), None);
}

#[tokio::test]
async fn a_new_deployment_keeps_the_old_status_until_argo_cd_notices_it() {
    let (sim, cluster) = sim(200).await;
    cluster.apply(&app("env-s", "main")).await.unwrap();
    eventually(&cluster, "env-s", "Healthy", |a| {
        ours(a, "1.1", "Succeeded") && a.health == "Healthy"
    })
    .await;
    sim.update_settings(|s| s.refresh_delay = Duration::from_millis(400));
    let applied = cluster
        .apply(&app_for("env-s", "main", "2.1"))
        .await
        .unwrap();
    assert_eq!(applied.deployment.as_deref(), Some("2.1"));
    assert_eq!(
        (
            applied.health.as_str(),
            applied.operation.as_ref().unwrap().deployment.as_deref()
        ),
        ("Healthy", Some("1.1")),
        "the previous status, as a real Argo CD reports it until its refresh"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let still = cluster.get("env-s").await.unwrap().unwrap();
    assert!(still.operation_for("2.1").is_none());
    eventually(&cluster, "env-s", "synced again", |a| {
        ours(a, "2.1", "Succeeded") && a.health == "Healthy"
    })
    .await;
}

#[tokio::test]
async fn fault_modes_report_what_argo_cd_would() {
    let (sim, cluster) = sim(100).await;
    sim.set_fault("env-bad", Some(FaultMode::Degraded));
    sim.set_fault("env-err", Some(FaultMode::SyncError));
    sim.set_fault("env-stuck", Some(FaultMode::Stuck));
    for name in ["env-bad", "env-err", "env-stuck"] {
        cluster.apply(&app(name, "main")).await.unwrap();
    }
    let bad = eventually(&cluster, "env-bad", "Degraded", |a| a.health == "Degraded").await;
    assert!(
        bad.failure_cause().contains("progress deadline"),
        "{}",
        bad.failure_cause()
    );
    let err = eventually(&cluster, "env-err", "Failed", |a| ours(a, "1.1", "Failed")).await;
    assert_eq!(err.sync, "OutOfSync");
    assert_eq!(err.conditions[0].0, "SyncError");
    assert!(err.failure_cause().contains("failed to apply"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stuck = cluster.get("env-stuck").await.unwrap().unwrap();
    let backend = stuck
        .resources
        .iter()
        .find(|r| r.name.ends_with("-backend"))
        .unwrap();
    assert!(ours(&stuck, "1.1", "Running"), "{stuck:?}");
    assert_eq!(backend.health.as_deref(), Some("Progressing"));
    assert_eq!(
        stuck.health, "Missing",
        "later waves are not created: Argo CD says Missing"
    );
    assert!(
        stuck.progress().contains("waiting for healthy state"),
        "{}",
        stuck.progress()
    );
}

#[tokio::test]
async fn delete_waits_for_the_cascade_finalizer_and_a_stuck_one_holds_it() {
    let (sim, cluster) = sim(400).await;
    cluster.apply(&app("env-d", "main")).await.unwrap();
    cluster.delete("env-d").await.unwrap();
    let going = cluster
        .get("env-d")
        .await
        .unwrap()
        .expect("still there while the finalizer runs");
    assert!(going.deleting);
    let started = std::time::Instant::now();
    while cluster.get("env-d").await.unwrap().is_some() {
        assert!(started.elapsed() < Duration::from_secs(5), "never gone");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "gone before the finalizer ran"
    );
    // Deleting what is gone is fine.
    cluster.delete("env-d").await.unwrap();

    sim.set_fault("env-f", Some(FaultMode::FinalizerStuck));
    cluster.apply(&app("env-f", "main")).await.unwrap();
    cluster.delete("env-f").await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        cluster
            .get("env-f")
            .await
            .unwrap()
            .is_some_and(|a| a.deleting)
    );
    sim.set_fault("env-f", None);
    let started = std::time::Instant::now();
    while cluster.get("env-f").await.unwrap().is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still held after the fault was cleared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn server_errors_surface_as_retriable() {
    let (sim, cluster) = sim(10).await;
    sim.update_settings(|s| s.error_rate = 1.0);
    let err = cluster.apply(&app("env-x", "main")).await.unwrap_err();
    assert!(err.is_retriable(), "{err:?}");
    assert!(matches!(
        cluster.get("env-x").await,
        Err(ClusterError::Retriable(_))
    ));
    sim.update_settings(|s| s.error_rate = 0.0);
    cluster.apply(&app("env-x", "main")).await.unwrap();
}

#[tokio::test]
async fn invalid_requests_are_not_retriable() {
    let (_sim, cluster) = sim(10).await;
    let mut bad = app("env-y", "main");
    bad.kind = "NotAnApplication".into();
    let err = cluster.apply(&bad).await.unwrap_err();
    assert!(matches!(err, ClusterError::Invalid(_)), "{err:?}");
}

async fn next_event(
    w: &mut futures::stream::BoxStream<'static, Result<ClusterEvent, ClusterError>>,
) -> Result<ClusterEvent, ClusterError> {
    tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .expect("an event")
        .expect("the stream goes on")
}

#[tokio::test]
async fn one_watch_sees_every_managed_application_and_relists_after_410_gone() {
    let (sim, cluster) = sim(100).await;
    cluster.apply(&app("env-w1", "main")).await.unwrap();
    let mut unmanaged = app("env-other", "main");
    unmanaged.metadata.labels = None;
    cluster.apply(&unmanaged).await.unwrap();
    let mut watch = cluster.watch_managed();
    match next_event(&mut watch).await {
        Ok(ClusterEvent::Relisted(all)) => {
            let names: Vec<_> = all.iter().map(|a| a.name.as_str()).collect();
            assert_eq!(names, ["env-w1"], "only Blueberry's Applications");
        }
        other => panic!("a list first, got {other:?}"),
    }
    cluster.apply(&app("env-w2", "main")).await.unwrap();
    let mut saw_w2 = false;
    while !saw_w2 {
        if let Ok(ClusterEvent::Applied(a)) = next_event(&mut watch).await {
            saw_w2 = a.name == "env-w2";
        }
    }
    // Cut every watch and forget the history: the watcher must relist and go on.
    sim.store().compact();
    sim.store().close_all_watches();
    cluster.delete("env-w1").await.unwrap();
    let mut relisted = false;
    let mut gone = false;
    while !(relisted && gone) {
        match next_event(&mut watch).await {
            Ok(ClusterEvent::Relisted(all)) => {
                relisted = true;
                gone |= !all.iter().any(|a| a.name == "env-w1");
            }
            Ok(ClusterEvent::Deleted(a)) if a.name == "env-w1" => gone = true,
            _ => {}
        }
    }
}
