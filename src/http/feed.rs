//! The change feed of one process: every environment change, in change-log order, serialized
//! once, for all of this process's SSE clients.
//!
//! When the bus is the change log (Redis Streams), it delivers changes in log order and the
//! feed forwards them; after a lag it reads what it missed from the log, and when the log no
//! longer has it, tells clients to `resync`.
//!
//! Otherwise (the in-process bus, numbered by SQLite's change log) the bus delivers changes as
//! writers publish them, which is not always in sequence order (two writes commit in one order
//! and publish in the other). The feed puts them back in order: a change that arrives early
//! waits for the ones before it; a gap that is not filled within [`GAP_WAIT`] (a publish lost,
//! the bus lagged) is read from the store's change log, once for everybody. Clients then follow
//! one broadcast of ready-to-send items.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::body::Bytes;
use futures::StreamExt;
use tokio::sync::broadcast;

use super::api::environment_models::EnvironmentResponse;
use crate::{
    ports::{BusMessage, EnvironmentChange},
    service::{Context, changes::Since},
};

/// How long an early change waits for the ones before it before the gap is read from the log.
const GAP_WAIT: Duration = Duration::from_millis(50);
/// Items kept for clients that fall behind; beyond that they catch up from the store.
const CAPACITY: usize = 4096;

/// One change, as SSE clients receive it.
#[derive(Debug)]
pub struct FeedItem {
    pub seq: u64,
    pub environment_id: String,
    pub repository_id: String,
    /// Not a change: changes were lost to the log's trimming, and every client should re-read
    /// what it shows (`event: resync`).
    pub resync: bool,
    /// The whole SSE frame (`event`, `id`, `data` = the `EnvironmentResponse`), formatted once
    /// and shared by every client (sending it copies nothing).
    pub frame: Bytes,
}

impl FeedItem {
    /// Tells clients to re-read the list: changes up to `seq` are no longer in the log.
    pub fn resync(seq: u64) -> Self {
        let frame = format!(
            "event: resync\nid: {seq}\ndata: {{\"reason\":\"changes were missed; re-read the environments\"}}\n\n"
        );
        Self {
            seq,
            environment_id: String::new(),
            repository_id: String::new(),
            resync: true,
            frame: Bytes::from(frame),
        }
    }

    pub fn new(change: &EnvironmentChange, ctx: &Context) -> Self {
        let body =
            EnvironmentResponse::new(&change.environment, &ctx.settings, ctx.ports.clock.now());
        // JSON has no raw newlines, so the data fits one `data:` line.
        let json = serde_json::to_string(&body).unwrap_or_default();
        let frame = format!("event: environment\nid: {}\ndata: {json}\n\n", change.seq);
        Self {
            seq: change.seq,
            environment_id: change.environment.id.to_string(),
            repository_id: change.environment.repository_id.clone(),
            resync: false,
            frame: Bytes::from(frame),
        }
    }
}

/// The feed's handle: subscribe to it.
#[derive(Clone)]
pub struct ChangeFeed {
    tx: broadcast::Sender<Arc<FeedItem>>,
}

impl ChangeFeed {
    /// Starts following the bus from the store's newest change.
    pub fn start(ctx: Context) -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        let feed = Self { tx: tx.clone() };
        tokio::spawn(run(ctx, tx));
        feed
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FeedItem>> {
        self.tx.subscribe()
    }
}

async fn run(ctx: Context, tx: broadcast::Sender<Arc<FeedItem>>) {
    // Subscribed before the log position is read, so nothing falls between the two.
    let bus = ctx.ports.bus.subscribe();
    let last = loop {
        match ctx.changes.latest().await {
            Ok(n) => break n,
            Err(e) => {
                tracing::warn!(error = %e, "change feed cannot start yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    if ctx.changes.ordered_by_bus() {
        follow_log(ctx, tx, bus, last).await;
    } else {
        reorder(ctx, tx, bus, last).await;
    }
}

/// Sends `change` to the clients. With none subscribed it is not even serialized: a client
/// that subscribes later reads the log position after subscribing, and starts past it.
fn send(tx: &broadcast::Sender<Arc<FeedItem>>, change: &EnvironmentChange, ctx: &Context) {
    if tx.receiver_count() > 0 {
        let _ = tx.send(Arc::new(FeedItem::new(change, ctx)));
    }
}

/// Changes arrive in log order: forward them; after a lag, read the log.
async fn follow_log(
    ctx: Context,
    tx: broadcast::Sender<Arc<FeedItem>>,
    mut bus: futures::stream::BoxStream<'static, BusMessage>,
    mut last: u64,
) {
    const PAGE: u32 = 1000;
    while let Some(message) = bus.next().await {
        match message {
            BusMessage::Change(c) if c.seq <= last => {}
            BusMessage::Change(c) => {
                last = c.seq;
                send(&tx, &c, &ctx);
            }
            BusMessage::Lagged => loop {
                match ctx.changes.since(last, PAGE).await {
                    Ok(Since::Changes(changes)) => {
                        for c in &changes {
                            last = c.seq;
                            send(&tx, c, &ctx);
                        }
                        if changes.len() < PAGE as usize {
                            break;
                        }
                    }
                    Ok(Since::Trimmed) => {
                        last = ctx.changes.latest().await.unwrap_or(last);
                        tracing::warn!(
                            "the change feed fell behind the log's trimming; clients resync"
                        );
                        let _ = tx.send(Arc::new(FeedItem::resync(last)));
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "change feed could not read the log; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            },
        }
    }
}

/// Changes arrive in publish order: put them back in sequence order.
async fn reorder(
    ctx: Context,
    tx: broadcast::Sender<Arc<FeedItem>>,
    mut bus: futures::stream::BoxStream<'static, BusMessage>,
    mut last: u64,
) {
    let mut early: BTreeMap<u64, Box<EnvironmentChange>> = BTreeMap::new();
    let mut gap_since: Option<tokio::time::Instant> = None;
    loop {
        let wait = gap_since.map(|t| t + GAP_WAIT);
        let message = match wait {
            Some(deadline) => tokio::select! {
                m = bus.next() => m,
                _ = tokio::time::sleep_until(deadline) => Some(BusMessage::Lagged),
            },
            None => bus.next().await,
        };
        match message {
            Some(BusMessage::Change(c)) if c.seq <= last => {}
            Some(BusMessage::Change(c)) => {
                early.insert(c.seq, c);
            }
            Some(BusMessage::Lagged) => {
                // A gap nobody filled: read it from the change log, once for every client.
                match ctx.changes.since(last, 1000).await {
                    Ok(Since::Trimmed) => {}
                    Ok(Since::Changes(changes)) => {
                        for c in changes {
                            early.insert(c.seq, Box::new(c));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "change feed could not read the log"),
                }
                // What the log does not have yet was not committed: wait for it again.
                if early.first_key_value().is_some_and(|(s, _)| *s != last + 1) {
                    last = early.first_key_value().map_or(last, |(s, _)| s - 1);
                }
            }
            None => return,
        }
        while let Some(entry) = early.first_entry() {
            if *entry.key() != last + 1 {
                break;
            }
            let change = entry.remove();
            last = change.seq;
            send(&tx, &change, &ctx);
        }
        early.retain(|s, _| *s > last);
        gap_since = if early.is_empty() {
            None
        } else {
            Some(gap_since.unwrap_or_else(tokio::time::Instant::now))
        };
    }
}
