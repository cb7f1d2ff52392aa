//! The Cluster port over the Kubernetes API with `kube`: server-side apply, delete, status
//! reads and watches of Argo CD Applications. The same adapter talks to a real cluster and to
//! the built-in simulator.

use std::{borrow::Cow, path::PathBuf, time::Duration};

use async_trait::async_trait;
use futures::{StreamExt, stream::BoxStream};
use k8s_openapi::{NamespaceResourceScope, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{WatchStreamExt, watcher},
};

use crate::{
    domain::manifest::{Application, LABEL_MANAGED_BY, MANAGED_BY},
    ports::cluster::{ApplicationState, Cluster, ClusterError, ClusterResult},
};

/// The field manager Blueberry's server-side applies use.
pub const FIELD_MANAGER: &str = "blueberry";

/// Upper bound for one API call; a slower answer counts as a retriable timeout.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

impl kube::Resource for Application {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "Application".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        "argoproj.io".into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        "v1alpha1".into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "applications".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Where the cluster's API server is.
#[derive(Debug, Clone)]
pub enum KubeTarget {
    /// A kubeconfig file (its current context).
    Kubeconfig(PathBuf),
    /// The pod's service account.
    InCluster,
    /// A plain URL without credentials (the simulator on loopback).
    Url(String),
}

pub struct KubeCluster {
    api: Api<Application>,
    simulated: bool,
}

impl KubeCluster {
    /// Builds a client for `target`; Applications live in `namespace`.
    pub async fn connect(
        target: &KubeTarget,
        namespace: &str,
        simulated: bool,
    ) -> anyhow::Result<Self> {
        let mut config = match target {
            KubeTarget::Kubeconfig(path) => {
                let kubeconfig = Kubeconfig::read_from(path)
                    .map_err(|e| anyhow::anyhow!("reading kubeconfig {}: {e}", path.display()))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                    .await?
            }
            KubeTarget::InCluster => kube::Config::incluster()?,
            KubeTarget::Url(url) => kube::Config::new(url.parse()?),
        };
        config.connect_timeout = Some(Duration::from_secs(5));
        // One retry policy, not two: transient errors surface here and the worker retries them
        // with backon (counted in metrics, logged), instead of kube's built-in retry layer.
        config.default_retry = false;
        let client = Client::try_from(config)?;
        Ok(Self {
            api: Api::namespaced(client, namespace),
            simulated,
        })
    }
}

/// Classifies a kube error: not found, conflict, retriable (5xx, 429, transport), invalid.
pub fn classify(e: kube::Error) -> ClusterError {
    match e {
        kube::Error::Api(status) => {
            let msg = format!("{} ({})", status.message, status.reason);
            match status.code {
                404 => ClusterError::NotFound(msg),
                409 => ClusterError::Conflict(msg),
                429 | 500..=599 => ClusterError::Retriable(msg),
                _ => ClusterError::Invalid(msg),
            }
        }
        kube::Error::HyperError(e) => ClusterError::Retriable(format!("transport: {e}")),
        kube::Error::Service(e) => ClusterError::Retriable(format!("connection: {e}")),
        kube::Error::ReadEvents(e) => ClusterError::Retriable(format!("reading events: {e}")),
        kube::Error::SerdeError(e) => ClusterError::Invalid(format!("unexpected answer: {e}")),
        other => ClusterError::Invalid(other.to_string()),
    }
}

async fn timed<T>(
    fut: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> ClusterResult<T> {
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(r) => r.map_err(classify),
        Err(_) => Err(ClusterError::Retriable(format!(
            "no answer within {CALL_TIMEOUT:?}"
        ))),
    }
}

/// Reads what Argo CD reports from an Application's status.
pub fn state_of(app: &Application) -> ApplicationState {
    let status = app.status.clone().unwrap_or_default();
    let health = status.health.unwrap_or_default();
    let sync = status.sync.unwrap_or_default();
    let op = status.operation_state;
    let or_unknown = |s: String| {
        if s.is_empty() {
            "Unknown".to_owned()
        } else {
            s
        }
    };
    ApplicationState {
        health: or_unknown(health.status),
        sync: or_unknown(sync.status),
        revision: sync.revision,
        operation_phase: op
            .as_ref()
            .map(|o| o.phase.clone())
            .filter(|p| !p.is_empty()),
        message: health
            .message
            .or_else(|| op.and_then(|o| o.message))
            .filter(|m| !m.is_empty()),
        deleting: app.metadata.deletion_timestamp.is_some(),
    }
}

#[async_trait]
impl Cluster for KubeCluster {
    fn is_simulated(&self) -> bool {
        self.simulated
    }

    async fn ping(&self) -> ClusterResult<()> {
        let params = kube::api::ListParams::default().limit(1);
        timed(self.api.list_metadata(&params)).await.map(|_| ())
    }

    #[tracing::instrument(skip_all, fields(application = app.name()))]
    async fn apply(&self, app: &Application) -> ClusterResult<ApplicationState> {
        let mut body = app.clone();
        body.status = None;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = timed(self.api.patch(app.name(), &params, &Patch::Apply(&body))).await?;
        Ok(state_of(&applied))
    }

    async fn list_managed(&self) -> ClusterResult<Vec<String>> {
        let selector = format!("{LABEL_MANAGED_BY}={MANAGED_BY}");
        let params = kube::api::ListParams::default().labels(&selector);
        let list = timed(self.api.list_metadata(&params)).await?;
        Ok(list
            .items
            .into_iter()
            .filter_map(|m| m.metadata.name)
            .collect())
    }

    async fn state(&self, name: &str) -> ClusterResult<Option<ApplicationState>> {
        Ok(timed(self.api.get_opt(name)).await?.as_ref().map(state_of))
    }

    #[tracing::instrument(skip(self))]
    async fn delete(&self, name: &str) -> ClusterResult<()> {
        match timed(self.api.delete(name, &DeleteParams::foreground())).await {
            Ok(_) | Err(ClusterError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn wait_gone(&self, name: &str, timeout: Duration) -> ClusterResult<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if timed(self.api.get_opt(name)).await?.is_none() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClusterError::Retriable(format!(
                    "Application {name} still exists after {timeout:?} (finalizers running)"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn watch(&self, name: &str) -> BoxStream<'static, ClusterResult<Option<ApplicationState>>> {
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        watcher(self.api.clone(), config)
            .default_backoff()
            .filter_map(|event| async move {
                match event {
                    Ok(watcher::Event::Apply(app) | watcher::Event::InitApply(app)) => {
                        Some(Ok(Some(state_of(&app))))
                    }
                    Ok(watcher::Event::Delete(_)) => Some(Ok(None)),
                    Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                    Err(e) => Some(Err(ClusterError::Retriable(format!("watch: {e}")))),
                }
            })
            .boxed()
    }
}
