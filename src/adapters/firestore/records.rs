//! Audit entries, API tokens and notification subscriptions on Firestore.

use chrono::{DateTime, Utc};
use firestore::FirestoreDb;
use serde::{Deserialize, Serialize};

use super::{AUDIT, SUBSCRIPTIONS, TOKENS, catalog::JsonDoc, corrupt, fs_err, ts};
use crate::{
    domain::{auth::ApiToken, notification::Subscription},
    ports::store::{AuditEntry, StoreError, StoreResult},
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
    if create {
        db.fluent()
            .insert()
            .into(TOKENS)
            .document_id(&doc.id)
            .object(&doc)
            .execute::<TokenDoc>()
            .await
            .map(|_| ())
            .map_err(fs_err)
    } else {
        let exists: Option<TokenDoc> = db
            .fluent()
            .select()
            .by_id_in(TOKENS)
            .obj()
            .one(&doc.id)
            .await
            .map_err(fs_err)?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("token `{}`", doc.id)));
        }
        db.fluent()
            .update()
            .in_col(TOKENS)
            .document_id(&doc.id)
            .object(&doc)
            .execute::<TokenDoc>()
            .await
            .map(|_| ())
            .map_err(fs_err)
    }
}

pub async fn find_token_by_hash(db: &FirestoreDb, hash: &str) -> StoreResult<Option<ApiToken>> {
    let docs: Vec<JsonDoc> = db
        .fluent()
        .select()
        .from(TOKENS)
        .filter(|q| q.for_all([q.field("hash").eq(hash.to_owned())]))
        .limit(1)
        .obj()
        .query()
        .await
        .map_err(fs_err)?;
    docs.first()
        .map(|d| serde_json::from_str(&d.doc).map_err(corrupt))
        .transpose()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SubscriptionDoc {
    id: String,
    /// Listed by name like the other catalog collections.
    name: String,
    doc: String,
}

/// Creates (Conflict if the id exists) or replaces (NotFound once deleted) in one transaction.
pub async fn put_subscription(db: &FirestoreDb, s: &Subscription, create: bool) -> StoreResult<()> {
    let doc = SubscriptionDoc {
        id: s.id.clone(),
        name: s.id.clone(),
        doc: serde_json::to_string(s).map_err(corrupt)?,
    };
    if create {
        return db
            .fluent()
            .insert()
            .into(SUBSCRIPTIONS)
            .document_id(&doc.id)
            .object(&doc)
            .execute::<SubscriptionDoc>()
            .await
            .map(|_| ())
            .map_err(fs_err);
    }
    let exists: Option<SubscriptionDoc> = db
        .fluent()
        .select()
        .by_id_in(SUBSCRIPTIONS)
        .obj()
        .one(&doc.id)
        .await
        .map_err(fs_err)?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("subscription `{}`", doc.id)));
    }
    db.fluent()
        .update()
        .in_col(SUBSCRIPTIONS)
        .document_id(&doc.id)
        .object(&doc)
        .execute::<SubscriptionDoc>()
        .await
        .map(|_| ())
        .map_err(fs_err)
}

pub async fn delete_subscription(db: &FirestoreDb, id: &str) -> StoreResult<()> {
    let exists: Option<SubscriptionDoc> = db
        .fluent()
        .select()
        .by_id_in(SUBSCRIPTIONS)
        .obj()
        .one(id)
        .await
        .map_err(fs_err)?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!("subscription `{id}`")));
    }
    db.fluent()
        .delete()
        .from(SUBSCRIPTIONS)
        .document_id(id)
        .execute()
        .await
        .map_err(fs_err)
}
