//! The kube adapter over real HTTP against the simulated cluster.

use std::time::Duration;

use blueberry::{
    adapters::kube::{KubeCluster, KubeTarget},
    domain::manifest::{
        Application, ApplicationDestination, ApplicationSource, ApplicationSpec, CASCADE_FINALIZER,
    },
    ports::{Cluster, ClusterError},
    sim::{FaultMode, SimCluster, SimSettings},
};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

async fn sim(delay_ms: u64) -> (SimCluster, KubeCluster) {
    let settings = SimSettings {
        ready_delay: Duration::from_millis(delay_ms),
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

fn app(name: &str, revision: &str) -> Application {
    Application {
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Application".into(),
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("argocd".into()),
            finalizers: Some(vec![CASCADE_FINALIZER.into()]),
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
        operation: None,
        status: None,
    }
}

async fn eventually_healthy(cluster: &KubeCluster, name: &str) {
    for _ in 0..100 {
        if cluster
            .state(name)
            .await
            .unwrap()
            .is_some_and(|s| s.health == "Healthy")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} never became Healthy");
}

#[tokio::test]
async fn creating_a_client_does_not_panic_on_crypto_providers() {
    let (_sim, cluster) = sim(10).await;
    cluster.ping().await.unwrap();
}

#[tokio::test]
async fn applying_twice_is_idempotent_and_status_goes_progressing_then_healthy() {
    let (sim, cluster) = sim(200).await;
    let first = cluster.apply(&app("env-a", "abc1234")).await.unwrap();
    assert_eq!(
        (first.health.as_str(), first.sync.as_str()),
        ("Progressing", "OutOfSync")
    );
    let rv = sim.store().get("argocd", "env-a").unwrap()["metadata"]["resourceVersion"].clone();
    eventually_healthy(&cluster, "env-a").await;
    let rv_healthy =
        sim.store().get("argocd", "env-a").unwrap()["metadata"]["resourceVersion"].clone();
    assert_ne!(rv, rv_healthy);
    // The same spec again changes nothing: same resourceVersion, still Healthy.
    let again = cluster.apply(&app("env-a", "abc1234")).await.unwrap();
    assert_eq!(again.health, "Healthy");
    assert_eq!(
        sim.store().get("argocd", "env-a").unwrap()["metadata"]["resourceVersion"],
        rv_healthy
    );
    let state = cluster.state("env-a").await.unwrap().unwrap();
    assert!(state.is_ready_at("abc1234"));
    assert_eq!(state.operation_phase.as_deref(), Some("Succeeded"));
    assert_eq!(cluster.state("env-missing").await.unwrap(), None);
}

#[tokio::test]
async fn a_degraded_application_reports_its_message() {
    let (sim, cluster) = sim(50).await;
    sim.set_fault("env-bad", Some(FaultMode::Degraded));
    cluster.apply(&app("env-bad", "main")).await.unwrap();
    let mut state = None;
    for _ in 0..100 {
        state = cluster.state("env-bad").await.unwrap();
        if state.as_ref().is_some_and(|s| s.health == "Degraded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let state = state.unwrap();
    assert_eq!(state.health, "Degraded");
    assert!(state.is_failed());
    assert!(state.message.unwrap().contains("progress deadline"));
}

#[tokio::test]
async fn delete_waits_for_the_cascade_finalizer() {
    let (sim, cluster) = sim(400).await;
    cluster.apply(&app("env-d", "main")).await.unwrap();
    cluster.delete("env-d").await.unwrap();
    let state = cluster
        .state("env-d")
        .await
        .unwrap()
        .expect("still there while the finalizer runs");
    assert!(state.deleting);
    let started = std::time::Instant::now();
    cluster
        .wait_gone("env-d", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "returned before the finalizer ran"
    );
    assert!(sim.store().get("argocd", "env-d").is_err());
    // Deleting what is gone is fine.
    cluster.delete("env-d").await.unwrap();
}

#[tokio::test]
async fn server_errors_surface_as_retriable() {
    let (sim, cluster) = sim(10).await;
    sim.update_settings(|s| s.error_rate = 1.0);
    let err = cluster.apply(&app("env-x", "main")).await.unwrap_err();
    assert!(err.is_retriable(), "{err:?}");
    assert!(matches!(
        cluster.state("env-x").await,
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

#[tokio::test]
async fn a_watch_survives_a_restart_of_the_stream_and_expired_history() {
    let (sim, cluster) = sim(100).await;
    cluster.apply(&app("env-w", "main")).await.unwrap();
    let mut watch = cluster.watch("env-w");
    let first = watch.next().await.unwrap().unwrap().unwrap();
    assert_eq!(first.health, "Progressing");
    // Cut every watch stream and forget the history: the watcher must relist and go on.
    sim.store().close_all_watches();
    sim.store().compact();
    let mut healthy = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Some(item)) = tokio::time::timeout_at(deadline, watch.next()).await {
        if let Ok(Some(s)) = item
            && s.health == "Healthy"
        {
            healthy = true;
            break;
        }
    }
    assert!(
        healthy,
        "the watch did not deliver Healthy after its stream was restarted"
    );
    cluster.delete("env-w").await.unwrap();
    let gone = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(item) = watch.next().await {
            if let Ok(None) = item {
                return true;
            }
        }
        false
    })
    .await
    .unwrap();
    assert!(gone);
}
