//! Webhook deliveries on SQLite: the delivery id, the merge request's newest event and the job,
//! in one transaction (the writer's).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{PURGE_EVERY, SqliteStore, db_err, queue::insert_job, ts};
use crate::ports::store::{
    DeliveryLog, IngestOutcome, Outbox, OutboxEntry, StoreResult, WebhookIngest,
};

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

#[async_trait]
impl DeliveryLog for SqliteStore {
    async fn ingest_webhook(
        &self,
        ingest: &WebhookIngest,
    ) -> StoreResult<(IngestOutcome, Vec<OutboxEntry>)> {
        let delivery = ingest.clone();
        let purge = self
            .ingested
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .is_multiple_of(PURGE_EVERY);
        let outcome = self
            .db
            .write(move |c| {
                if purge {
                    forget_expired(c, Utc::now())?;
                }
                self::ingest(c, &delivery, Utc::now())
            })
            .await?;
        if outcome == IngestOutcome::Queued {
            self.db.jobs_added().notify_waiters();
        }
        Ok((outcome, vec![]))
    }

    async fn merge_request_keys(&self, after: &str, limit: u32) -> StoreResult<Vec<String>> {
        let after = after.to_owned();
        self.db
            .read(move |c| merge_request_keys(c, &after, limit))
            .await
    }

    async fn merge_request_event(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.db.read(move |c| merge_request_event(c, &key)).await
    }
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn outbox_pending(
        &self,
        _before: DateTime<Utc>,
        _limit: u32,
    ) -> StoreResult<Vec<OutboxEntry>> {
        // Jobs are written straight into the queue's table, in the same transaction.
        Ok(vec![])
    }

    async fn outbox_delete(&self, _ids: &[String]) -> StoreResult<()> {
        Ok(())
    }
}
