//! The Bus on a Redis Stream: the change log of every replica, and its fan-out.
//!
//! A change is appended with `XADD` (trimmed with `MAXLEN ~`); Redis numbers it, so environment
//! writes share no counter and contend only with writes of the same environment. The stream id
//! `ms-n` is the SSE event id `ms * 1_000_000 + n` (increasing, not consecutive). Each process
//! reads the stream with one blocking `XREAD` from the last id it saw and fans changes out to its
//! local subscribers; after a dropped connection it reconnects with backoff, goes on from that
//! id, and tells subscribers they `Lagged` (they check the log with [`Bus::since`], which says
//! `Trimmed` when what they missed is gone).

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use backon::{BackoffBuilder, ExponentialBuilder};
use futures::{StreamExt, stream::BoxStream};
use redis::{
    AsyncCommands, AsyncConnectionConfig,
    aio::ConnectionManager,
    streams::{StreamId, StreamMaxlen, StreamRangeReply, StreamReadOptions, StreamReadReply},
};
use tokio::sync::broadcast;
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

use crate::ports::{
    bus::{Bus, BusError, BusMessage, Since},
    store::EnvironmentChange,
};

/// About how many changes the stream keeps (`MAXLEN ~`): days of lifecycle changes, minutes of
/// a storm. A client further behind gets `resync`.
const KEEP: usize = 100_000;
/// How long one `XREAD` blocks before it is sent again.
const BLOCK: Duration = Duration::from_secs(5);
/// The field of a stream entry that holds the change, as JSON.
const FIELD: &str = "c";

/// `ms-n` as one increasing number.
pub fn seq_of(id: &str) -> Option<u64> {
    let (ms, n) = id.split_once('-')?;
    let n: u64 = n.parse().ok().filter(|n| *n < 1_000_000)?;
    ms.parse::<u64>()
        .ok()?
        .checked_mul(1_000_000)?
        .checked_add(n)
}

/// The stream id of an event id.
pub fn id_of(seq: u64) -> String {
    format!("{}-{}", seq / 1_000_000, seq % 1_000_000)
}

fn unavailable(e: impl Into<anyhow::Error>) -> BusError {
    BusError::Unavailable(e.into())
}

/// The change an entry holds, numbered by its id.
fn decode(entry: &StreamId) -> Option<EnvironmentChange> {
    let seq = seq_of(&entry.id)?;
    let json: String = entry.get(FIELD)?;
    match serde_json::from_str::<EnvironmentChange>(&json) {
        Ok(mut change) => {
            change.seq = seq;
            Some(change)
        }
        Err(e) => {
            tracing::warn!(id = %entry.id, error = %e, "ignoring an unreadable change");
            None
        }
    }
}

pub struct RedisBus {
    conn: ConnectionManager,
    key: String,
    local: broadcast::Sender<BusMessage>,
}

impl RedisBus {
    /// Connects to `url` and starts following stream `key` from its end.
    pub async fn connect(url: &str, key: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("--redis-url is not a Redis URL: {e}"))?;
        let conn = ConnectionManager::new(client.clone()).await?;
        let (local, _) = broadcast::channel(8192);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(listen(client, key.to_owned(), local.clone(), ready_tx));
        // Changes appended before the reader knows where the stream ends would be missed.
        let _ = tokio::time::timeout(Duration::from_secs(5), ready_rx).await;
        Ok(Self {
            conn,
            key: key.to_owned(),
            local,
        })
    }
}

/// The newest entry's id, `0-0` when there is none.
async fn newest_id(
    conn: &mut impl redis::aio::ConnectionLike,
    key: &str,
) -> redis::RedisResult<String> {
    let reply: StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(key)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(reply
        .ids
        .first()
        .map_or_else(|| "0-0".to_owned(), |e| e.id.clone()))
}

async fn listen(
    client: redis::Client,
    key: String,
    local: broadcast::Sender<BusMessage>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut last: Option<String> = None;
    let policy = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times();
    let mut backoff = policy.build();
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(BLOCK * 2));
    loop {
        match client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(mut conn) => {
                // Named, so operators (and tests) can tell the reader from other connections.
                let _: redis::RedisResult<()> = redis::cmd("CLIENT")
                    .arg("SETNAME")
                    .arg(format!(
                        "blueberry-changes-{}",
                        key.replace([' ', '\n'], "_")
                    ))
                    .query_async(&mut conn)
                    .await;
                let from = match &last {
                    Some(id) => Ok(id.clone()),
                    None => newest_id(&mut conn, &key).await,
                };
                match from {
                    Ok(from) => {
                        backoff = policy.build();
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        } else {
                            tracing::info!("Redis change stream reader restored");
                            let _ = local.send(BusMessage::Lagged);
                        }
                        last = Some(from);
                        read(&mut conn, &key, &mut last, &local).await;
                        tracing::warn!("Redis change stream reader lost; reconnecting");
                        let _ = local.send(BusMessage::Lagged);
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the Redis change stream failed"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "connecting to Redis for the change stream failed")
            }
        }
        let delay = backoff.next().unwrap_or(Duration::from_secs(5));
        tokio::time::sleep(delay).await;
    }
}

/// Reads the stream after `last` until the connection fails.
async fn read(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
    last: &mut Option<String>,
    local: &broadcast::Sender<BusMessage>,
) {
    let options = StreamReadOptions::default()
        .block(BLOCK.as_millis() as usize)
        .count(1000);
    loop {
        let after = last.clone().unwrap_or_else(|| "0-0".to_owned());
        let reply: redis::RedisResult<Option<StreamReadReply>> =
            conn.xread_options(&[key], &[after], &options).await;
        match reply {
            Ok(None) => {}
            Ok(Some(reply)) => {
                for entry in reply.keys.iter().flat_map(|k| &k.ids) {
                    *last = Some(entry.id.clone());
                    if let Some(change) = decode(entry) {
                        let _ = local.send(BusMessage::Change(Box::new(change)));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the Redis change stream failed");
                return;
            }
        }
    }
}

/// Whether `XINFO STREAM` says entries after `after` were trimmed. Trimming removes the oldest
/// entries, so it did when some were removed and `after` is older than the first one kept (a
/// reader exactly at the last removed entry is told so too: a spare resync, never a gap).
fn trimmed_after(info: &HashMap<String, redis::Value>, after: u64) -> bool {
    let number = |field: &str| {
        info.get(field)
            .and_then(|v| redis::from_redis_value_ref::<u64>(v).ok())
            .unwrap_or(0)
    };
    let id = |field: &str| {
        info.get(field)
            .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
            .and_then(|id| seq_of(&id))
            .unwrap_or(0)
    };
    let (length, added) = (number("length"), number("entries-added"));
    if added <= length {
        return false;
    }
    if length == 0 {
        return after < id("last-generated-id");
    }
    after < id("recorded-first-entry-id")
}

#[async_trait]
impl Bus for RedisBus {
    async fn publish(&self, change: &EnvironmentChange) -> Result<(), BusError> {
        let payload = serde_json::to_string(change).map_err(unavailable)?;
        let mut conn = self.conn.clone();
        let _: Option<String> = conn
            .xadd_maxlen(
                &self.key,
                StreamMaxlen::Approx(KEEP),
                "*",
                &[(FIELD, payload)],
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn subscribe(&self) -> BoxStream<'static, BusMessage> {
        BroadcastStream::new(self.local.subscribe())
            .map(|r| match r {
                Ok(m) => m,
                Err(BroadcastStreamRecvError::Lagged(_)) => BusMessage::Lagged,
            })
            .boxed()
    }

    fn keeps_log(&self) -> bool {
        true
    }

    async fn since(&self, after: u64, limit: u32) -> Result<Since, BusError> {
        let mut conn = self.conn.clone();
        let info: redis::RedisResult<HashMap<String, redis::Value>> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(&self.key)
            .query_async(&mut conn)
            .await;
        match info {
            Ok(info) if trimmed_after(&info, after) => return Ok(Since::Trimmed),
            Ok(_) => {}
            // No stream yet: nothing was ever trimmed.
            Err(e) if e.to_string().contains("no such key") => {}
            Err(e) => return Err(unavailable(e)),
        }
        let reply: StreamRangeReply = conn
            .xrange_count(&self.key, format!("({}", id_of(after)), "+", limit)
            .await
            .map_err(unavailable)?;
        Ok(Since::Changes(
            reply.ids.iter().filter_map(decode).collect(),
        ))
    }

    async fn latest(&self) -> Result<u64, BusError> {
        let mut conn = self.conn.clone();
        let id = newest_id(&mut conn, &self.key).await.map_err(unavailable)?;
        Ok(seq_of(&id).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_and_event_ids_convert_both_ways_in_order() {
        assert_eq!(seq_of("1733150000000-3"), Some(1_733_150_000_000_000_003));
        assert_eq!(id_of(1_733_150_000_000_000_003), "1733150000000-3");
        assert_eq!(seq_of("0-0"), Some(0));
        assert!(seq_of("1-2").unwrap() < seq_of("1-3").unwrap());
        assert!(seq_of("1-999999").unwrap() < seq_of("2-0").unwrap());
        assert_eq!(seq_of("1-1000000"), None);
        assert_eq!(seq_of("garbage"), None);
        assert_eq!(seq_of("99999999999999999-0"), None);
    }
}
