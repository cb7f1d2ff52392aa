//! `/sim/*`: the simulator's own controls, outside the Kubernetes API. Operators and CI use
//! them (documented in the README): per-Application faults, server settings, closing watches.

use std::time::Duration;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{post, put},
};
use serde::Deserialize;

use super::{SimHandles, argo::FaultMode};

pub fn router() -> Router<SimHandles> {
    Router::new()
        .route("/sim/faults/{name}", put(set_fault).delete(clear_fault))
        .route("/sim/settings", put(update_settings))
        .route("/sim/close-watches", post(close_watches))
        .route("/sim/compact", post(compact))
}

fn refuse(message: String) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, message).into_response()
}

#[derive(Deserialize)]
struct FaultBody {
    mode: String,
}

/// `PUT /sim/faults/{application}` `{"mode": "stuck"}`; `none` clears it.
async fn set_fault(
    State(s): State<SimHandles>,
    Path(name): Path<String>,
    Json(b): Json<FaultBody>,
) -> Response {
    match FaultMode::parse(&b.mode) {
        Some(FaultMode::None) => {
            s.argo.set_fault(&name, None);
            StatusCode::NO_CONTENT.into_response()
        }
        Some(mode) => {
            s.argo.set_fault(&name, Some(mode));
            StatusCode::NO_CONTENT.into_response()
        }
        None => refuse(format!("mode must be one of {}", FaultMode::NAMES)),
    }
}

/// `DELETE /sim/faults/{application}`
async fn clear_fault(State(s): State<SimHandles>, Path(name): Path<String>) -> StatusCode {
    s.argo.set_fault(&name, None);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    ready_delay_ms: Option<u64>,
    ready_jitter_pct: Option<u8>,
    refresh_delay_ms: Option<u64>,
    error_rate: Option<f64>,
    latency_ms: Option<u64>,
    /// 0 turns dropping off.
    drop_watches_every_ms: Option<u64>,
}

/// `PUT /sim/settings` with any of the fields above.
async fn update_settings(State(s): State<SimHandles>, Json(b): Json<SettingsBody>) -> Response {
    if b.error_rate.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
        return refuse("error_rate must be between 0 and 1".into());
    }
    if b.ready_jitter_pct.is_some_and(|p| p > 100) {
        return refuse("ready_jitter_pct must be between 0 and 100".into());
    }
    s.update_settings(|st| {
        if let Some(ms) = b.ready_delay_ms {
            st.ready_delay = Duration::from_millis(ms);
        }
        if let Some(p) = b.ready_jitter_pct {
            st.ready_jitter_pct = p;
        }
        if let Some(ms) = b.refresh_delay_ms {
            st.refresh_delay = Duration::from_millis(ms);
        }
        if let Some(r) = b.error_rate {
            st.error_rate = r;
        }
        if let Some(ms) = b.latency_ms {
            st.latency = Duration::from_millis(ms);
        }
        if let Some(ms) = b.drop_watches_every_ms {
            st.drop_watches_every = (ms > 0).then(|| Duration::from_millis(ms));
        }
    });
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /sim/close-watches`: ends every open watch stream.
async fn close_watches(State(s): State<SimHandles>) -> StatusCode {
    s.store.close_all_watches();
    StatusCode::NO_CONTENT
}

/// `POST /sim/compact`: forgets the watch history, so resuming any watch gets `410 Gone`.
async fn compact(State(s): State<SimHandles>) -> StatusCode {
    s.store.compact();
    s.store.close_all_watches();
    StatusCode::NO_CONTENT
}
