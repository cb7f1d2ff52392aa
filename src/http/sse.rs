//! `GET /api/events/environments`: Server-Sent Events of environment changes.
//!
//! Every change is `event: environment`, `id: <change id>`, data = the EnvironmentResponse.
//! A client that reconnects with `Last-Event-ID` gets every change after that id from the
//! change log (`service::changes`), then follows the process's change feed (`feed.rs`:
//! ordered, serialized once for every client); falling behind means reading the log again.
//! When the log no longer has what a client missed (trimmed), it gets `event: resync` and
//! should re-read what it shows; the stream then goes on from the newest change.
//!
//! Ids increase but need not be consecutive (Redis Streams ids are `ms * 10^6 + n`).

use std::{collections::VecDeque, convert::Infallible, sync::Arc, time::Duration};

use axum::{
    Extension,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::broadcast;
use utoipa::IntoParams;

use super::{
    auth::Caller,
    errors::ApiError,
    extract::ApiQuery,
    feed::{ChangeFeed, FeedItem},
    sse_slots::{Full, Slot, SseSlots},
};
use crate::service::{Context, changes::Since};

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
    #[param(minimum = 0)]
    pub last_event_id: Option<i64>,
}

/// Where a client's stream is.
enum Phase {
    /// Reading the change log from `last` (Last-Event-ID, or after falling behind the feed).
    CatchUp,
    /// Following the feed.
    Live,
}

struct Client {
    /// This stream's place among the process's streams, given back when it closes.
    _slot: Slot,
    ctx: Context,
    params: StreamParams,
    feed: broadcast::Receiver<Arc<FeedItem>>,
    last: u64,
    phase: Phase,
    /// Items read from the log, not yet sent.
    backlog: VecDeque<Arc<FeedItem>>,
}

/// A comment line that keeps idle connections (and proxies) from timing out.
const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

impl Client {
    fn wants(&self, item: &FeedItem) -> bool {
        item.resync
            || self
                .params
                .environment_id
                .as_deref()
                .is_none_or(|id| item.environment_id == id)
                && self
                    .params
                    .repository_id
                    .as_deref()
                    .is_none_or(|r| item.repository_id == r)
    }

    /// The next frame for this client.
    async fn next(mut self) -> Option<(Bytes, Self)> {
        loop {
            if let Some(item) = self.backlog.pop_front() {
                self.last = item.seq;
                if self.wants(&item) {
                    return Some((item.frame.clone(), self));
                }
                continue;
            }
            match self.phase {
                Phase::CatchUp => {
                    let page = match self.ctx.changes.since(self.last, CATCH_UP_PAGE).await {
                        Ok(Since::Changes(p)) => p,
                        Ok(Since::Trimmed) => {
                            let latest = self.ctx.changes.latest().await.unwrap_or(self.last);
                            self.backlog.push_back(Arc::new(FeedItem::resync(latest)));
                            self.phase = Phase::Live;
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "SSE catch-up failed; retrying");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue;
                        }
                    };
                    if page.len() < CATCH_UP_PAGE as usize {
                        self.phase = Phase::Live;
                    }
                    let ctx = &self.ctx;
                    self.backlog
                        .extend(page.iter().map(|c| Arc::new(FeedItem::new(c, ctx))));
                }
                // The client subscribed to the feed before it read the log, and the feed sends
                // every change in log order: whatever the log did not have yet comes here.
                Phase::Live => match self.feed.recv().await {
                    Ok(item) if item.seq <= self.last && !item.resync => {}
                    Ok(item) => self.backlog.push_back(item),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.phase = Phase::CatchUp,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

/// `GET /api/events/environments`
#[utoipa::path(get, path = "/api/events/environments", tag = "environments", params(StreamParams),
    responses((status = 200, description = "text/event-stream of `environment` events", content_type = "text/event-stream"), (status = 503, description = "too many open streams; see Retry-After")))]
pub async fn stream(
    State(ctx): State<Context>,
    Extension(feed): Extension<ChangeFeed>,
    Extension(slots): Extension<Arc<SseSlots>>,
    Caller(caller): Caller,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Response, ApiError> {
    let who = caller.token_id.as_deref().unwrap_or(&caller.name);
    let slot = slots.take(who).map_err(|full| {
        let detail = match full {
            Full::Process(n) => {
                format!("this server already streams to {n} clients (--max-sse-clients)")
            }
            Full::Caller(n) => format!(
                "you already hold {n} event streams on this server (--max-sse-clients-per-caller)"
            ),
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too-many-streams", detail)
            .with_retry_after(5)
    })?;
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
    // Subscribe before reading the log position so nothing falls between the two.
    let subscription = feed.subscribe();
    let from_query = params
        .last_event_id
        .map(|n| {
            u64::try_from(n).map_err(|_| ApiError::invalid("last_event_id", "must not be negative"))
        })
        .transpose()?;
    let (last, phase) = match header_id.or(from_query) {
        Some(n) => (n, Phase::CatchUp),
        None => (ctx.changes.latest().await?, Phase::Live),
    };
    let client = Client {
        _slot: slot,
        ctx,
        params,
        feed: subscription,
        last,
        phase,
        backlog: VecDeque::new(),
    };
    let events = futures::stream::unfold(client, Client::next);
    let mut keep_alive = tokio::time::interval(Duration::from_secs(15));
    keep_alive.reset();
    let keep_alive = futures::stream::unfold(keep_alive, |mut tick| async move {
        tick.tick().await;
        Some((Bytes::from_static(KEEP_ALIVE), tick))
    });
    // The keep-alive fills the silence; the body ends when the events end.
    let events = events
        .map(Some)
        .chain(futures::stream::once(futures::future::ready(None)));
    let body = futures::stream::select(events, keep_alive.map(Some))
        .take_while(|frame| futures::future::ready(frame.is_some()))
        .map(|frame| Ok::<_, Infallible>(frame.unwrap_or_default()));
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
