//! The simulated cluster (DESIGN.md §5): a small Kubernetes API for Argo CD Applications on
//! loopback, with real API semantics and Argo CD's part played in-process. It is a simulator,
//! and says so in logs, `/readyz` and the UI.

mod api;
pub mod argo;
pub mod discovery;
pub mod selector;
pub mod state;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Args;
use serde_json::json;

pub use argo::FaultMode;
pub use state::{SimSettings, SimState};

/// Settings of `blueberry sim-cluster`.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Address to serve the Kubernetes API on (plain HTTP, loopback).
    #[arg(long, env = "BLUEBERRY_SIM_LISTEN", default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Write a kubeconfig for this cluster to FILE (for kubectl and `blueberry serve --kubeconfig`).
    #[arg(long, env = "BLUEBERRY_SIM_KUBECONFIG_OUT", value_name = "FILE")]
    pub kubeconfig_out: Option<PathBuf>,
    /// How long Argo CD "takes" to sync an Application.
    #[arg(long, env = "BLUEBERRY_SIM_READY_DELAY_MS", default_value_t = 1500)]
    pub ready_delay_ms: u64,
    /// Fraction of API calls answered with 503 (0.0..=1.0).
    #[arg(long, env = "BLUEBERRY_SIM_ERROR_RATE", default_value_t = 0.0)]
    pub error_rate: f64,
    /// Latency added to every API call.
    #[arg(long, env = "BLUEBERRY_SIM_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
}

/// A running simulated cluster.
#[derive(Clone)]
pub struct SimCluster {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
}

impl SimCluster {
    /// Serves the simulator on `listen` (port 0 picks one) until the runtime stops.
    pub async fn start(listen: SocketAddr, settings: SimSettings) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding the simulated cluster to {listen}"))?;
        let addr = listener.local_addr()?;
        let state = SimState::new(settings);
        let app = api::router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulated cluster stopped");
            }
        });
        Ok(Self { addr, state })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig (JSON, which kubectl reads as YAML) pointing at this cluster.
    pub fn kubeconfig(&self) -> serde_json::Value {
        json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "blueberry-sim", "cluster": {"server": self.url()}}],
            "users": [{"name": "blueberry-sim", "user": {}}],
            "contexts": [{"name": "blueberry-sim", "context": {"cluster": "blueberry-sim", "user": "blueberry-sim", "namespace": "argocd"}}],
            "current-context": "blueberry-sim"
        })
    }
}

/// `blueberry sim-cluster`: runs the simulator alone until Ctrl-C or SIGTERM.
pub async fn run_standalone(args: SimArgs) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&args.error_rate) {
        anyhow::bail!(
            "--error-rate must be between 0 and 1 (got {})",
            args.error_rate
        );
    }
    let settings = SimSettings {
        ready_delay: Duration::from_millis(args.ready_delay_ms),
        error_rate: args.error_rate,
        latency: Duration::from_millis(args.latency_ms),
    };
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
