//! The transactional outbox and webhook deliveries on Firestore.
//!
//! Firestore and Pub/Sub cannot share a transaction, so a job that must happen with a change is
//! written as an `outbox` document in the change's transaction; the writer publishes it right
//! after the commit and deletes it, and a relay (`worker::relay`) publishes what a crash left
//! behind. A webhook delivery is one transaction over its delivery record (dedupe, TTL policy on
//! `expires_at`), its merge request's newest event (`merge_request_events`) and its outbox job.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use firestore::{
    FirestoreDb, FirestoreTransaction,
    errors::{BackoffError, FirestoreError},
};
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    DELIVERIES, FirestoreStore, MERGE_REQUEST_EVENTS, OUTBOX, corrupt, fs_err, permanent, read,
    transaction, ts,
};
use crate::ports::{
    queue::NewJob,
    store::{DeliveryLog, IngestOutcome, Outbox, OutboxEntry, StoreResult, WebhookIngest},
};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeliveryDoc {
    key_hash: String,
    /// A timestamp, so a Firestore TTL policy can delete expired records.
    #[serde(with = "firestore::serialize_as_timestamp")]
    expires_at: jiff::Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct MergeRequestDoc {
    /// `{repository_id}:{iid}` (the document id is its hash).
    #[serde(default)]
    key: String,
    ord: String,
    event: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OutboxDoc {
    id: String,
    /// Fixed-width RFC 3339, so string order is time order.
    created_at: String,
    job: String,
}

fn doc_id(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Adds `jobs` to the transaction as outbox documents; returns them for the caller to publish
/// after the commit.
pub fn add(
    db: &FirestoreDb,
    tx: &mut FirestoreTransaction,
    jobs: &[NewJob],
    now: DateTime<Utc>,
) -> Result<Vec<OutboxEntry>, BackoffError<FirestoreError>> {
    let mut entries = Vec::with_capacity(jobs.len());
    for job in jobs {
        let id = uuid::Uuid::new_v4().to_string();
        let doc = OutboxDoc {
            id: id.clone(),
            created_at: ts(now),
            job: serde_json::to_string(job).map_err(|e| permanent(tx, corrupt(e)))?,
        };
        db.fluent()
            .update()
            .in_col(OUTBOX)
            .document_id(&id)
            .object(&doc)
            .add_to_transaction(tx)?;
        entries.push(OutboxEntry {
            id,
            job: job.clone(),
        });
    }
    Ok(entries)
}

pub async fn ingest(
    db: &FirestoreDb,
    ingest: &WebhookIngest,
) -> StoreResult<(IngestOutcome, Vec<OutboxEntry>)> {
    transaction(db, |db, tx| {
        let ingest = ingest.clone();
        async move {
            let now = Utc::now();
            if let Some(key) = &ingest.delivery_key {
                let key_hash = doc_id(key);
                let existing: Option<DeliveryDoc> = read(&db, DELIVERIES, &key_hash).await?;
                if existing.is_some_and(|d| d.expires_at > jiff::Timestamp::now()) {
                    return Ok((IngestOutcome::Duplicate, vec![]));
                }
                let expires_at = jiff::Timestamp::from_second(ingest.expires_at.timestamp())
                    .map_err(|e| permanent(tx, corrupt(e)))?;
                let doc = DeliveryDoc {
                    key_hash: key_hash.clone(),
                    expires_at,
                };
                db.fluent()
                    .update()
                    .in_col(DELIVERIES)
                    .document_id(&key_hash)
                    .object(&doc)
                    .add_to_transaction(tx)?;
            }
            if let Some(mr) = &ingest.merge_request {
                let id = doc_id(&mr.key);
                let stored: Option<MergeRequestDoc> = read(&db, MERGE_REQUEST_EVENTS, &id).await?;
                if stored.is_some_and(|s| s.ord > mr.order) {
                    return Ok((IngestOutcome::Stale, vec![]));
                }
                let doc = MergeRequestDoc {
                    key: mr.key.clone(),
                    ord: mr.order.clone(),
                    event: mr.event.clone(),
                };
                db.fluent()
                    .update()
                    .in_col(MERGE_REQUEST_EVENTS)
                    .document_id(&id)
                    .object(&doc)
                    .add_to_transaction(tx)?;
            }
            let outbox = add(&db, tx, std::slice::from_ref(&ingest.job), now)?;
            Ok((IngestOutcome::Queued, outbox))
        }
        .boxed()
    })
    .await
}

pub async fn merge_request_event(db: &FirestoreDb, key: &str) -> StoreResult<Option<String>> {
    let doc: Option<MergeRequestDoc> = read(db, MERGE_REQUEST_EVENTS, &doc_id(key))
        .await
        .map_err(fs_err)?;
    Ok(doc.map(|d| d.event))
}

pub async fn merge_request_keys(
    db: &FirestoreDb,
    after: &str,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let docs: Vec<MergeRequestDoc> = db
        .fluent()
        .select()
        .from(MERGE_REQUEST_EVENTS)
        .filter(|q| q.for_all([q.field("key").greater_than(after.to_owned())]))
        .order(|o| o.fields([o.field("key").asc()]))
        .limit(limit)
        .obj()
        .query()
        .await
        .map_err(fs_err)?;
    Ok(docs.into_iter().map(|d| d.key).collect())
}

pub async fn pending(
    db: &FirestoreDb,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<OutboxEntry>> {
    let before = ts(before);
    let docs: Vec<OutboxDoc> = db
        .fluent()
        .select()
        .from(OUTBOX)
        .filter(|q| q.for_all([q.field("created_at").less_than(before.clone())]))
        .order(|o| o.fields([o.field("created_at").asc()]))
        .limit(limit)
        .obj()
        .query()
        .await
        .map_err(fs_err)?;
    docs.into_iter()
        .map(|d| {
            Ok(OutboxEntry {
                id: d.id,
                job: serde_json::from_str(&d.job).map_err(corrupt)?,
            })
        })
        .collect()
}

pub async fn delete(db: &FirestoreDb, ids: &[String]) -> StoreResult<()> {
    for id in ids {
        db.fluent()
            .delete()
            .from(OUTBOX)
            .document_id(id)
            .execute()
            .await
            .map_err(fs_err)?;
    }
    Ok(())
}

#[async_trait]
impl DeliveryLog for FirestoreStore {
    async fn ingest_webhook(
        &self,
        ingest: &WebhookIngest,
    ) -> StoreResult<(IngestOutcome, Vec<OutboxEntry>)> {
        self::ingest(&self.db, ingest).await
    }

    async fn merge_request_keys(&self, after: &str, limit: u32) -> StoreResult<Vec<String>> {
        merge_request_keys(&self.db, after, limit).await
    }

    async fn merge_request_event(&self, key: &str) -> StoreResult<Option<String>> {
        merge_request_event(&self.db, key).await
    }
}

#[async_trait]
impl Outbox for FirestoreStore {
    async fn outbox_pending(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<OutboxEntry>> {
        pending(&self.db, before, limit).await
    }

    async fn outbox_delete(&self, ids: &[String]) -> StoreResult<()> {
        delete(&self.db, ids).await
    }
}
