//! The change feed of one process: every environment change, in change-log order, serialized
//! once, for all of this process's SSE clients.
//!
//! The bus delivers changes as writers publish them, which is not always in sequence order
//! (two writes commit in one order and publish in the other). The feed puts them back in order:
//! a change that arrives early waits for the ones before it; a gap that is not filled within
//! [`GAP_WAIT`] (a publish lost, the bus lagged) is read from the store's change log, once for
//! everybody. Clients then follow one broadcast of ready-to-send items.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use axum::body::Bytes;
use futures::StreamExt;
use tokio::sync::broadcast;

use super::api::environment_models::EnvironmentResponse;
use crate::{
    ports::{BusMessage, EnvironmentChange},
    service::Context,
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
    /// The whole SSE frame (`event`, `id`, `data` = the `EnvironmentResponse`), formatted once
    /// and shared by every client (sending it copies nothing).
    pub frame: Bytes,
}

impl FeedItem {
    pub fn new(change: &EnvironmentChange, ctx: &Context) -> Self {
        let body = EnvironmentResponse::new(&change.environment, &ctx.settings);
        // JSON has no raw newlines, so the data fits one `data:` line.
        let json = serde_json::to_string(&body).unwrap_or_default();
        let frame = format!("event: environment\nid: {}\ndata: {json}\n\n", change.seq);
        Self {
            seq: change.seq,
            environment_id: change.environment.id.to_string(),
            repository_id: change.environment.repository_id.clone(),
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
    let mut bus = ctx.ports.bus.subscribe();
    let mut last = loop {
        match ctx.ports.store.latest_change_seq().await {
            Ok(n) => break n,
            Err(e) => {
                tracing::warn!(error = %e, "change feed cannot start yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
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
                match ctx.ports.store.changes_since(last, 1000).await {
                    Ok(changes) => {
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
            let _ = tx.send(Arc::new(FeedItem::new(&change, &ctx)));
        }
        early.retain(|s, _| *s > last);
        gap_since = if early.is_empty() {
            None
        } else {
            Some(gap_since.unwrap_or_else(tokio::time::Instant::now))
        };
    }
}
