//! The embedded durable job queue: a `jobs` table in the store's SQLite file.
//!
//! Delivery is at least once: a receiver leases a job until a deadline; a lease that expires
//! (the worker crashed or was killed) makes the job deliverable again. A key's jobs are
//! delivered one at a time, strictly in publish order (a job waiting for its redelivery holds
//! the ones behind it, as Pub/Sub's ordering keys do).
//! A job delivered more than `max_deliveries` times without an ack is moved to the dead state.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Db, db_err, run, ts};
use crate::{
    clock::Clock,
    ports::{
        queue::{Delivery, NewJob, Queue, QueueDepth, QueueError, QueueResult},
        store::{StoreError, StoreResult},
    },
};

/// How often an idle receiver looks again for jobs published by other processes or coming due.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct SqliteQueue {
    db: Db,
    clock: Arc<dyn Clock>,
    max_deliveries: u32,
}

/// Merges a job into the one with its coalescing key that waits last in its order.
pub(super) const COALESCE: &str = "UPDATE jobs SET not_before = MIN(not_before, ?2)
     WHERE coalesce_key = ?1 AND state = 'queued'
       AND NOT EXISTS (SELECT 1 FROM jobs k
                       WHERE k.ordering_key = jobs.ordering_key AND k.id > jobs.id
                         AND k.state IN ('queued', 'leased'))";

/// Adds `job` to the queue inside the caller's transaction. A job with a coalescing key that
/// already waits (queued, not leased) as the last job of its ordering key is not added again;
/// the waiting one becomes due at the earlier of the two times. (Merging into a job with
/// others queued behind it would reorder them.)
pub(crate) fn insert_job(c: &Connection, job: &NewJob, now: DateTime<Utc>) -> StoreResult<()> {
    let not_before = ts(job.not_before.unwrap_or(now).max(now));
    if let Some(key) = &job.coalesce_key {
        let merged = c
            .prepare_cached(COALESCE)
            .and_then(|mut s| s.execute(params![key, not_before]))
            .map_err(db_err)?;
        if merged > 0 {
            return Ok(());
        }
    }
    c.prepare_cached(
        "INSERT INTO jobs (ordering_key, payload, not_before, created_at, coalesce_key)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            job.ordering_key,
            job.payload.to_string(),
            not_before,
            ts(now),
            job.coalesce_key
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

fn unavailable(e: StoreError) -> QueueError {
    QueueError::Unavailable(anyhow::Error::new(e))
}

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl SqliteQueue {
    pub fn new(db: Db, clock: Arc<dyn Clock>, max_deliveries: u32) -> Self {
        Self {
            db,
            clock,
            max_deliveries,
        }
    }

    /// Makes every leased job deliverable again. The embedded queue belongs to one process, so
    /// at start-up any lease is a leftover of a previous run that crashed or was killed.
    pub async fn release_all_leases(&self) -> QueueResult<u64> {
        self.db
            .write(|c| {
                run(
                    c,
                    "UPDATE jobs SET state = 'queued', lease_token = NULL WHERE state = 'leased'",
                    [],
                )
                .map(|n| n as u64)
                .map_err(db_err)
            })
            .await
            .map_err(unavailable)
    }

    async fn try_lease(&self, lease: Duration) -> QueueResult<Option<Delivery>> {
        let now = self.clock.now();
        let (now_s, until) = (ts(now), ts(now + chrono_dur(lease)));
        let max = i64::from(self.max_deliveries);
        self.db
            .write(move |tx| {
                run(
                    tx,
                    "UPDATE jobs SET state = 'queued', lease_token = NULL
                     WHERE state = 'leased' AND lease_expires_at <= ?1",
                    [&now_s],
                )
                .map_err(db_err)?;
                loop {
                    let next = tx
                        .prepare_cached(
                            "SELECT id, ordering_key, payload, deliveries FROM jobs j
                             WHERE state = 'queued' AND not_before <= ?1
                               AND NOT EXISTS (SELECT 1 FROM jobs k
                                               WHERE k.ordering_key = j.ordering_key
                                                 AND (k.state = 'leased'
                                                      OR (k.state = 'queued' AND k.id < j.id)))
                             ORDER BY not_before, id LIMIT 1",
                        )
                        .and_then(|mut s| s.query_row(
                            [&now_s],
                            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?)),
                        ).optional())
                        .map_err(db_err)?;
                    let Some((id, key, payload, deliveries)) = next else {
                        return Ok(None);
                    };
                    if deliveries >= max {
                        run(
                            tx,
                            "UPDATE jobs SET state = 'dead', last_error = 'too many deliveries' WHERE id = ?1",
                            [id],
                        )
                        .map_err(db_err)?;
                        tracing::warn!(job = id, ordering_key = %key, deliveries, "job moved to dead letters");
                        continue;
                    }
                    let token = uuid::Uuid::new_v4().to_string();
                    run(
                        tx,
                        "UPDATE jobs SET state = 'leased', deliveries = deliveries + 1,
                                lease_token = ?2, lease_expires_at = ?3 WHERE id = ?1",
                        params![id, token, until],
                    )
                    .map_err(db_err)?;
                    let payload = serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Corrupt(format!("job {id}: {e}")))?;
                    return Ok(Some(Delivery {
                        id: id.to_string(),
                        ordering_key: key,
                        payload,
                        delivery_attempt: (deliveries + 1) as u32,
                        lease_token: token,
                    }));
                }
            })
            .await
            .map_err(unavailable)
    }

    /// Runs `sql` against the delivery's row if its lease is still held.
    async fn with_lease(
        &self,
        d: &Delivery,
        sql: &'static str,
        extra: Option<String>,
    ) -> QueueResult<()> {
        let (id, token) = (d.id.clone(), d.lease_token.clone());
        let n = self
            .db
            .write(move |c| {
                match extra {
                    Some(x) => run(c, sql, params![id, token, x]),
                    None => run(c, sql, params![id, token]),
                }
                .map_err(db_err)
            })
            .await
            .map_err(unavailable)?;
        if n == 0 {
            Err(QueueError::LeaseLost)
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn enqueue(&self, job: NewJob) -> QueueResult<String> {
        let now = self.clock.now();
        let id = self
            .db
            .write(move |c| {
                insert_job(c, &job, now)?;
                Ok(c.last_insert_rowid())
            })
            .await
            .map_err(unavailable)?;
        self.db.jobs_added().notify_waiters();
        Ok(id.to_string())
    }

    async fn receive(&self, lease: Duration, max_wait: Duration) -> QueueResult<Option<Delivery>> {
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let notified = self.db.jobs_added().notified();
            if let Some(d) = self.try_lease(lease).await? {
                return Ok(Some(d));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let _ = tokio::time::timeout((deadline - now).min(POLL_INTERVAL), notified).await;
        }
    }

    async fn ack(&self, d: &Delivery) -> QueueResult<()> {
        self.with_lease(
            d,
            "DELETE FROM jobs WHERE id = ?1 AND lease_token = ?2",
            None,
        )
        .await?;
        self.db.jobs_added().notify_waiters();
        Ok(())
    }

    async fn nack(&self, d: &Delivery, delay: Duration) -> QueueResult<()> {
        let due = ts(self.clock.now() + chrono_dur(delay));
        self.with_lease(
            d,
            "UPDATE jobs SET state = 'queued', lease_token = NULL, not_before = ?3
             WHERE id = ?1 AND lease_token = ?2",
            Some(due),
        )
        .await?;
        self.db.jobs_added().notify_waiters();
        Ok(())
    }

    async fn defer(&self, d: &Delivery, delay: Duration) -> QueueResult<()> {
        let due = ts(self.clock.now() + chrono_dur(delay));
        self.with_lease(
            d,
            "UPDATE jobs SET state = 'queued', lease_token = NULL, not_before = ?3,
                    deliveries = MAX(deliveries - 1, 0)
             WHERE id = ?1 AND lease_token = ?2",
            Some(due),
        )
        .await?;
        self.db.jobs_added().notify_waiters();
        Ok(())
    }

    async fn extend_lease(&self, d: &Delivery, lease: Duration) -> QueueResult<()> {
        let until = ts(self.clock.now() + chrono_dur(lease));
        self.with_lease(
            d,
            "UPDATE jobs SET lease_expires_at = ?3 WHERE id = ?1 AND lease_token = ?2 AND state = 'leased'",
            Some(until),
        )
        .await
    }

    async fn depth(&self) -> QueueResult<QueueDepth> {
        let now = ts(self.clock.now());
        self.db
            .read(move |c| {
                c.prepare_cached(
                    "SELECT
                        COALESCE(SUM(state = 'queued' AND not_before <= ?1), 0),
                        COALESCE(SUM(state = 'queued' AND not_before > ?1), 0),
                        COALESCE(SUM(state = 'leased'), 0),
                        COALESCE(SUM(state = 'dead'), 0)
                     FROM jobs",
                )
                .and_then(|mut s| {
                    s.query_row([&now], |r| {
                        Ok(QueueDepth {
                            ready: r.get::<_, i64>(0)? as u64,
                            delayed: r.get::<_, i64>(1)? as u64,
                            in_flight: r.get::<_, i64>(2)? as u64,
                            dead: r.get::<_, i64>(3)? as u64,
                        })
                    })
                })
                .map_err(db_err)
            })
            .await
            .map_err(unavailable)
    }
}
