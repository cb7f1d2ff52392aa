//! Webhook deliveries on SQLite: the delivery id, the merge request's newest event and the job,
//! in one transaction (the writer's).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{db_err, queue::insert_job, ts};
use crate::ports::store::{IngestOutcome, StoreResult, WebhookIngest};

pub fn ingest(
    tx: &Connection,
    ingest: &WebhookIngest,
    now: DateTime<Utc>,
) -> StoreResult<IngestOutcome> {
    if let Some(key) = &ingest.delivery_key {
        // New, or remembered no longer (expired): taken; otherwise a redelivery.
        let taken = tx
            .prepare_cached(
                "INSERT INTO webhook_deliveries (key, expires_at) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
                 WHERE webhook_deliveries.expires_at <= ?3",
            )
            .and_then(|mut s| s.execute(params![key, ts(ingest.expires_at), ts(now)]))
            .map_err(db_err)?;
        if taken == 0 {
            return Ok(IngestOutcome::Duplicate);
        }
    }
    if let Some(mr) = &ingest.merge_request {
        // Recorded unless the stored event is newer: one statement, no read before it.
        let recorded = tx
            .prepare_cached(
                "INSERT INTO merge_request_events (key, ord, event) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET ord = excluded.ord, event = excluded.event
                 WHERE excluded.ord >= merge_request_events.ord",
            )
            .and_then(|mut s| s.execute(params![mr.key, mr.order, mr.event]))
            .map_err(db_err)?;
        if recorded == 0 {
            return Ok(IngestOutcome::Stale);
        }
    }
    insert_job(tx, &ingest.job, now)?;
    Ok(IngestOutcome::Queued)
}

pub fn merge_request_event(c: &Connection, key: &str) -> StoreResult<Option<String>> {
    c.prepare_cached("SELECT event FROM merge_request_events WHERE key = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
        .map_err(db_err)
}

pub fn merge_request_keys(c: &Connection, after: &str, limit: u32) -> StoreResult<Vec<String>> {
    let mut stmt = c
        .prepare_cached("SELECT key FROM merge_request_events WHERE key > ?1 ORDER BY key LIMIT ?2")
        .map_err(db_err)?;
    stmt.query_map(params![after, limit], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(db_err)
}

/// Expired delivery ids, removed now and then (not on every delivery).
pub fn forget_expired(c: &Connection, now: DateTime<Utc>) -> StoreResult<usize> {
    c.execute(
        "DELETE FROM webhook_deliveries WHERE expires_at <= ?1",
        [ts(now)],
    )
    .map_err(db_err)
}
