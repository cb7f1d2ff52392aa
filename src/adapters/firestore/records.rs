//! Audit entries, API tokens and notification subscriptions on Firestore.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use firestore::FirestoreDb;
use serde::{Deserialize, Serialize};

use super::{AUDIT, FirestoreStore, SUBSCRIPTIONS, TOKENS, corrupt, fs_err, read, ts};
use crate::{
    domain::{auth::ApiToken, notification::Subscription},
    ports::store::{AuditEntry, AuditLog, StoreError, StoreResult, SubscriptionStore, TokenStore},
};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AuditDoc {
    at: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

pub async fn append_audit(db: &FirestoreDb, e: &AuditEntry) -> StoreResult<()> {
    let doc = AuditDoc {
        at: ts(e.at),
        actor: e.actor.clone(),
        action: e.action.clone(),
        target: e.target.clone(),
        detail: e.detail.clone(),
    };
    db.fluent()
        .insert()
        .into(AUDIT)
        .generate_document_id()
        .object(&doc)
        .execute::<AuditDoc>()
        .await
        .map(|_| ())
        .map_err(fs_err)
}

pub async fn list_audit(db: &FirestoreDb, limit: u32) -> StoreResult<Vec<AuditEntry>> {
    let docs: Vec<AuditDoc> = db
        .fluent()
        .select()
        .from(AUDIT)
        .order(|o| o.fields([o.field("at").desc()]))
        .limit(limit)
        .obj()
        .query()
        .await
        .map_err(fs_err)?;
    docs.into_iter()
        .map(|d| {
            Ok(AuditEntry {
                at: DateTime::parse_from_rfc3339(&d.at)
                    .map_err(corrupt)?
                    .with_timezone(&Utc),
                actor: d.actor,
                action: d.action,
                target: d.target,
                detail: d.detail,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenDoc {
    id: String,
    /// Listed by name like the other catalog collections.
    name: String,
    hash: String,
    doc: String,
}

pub async fn put_token(db: &FirestoreDb, t: &ApiToken, create: bool) -> StoreResult<()> {
    let doc = TokenDoc {
        id: t.id.clone(),
        name: t.id.clone(),
        hash: t.hash.clone(),
        doc: serde_json::to_string(t).map_err(corrupt)?,
    };
    put(db, TOKENS, "token", &doc.id, &doc, create).await
}

/// Writes a record: a create (Conflict if its id exists) or a replace (NotFound if there is
/// none).
async fn put<D>(
    db: &FirestoreDb,
    collection: &str,
    what: &str,
    id: &str,
    doc: &D,
    create: bool,
) -> StoreResult<()>
where
    D: Serialize + for<'de> Deserialize<'de> + Send + Sync,
{
    if create {
        return db
            .fluent()
            .insert()
            .into(collection)
            .document_id(id)
            .object(doc)
            .execute::<D>()
            .await
            .map(|_| ())
            .map_err(fs_err);
    }
    ensure_exists::<D>(db, collection, what, id).await?;
    db.fluent()
        .update()
        .in_col(collection)
        .document_id(id)
        .object(doc)
        .execute::<D>()
        .await
        .map(|_| ())
        .map_err(fs_err)
}

/// NotFound unless the record `id` is there.
async fn ensure_exists<D>(
    db: &FirestoreDb,
    collection: &str,
    what: &str,
    id: &str,
) -> StoreResult<()>
where
    D: for<'de> Deserialize<'de> + Send,
{
    let exists: Option<D> = read(db, collection, id).await.map_err(fs_err)?;
    match exists {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("{what} `{id}`"))),
    }
}

pub async fn find_token_by_hash(db: &FirestoreDb, hash: &str) -> StoreResult<Option<ApiToken>> {
    super::catalog::find_by(db, TOKENS, "hash", hash.to_owned()).await
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SubscriptionDoc {
    id: String,
    /// Listed by name like the other catalog collections.
    name: String,
    doc: String,
}

/// Creates (Conflict if the id exists) or replaces (NotFound once deleted).
pub async fn put_subscription(db: &FirestoreDb, s: &Subscription, create: bool) -> StoreResult<()> {
    let doc = SubscriptionDoc {
        id: s.id.clone(),
        name: s.id.clone(),
        doc: serde_json::to_string(s).map_err(corrupt)?,
    };
    put(db, SUBSCRIPTIONS, "subscription", &doc.id, &doc, create).await
}

pub async fn delete_subscription(db: &FirestoreDb, id: &str) -> StoreResult<()> {
    ensure_exists::<SubscriptionDoc>(db, SUBSCRIPTIONS, "subscription", id).await?;
    db.fluent()
        .delete()
        .from(SUBSCRIPTIONS)
        .document_id(id)
        .execute()
        .await
        .map_err(fs_err)
}

#[async_trait]
impl AuditLog for FirestoreStore {
    async fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
        append_audit(&self.db, e).await
    }

    async fn list_audit(&self, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        list_audit(&self.db, limit).await
    }
}

#[async_trait]
impl TokenStore for FirestoreStore {
    async fn create_token(&self, t: &ApiToken) -> StoreResult<()> {
        put_token(&self.db, t, true).await
    }

    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        find_token_by_hash(&self.db, hash).await
    }

    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        super::catalog::get_doc(&self.db, TOKENS, id).await
    }

    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        super::catalog::list_docs(&self.db, TOKENS).await
    }

    async fn update_token(&self, t: &ApiToken) -> StoreResult<()> {
        put_token(&self.db, t, false).await
    }
}

#[async_trait]
impl SubscriptionStore for FirestoreStore {
    async fn create_subscription(&self, s: &Subscription) -> StoreResult<()> {
        put_subscription(&self.db, s, true).await
    }

    async fn get_subscription(&self, id: &str) -> StoreResult<Option<Subscription>> {
        super::catalog::get_doc(&self.db, SUBSCRIPTIONS, id).await
    }

    async fn list_subscriptions(&self) -> StoreResult<Vec<Subscription>> {
        super::catalog::list_docs(&self.db, SUBSCRIPTIONS).await
    }

    async fn update_subscription(&self, s: &Subscription) -> StoreResult<()> {
        put_subscription(&self.db, s, false).await
    }

    async fn delete_subscription(&self, id: &str) -> StoreResult<()> {
        delete_subscription(&self.db, id).await
    }
}
