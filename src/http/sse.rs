//! `GET /api/events/environments`: Server-Sent Events of environment changes.
//!
//! Every change is `event: environment`, `id: <change seq>`, data = the EnvironmentResponse.
//! A client that reconnects with `Last-Event-ID` gets every change after that id from the
//! store's change log, then live changes from the bus; gaps and lag are filled from the log.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::IntoParams;

use super::{api::environment_models::EnvironmentResponse, errors::ApiError, extract::ApiQuery};
use crate::{
    ports::{BusMessage, EnvironmentChange},
    service::Context,
};

/// Change-log entries read per store round trip while catching up.
const CATCH_UP_PAGE: u32 = 500;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Only this environment's changes.
    pub environment_id: Option<String>,
    /// Only changes of environments in this repository.
    pub repository_id: Option<String>,
    /// Resume after this change (same as the `Last-Event-ID` header, which wins).
    pub last_event_id: Option<u64>,
}

impl StreamParams {
    fn matches(&self, c: &EnvironmentChange) -> bool {
        self.environment_id
            .as_deref()
            .is_none_or(|id| c.environment.id.as_str() == id)
            && self
                .repository_id
                .as_deref()
                .is_none_or(|r| c.environment.repository_id == r)
    }
}

/// `GET /api/events/environments`
#[utoipa::path(get, path = "/api/events/environments", tag = "environments", params(StreamParams),
    responses((status = 200, description = "text/event-stream of `environment` events", content_type = "text/event-stream")))]
pub async fn stream(
    State(ctx): State<Context>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let header_id = match headers
        .get("last-event-id")
        .map(|v| v.to_str().map(|s| s.trim().parse::<u64>()))
    {
        None => None,
        Some(Ok(Ok(n))) => Some(n),
        Some(_) => {
            return Err(ApiError::invalid(
                "Last-Event-ID",
                "must be an event id this server sent",
            ));
        }
    };
    // Subscribe before reading the log so nothing falls between the two.
    let mut bus = ctx.ports.bus.subscribe();
    let mut last = match header_id.or(params.last_event_id) {
        Some(n) => n,
        None => ctx
            .ports
            .store
            .latest_change_seq()
            .await
            .map_err(crate::service::ServiceError::from)?,
    };
    let (tx, rx) = mpsc::channel::<Event>(64);
    tokio::spawn(async move {
        let send = |c: &EnvironmentChange| {
            let body = EnvironmentResponse::new(&c.environment, &ctx.settings);
            Event::default()
                .event("environment")
                .id(c.seq.to_string())
                .json_data(body)
        };
        // Catch up from the change log, then follow the bus; a gap or lag means catch up again.
        let mut catch_up = true;
        loop {
            if catch_up {
                loop {
                    let page = match ctx.ports.store.changes_since(last, CATCH_UP_PAGE).await {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::warn!(error = %e, "SSE catch-up failed; retrying");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue;
                        }
                    };
                    let full = page.len() == CATCH_UP_PAGE as usize;
                    for c in &page {
                        last = c.seq;
                        if params.matches(c) {
                            let Ok(event) = send(c) else { continue };
                            if tx.send(event).await.is_err() {
                                return;
                            }
                        }
                    }
                    if !full {
                        break;
                    }
                }
                catch_up = false;
            }
            match bus.next().await {
                Some(BusMessage::Change(c)) if c.seq == last + 1 => {
                    last = c.seq;
                    if params.matches(&c) {
                        let Ok(event) = send(&c) else { continue };
                        if tx.send(event).await.is_err() {
                            return;
                        }
                    }
                }
                Some(BusMessage::Change(c)) if c.seq <= last => {}
                Some(_) => catch_up = true,
                None => return,
            }
        }
    });
    let events = ReceiverStream::new(rx).map(Ok);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
