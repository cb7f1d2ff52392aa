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

/// Most expired delivery ids one purge removes: after a quiet spell the backlog is spread over
/// several purges instead of holding up one transaction of deliveries.
const PURGE_LIMIT: i64 = 4096;

/// Removes expired delivery ids, oldest first, at most [`PURGE_LIMIT`] (run now and then, not
/// on every delivery). Reads only the expired ones (`webhook_deliveries_by_expiry`).
pub(super) const FORGET_EXPIRED: &str = "DELETE FROM webhook_deliveries WHERE rowid IN
     (SELECT rowid FROM webhook_deliveries WHERE expires_at <= ?1
      ORDER BY expires_at LIMIT ?2)";

pub fn forget_expired(c: &Connection, now: DateTime<Utc>) -> StoreResult<usize> {
    c.prepare_cached(FORGET_EXPIRED)
        .and_then(|mut s| s.execute(params![ts(now), PURGE_LIMIT]))
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn deliveries(c: &Connection) -> i64 {
        c.query_row("SELECT count(*) FROM webhook_deliveries", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn forgetting_expired_deliveries_reads_only_the_expired_ones() {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut c).unwrap();
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {FORGET_EXPIRED}"))
            .unwrap()
            .query_map(params!["2026-12-04T00:00:00Z", PURGE_LIMIT], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("USING") && step.contains("webhook_deliveries_by_expiry")),
            "the purge scans every delivery id: {plan:?}"
        );
    }

    #[test]
    fn a_purge_removes_the_oldest_expired_ids_up_to_its_limit_and_keeps_the_rest() {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut c).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let expired = PURGE_LIMIT + 10;
        for i in 0..expired + 5 {
            // The first `expired` ran out before `now` (a second apart); five run out later.
            let at = now + chrono::Duration::seconds(i + 1 - expired);
            c.execute(
                "INSERT INTO webhook_deliveries (key, expires_at) VALUES (?1, ?2)",
                params![format!("r:{i}"), ts(at)],
            )
            .unwrap();
        }
        assert_eq!(forget_expired(&c, now).unwrap() as i64, PURGE_LIMIT);
        // The newest expired ones are left for the next purge.
        let oldest: String = c
            .query_row("SELECT min(expires_at) FROM webhook_deliveries", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(oldest, ts(now - chrono::Duration::seconds(9)));
        assert_eq!(deliveries(&c), 15);
        assert_eq!(forget_expired(&c, now).unwrap(), 10);
        assert_eq!(deliveries(&c), 5);
        assert_eq!(forget_expired(&c, now).unwrap(), 0);
    }
}
