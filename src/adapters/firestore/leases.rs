//! Leases on Firestore: one `reconcile_leases/{key}` document per environment being reconciled,
//! taken and given back in transactions (a worker contends only with workers reconciling the
//! same environment). A TTL policy on `expires_at` removes what dead workers left.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use firestore::FirestoreDb;
use futures::FutureExt;
use serde::{Deserialize, Serialize};

use super::{LEASES, fs_err, read, transaction};
use crate::ports::{Leases, store::StoreResult};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeaseDoc {
    holder: String,
    #[serde(with = "firestore::serialize_as_timestamp")]
    expires_at: jiff::Timestamp,
}

fn timestamp(t: chrono::DateTime<Utc>) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(t.timestamp_micros()).unwrap_or(jiff::Timestamp::MAX)
}

pub struct FirestoreLeases {
    db: FirestoreDb,
}

impl FirestoreLeases {
    pub fn new(db: FirestoreDb) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Leases for FirestoreLeases {
    async fn acquire(&self, key: &str, holder: &str, ttl: Duration) -> StoreResult<bool> {
        // Every worker hears of a change at once: a plain read turns the losers away without a
        // transaction, so only a lease that looks free is contended for.
        let seen: Option<LeaseDoc> = read(&self.db, LEASES, key).await.map_err(fs_err)?;
        if seen.is_some_and(|l| l.holder != holder && l.expires_at > timestamp(Utc::now())) {
            return Ok(false);
        }
        transaction(&self.db, |db, tx| {
            let (key, holder) = (key.to_owned(), holder.to_owned());
            async move {
                let now = Utc::now();
                let held: Option<LeaseDoc> = read(&db, LEASES, &key).await?;
                if held.is_some_and(|l| l.holder != holder && l.expires_at > timestamp(now)) {
                    return Ok(false);
                }
                let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
                let doc = LeaseDoc {
                    holder,
                    expires_at: timestamp(until),
                };
                db.fluent()
                    .update()
                    .in_col(LEASES)
                    .document_id(&key)
                    .object(&doc)
                    .add_to_transaction(tx)?;
                Ok(true)
            }
            .boxed()
        })
        .await
    }

    async fn release(&self, key: &str, holder: &str) -> StoreResult<()> {
        transaction(&self.db, |db, tx| {
            let (key, holder) = (key.to_owned(), holder.to_owned());
            async move {
                let held: Option<LeaseDoc> = read(&db, LEASES, &key).await?;
                if held.is_some_and(|l| l.holder == holder) {
                    db.fluent()
                        .delete()
                        .from(LEASES)
                        .document_id(&key)
                        .add_to_transaction(tx)?;
                }
                Ok(())
            }
            .boxed()
        })
        .await
    }
}
