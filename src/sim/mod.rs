//! The simulated cluster (DESIGN.md §5): a small Kubernetes API for Argo CD Applications on
//! loopback with real API semantics (`store`, `http`), and a simulated Argo CD application
//! controller (`argo`) that is a client of that API like the real one: asynchronous, as slow
//! and as stale as the real one, with fault modes. `/sim/*` (`control`) adjusts it at run time.
//! It is a simulator, and says so in logs, `/readyz` and the UI.

pub mod argo;
mod control;
pub mod discovery;
mod http;
pub mod selector;
mod settings;
pub mod store;

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

pub use argo::{ArgoSim, FaultMode};
pub use settings::{SharedSettings, SimSettings};
pub use store::SimStore;

/// Settings of `blueberry sim-cluster`.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Address to serve the Kubernetes API on (plain HTTP, loopback).
    #[arg(long, env = "BLUEBERRY_SIM_LISTEN", default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Write a kubeconfig for this cluster to FILE (for kubectl and `blueberry serve --kubeconfig`).
    #[arg(long, env = "BLUEBERRY_SIM_KUBECONFIG_OUT", value_name = "FILE")]
    pub kubeconfig_out: Option<PathBuf>,
    /// How long Argo CD "takes" to sync an Application (the middle of the range).
    #[arg(long, env = "BLUEBERRY_SIM_READY_DELAY_MS", default_value_t = 1500)]
    pub ready_delay_ms: u64,
    /// Each sync takes the delay ± this percentage, drawn uniformly (0..=100).
    #[arg(long, env = "BLUEBERRY_SIM_READY_JITTER_PCT", default_value_t = 0)]
    pub ready_jitter_pct: u8,
    /// How long Argo CD takes to notice a changed spec; it reports the old status until then.
    #[arg(long, env = "BLUEBERRY_SIM_REFRESH_DELAY_MS", default_value_t = 200)]
    pub refresh_delay_ms: u64,
    /// Fraction of API calls answered with 503 (0.0..=1.0).
    #[arg(long, env = "BLUEBERRY_SIM_ERROR_RATE", default_value_t = 0.0)]
    pub error_rate: f64,
    /// Latency added to every API call.
    #[arg(long, env = "BLUEBERRY_SIM_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Close every open watch this often (and make every third resume a `410 Gone`); 0 never.
    #[arg(long, env = "BLUEBERRY_SIM_DROP_WATCHES_EVERY_MS", default_value_t = 0)]
    pub drop_watches_every_ms: u64,
}

impl SimArgs {
    /// The settings these flags describe; the message names a flag out of range.
    pub fn settings(&self) -> anyhow::Result<SimSettings> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            anyhow::bail!(
                "--error-rate must be between 0 and 1 (got {})",
                self.error_rate
            );
        }
        if self.ready_jitter_pct > 100 {
            anyhow::bail!(
                "--ready-jitter-pct must be between 0 and 100 (got {})",
                self.ready_jitter_pct
            );
        }
        Ok(SimSettings {
            ready_delay: Duration::from_millis(self.ready_delay_ms),
            ready_jitter_pct: self.ready_jitter_pct,
            refresh_delay: Duration::from_millis(self.refresh_delay_ms),
            error_rate: self.error_rate,
            latency: Duration::from_millis(self.latency_ms),
            drop_watches_every: (self.drop_watches_every_ms > 0)
                .then(|| Duration::from_millis(self.drop_watches_every_ms)),
        })
    }
}

/// What the simulator's HTTP routes share.
#[derive(Clone)]
pub struct SimHandles {
    pub store: Arc<SimStore>,
    pub argo: Arc<ArgoSim>,
    pub settings: SharedSettings,
}

impl SimHandles {
    pub fn settings(&self) -> SimSettings {
        self.settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn update_settings(&self, f: impl FnOnce(&mut SimSettings)) {
        f(&mut self.settings.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

/// A running simulated cluster.
#[derive(Clone)]
pub struct SimCluster {
    pub addr: SocketAddr,
    pub handles: SimHandles,
}

impl SimCluster {
    /// Serves the simulator on `listen` (port 0 picks one) until the runtime stops.
    pub async fn start(listen: SocketAddr, settings: SimSettings) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding the simulated cluster to {listen}"))?;
        let addr = listener.local_addr()?;
        let store = SimStore::new();
        let settings: SharedSettings = Arc::new(Mutex::new(settings));
        let argo = ArgoSim::start(store.clone(), settings.clone());
        let handles = SimHandles {
            store,
            argo,
            settings,
        };
        let app = http::router(handles.clone())
            .merge(control::router())
            .with_state(handles.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulated cluster stopped");
            }
        });
        tokio::spawn(drop_watches(handles.clone()));
        Ok(Self { addr, handles })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The object store (the API server's state).
    pub fn store(&self) -> &Arc<SimStore> {
        &self.handles.store
    }

    /// An Application as stored, or None.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Value> {
        self.handles
            .store
            .get(namespace, name)
            .ok()
            .map(|o| o.value())
    }

    /// Names of the Applications in the cluster, sorted.
    pub fn application_names(&self) -> Vec<String> {
        let (items, _) = self.handles.store.list(&Default::default());
        let mut names: Vec<String> = items.iter().map(|o| o.name.clone()).collect();
        names.sort();
        names
    }

    pub fn set_fault(&self, application: &str, mode: Option<FaultMode>) {
        self.handles.argo.set_fault(application, mode);
    }

    pub fn settings(&self) -> SimSettings {
        self.handles.settings()
    }

    pub fn update_settings(&self, f: impl FnOnce(&mut SimSettings)) {
        self.handles.update_settings(f);
    }

    /// A kubeconfig (JSON, which kubectl reads as YAML) pointing at this cluster.
    pub fn kubeconfig(&self) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "blueberry-sim", "cluster": {"server": self.url()}}],
            "users": [{"name": "blueberry-sim", "user": {}}],
            "contexts": [{"name": "blueberry-sim", "context": {"cluster": "blueberry-sim", "user": "blueberry-sim", "namespace": "argocd"}}],
            "current-context": "blueberry-sim"
        })
    }
}

/// Server fault: closes every watch every `drop_watches_every`, and every third time forgets
/// the history first, so the clients' resumption gets `410 Gone` and must relist.
async fn drop_watches(handles: SimHandles) {
    let mut round = 0u64;
    loop {
        let Some(every) = handles.settings().drop_watches_every else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        tokio::time::sleep(every).await;
        round += 1;
        if round.is_multiple_of(3) {
            handles.store.compact();
        }
        handles.store.close_all_watches();
    }
}

/// `blueberry sim-cluster`: runs the simulator alone until Ctrl-C or SIGTERM.
pub async fn run_standalone(args: SimArgs) -> anyhow::Result<()> {
    let settings = args.settings()?;
    let sim = SimCluster::start(args.listen, settings).await?;
    if let Some(path) = &args.kubeconfig_out {
        let text = serde_json::to_string_pretty(&sim.kubeconfig())?;
        std::fs::write(path, text)
            .with_context(|| format!("writing --kubeconfig-out {}", path.display()))?;
        tracing::info!(kubeconfig = %path.display(), "kubeconfig written");
    }
    tracing::warn!(url = %sim.url(), "SIMULATED Kubernetes API for Argo CD Applications is serving (not a real cluster)");
    crate::telemetry::shutdown_signal().await;
    Ok(())
}
