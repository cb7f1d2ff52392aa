//! `/healthz`, `/readyz` and `/metrics`.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::Context;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not ready`.
    pub status: &'static str,
    pub store: String,
    pub queue: String,
    pub cluster: String,
    /// True when the cluster is Blueberry's built-in simulator, not a real Kubernetes.
    pub cluster_simulated: bool,
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

fn outcome<E: std::fmt::Display>(r: Result<(), E>) -> (bool, String) {
    match r {
        Ok(()) => (true, "ok".to_owned()),
        Err(e) => (false, e.to_string()),
    }
}

/// `GET /readyz`: the store, the queue and the cluster answer.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(ctx): State<Context>) -> impl IntoResponse {
    let p = &ctx.ports;
    let (store, queue, cluster) =
        tokio::join!(p.environments.ping(), p.queue.depth(), p.cluster.ping());
    let (s_ok, store) = outcome(store);
    let (q_ok, queue) = outcome(queue.map(|_| ()));
    let (c_ok, mut cluster) = outcome(cluster);
    if p.cluster.is_simulated() {
        cluster = format!("{cluster} (simulated cluster)");
    }
    let ready = s_ok && q_ok && c_ok;
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ready { "ready" } else { "not ready" },
        store,
        queue,
        cluster,
        cluster_simulated: p.cluster.is_simulated(),
    };
    (code, Json(body))
}

/// `GET /metrics`: Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(ctx): State<Context>) -> impl IntoResponse {
    if let Ok(depth) = ctx.ports.queue.depth().await {
        ctx.metrics.set_queue_depth(depth);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        ctx.metrics.render(),
    )
}
