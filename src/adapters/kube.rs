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
    ports::cluster::{Cluster, ClusterError, ClusterEvent, ClusterResult, ObservedApplication},
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
    async fn apply(&self, app: &Application) -> ClusterResult<ObservedApplication> {
        let mut body = app.clone();
        body.status = None;
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = timed(self.api.patch(app.name(), &params, &Patch::Apply(&body))).await?;
        Ok(ObservedApplication::from(&applied))
    }

    async fn get(&self, name: &str) -> ClusterResult<Option<ObservedApplication>> {
        Ok(timed(self.api.get_opt(name))
            .await?
            .as_ref()
            .map(ObservedApplication::from))
    }

    #[tracing::instrument(skip(self))]
    async fn delete(&self, name: &str) -> ClusterResult<()> {
        match timed(self.api.delete(name, &DeleteParams::foreground())).await {
            Ok(_) | Err(ClusterError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn watch_managed(&self) -> BoxStream<'static, ClusterResult<ClusterEvent>> {
        let config = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGED_BY}"));
        // The watcher relists after `410 Gone` and on restarts (Init … InitDone); the items of
        // a relist are gathered and reported as one complete set.
        let mut listing: Option<Vec<ObservedApplication>> = None;
        watcher(self.api.clone(), config)
            .default_backoff()
            .filter_map(move |event| {
                let out = match event {
                    Ok(watcher::Event::Init) => {
                        listing = Some(Vec::new());
                        None
                    }
                    Ok(watcher::Event::InitApply(app)) => {
                        listing
                            .get_or_insert_with(Vec::new)
                            .push(ObservedApplication::from(&app));
                        None
                    }
                    Ok(watcher::Event::InitDone) => Some(Ok(ClusterEvent::Relisted(
                        listing.take().unwrap_or_default(),
                    ))),
                    Ok(watcher::Event::Apply(app)) => Some(Ok(ClusterEvent::Applied(Box::new(
                        ObservedApplication::from(&app),
                    )))),
                    Ok(watcher::Event::Delete(app)) => Some(Ok(ClusterEvent::Deleted(Box::new(
                        ObservedApplication::from(&app),
                    )))),
                    Err(e) => Some(Err(ClusterError::Retriable(format!("watch: {e}")))),
                };
                futures::future::ready(out)
            })
            .boxed()
    }
}
