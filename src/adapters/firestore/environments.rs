//! Environments and their events on Firestore. An environment write is a transaction over that
//! environment's document, its new events and its outbox jobs: nothing every write shares (the
//! change log is the Redis stream, `adapters::redis_bus`).
//!
//! Long on purpose: the write transaction and the queries (by id, by filter, expired, events) share
//! one document shape.

use chrono::{DateTime, Utc};
use firestore::{
    FirestoreDb, FirestoreQueryCursor, FirestoreTransaction,
    errors::{BackoffError, FirestoreError},
};
use futures::FutureExt;
use serde::{Deserialize, Serialize};

use super::{ENVIRONMENTS, EVENTS, corrupt, fs_err, permanent, read, transaction, ts};
use crate::{
    domain::{Environment, EnvironmentEvent, EnvironmentId, EventKind, NewEvent},
    ports::{
        queue::NewJob,
        store::{
            EnvironmentChange, EnvironmentFilter, Occupancy, Page, PageRequest, Saved, StoreError,
            StoreResult, decode_cursor,
        },
    },
};

/// An environment document: the fields queries use, plus the record as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnvDoc {
    pub id: String,
    pub repository_id: String,
    pub name: String,
    pub status: String,
    pub config_set_id: Option<String>,
    /// Fixed-width RFC 3339 UTC, so string order is time order.
    pub created_at: String,
    pub expires_at: String,
    pub version: i64,
    /// How many events the environment has (the next event's sequence is this + 1).
    pub events: i64,
    /// Every prefix of `name`, so a name-prefix listing is an `array-contains` (an equality)
    /// and pages in the same order as every other listing.
    #[serde(default)]
    pub name_prefixes: Vec<String>,
    /// Pinned against expiry (the `kept` listing filter).
    #[serde(default)]
    pub kept: bool,
    /// Asleep (the `sleeping` listing filter).
    #[serde(default)]
    pub sleeping: bool,
    /// `running`, `waiting` or `none` (terminated): the quota's listings.
    #[serde(default)]
    pub occupancy: String,
    pub doc: String,
}

/// `name`'s prefixes, shortest first (names are short DNS labels).
fn prefixes(name: &str) -> Vec<String> {
    name.char_indices()
        .map(|(i, c)| name[..i + c.len_utf8()].to_owned())
        .collect()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct EventDoc {
    environment_id: String,
    seq: i64,
    at: String,
    kind: String,
    actor: String,
    message: String,
}

fn to_env(d: &EnvDoc) -> StoreResult<Environment> {
    let mut env: Environment = serde_json::from_str(&d.doc).map_err(corrupt)?;
    env.version = d.version as u64;
    Ok(env)
}

fn kind_name(kind: EventKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Writes `events` for `id` into the transaction, numbered after `before`.
fn add_events(
    db: &FirestoreDb,
    tx: &mut FirestoreTransaction,
    id: &str,
    before: i64,
    events: &[NewEvent],
    at: &str,
) -> Result<(), BackoffError<FirestoreError>> {
    for (seq, e) in (before + 1..).zip(events) {
        let doc = EventDoc {
            environment_id: id.to_owned(),
            seq,
            at: at.to_owned(),
            kind: kind_name(e.kind),
            actor: e.actor.clone(),
            message: e.message.clone(),
        };
        db.fluent()
            .update()
            .in_col(EVENTS)
            .document_id(format!("{id}:{seq:010}"))
            .object(&doc)
            .add_to_transaction(tx)?;
    }
    Ok(())
}

pub async fn save(
    db: &FirestoreDb,
    env: &Environment,
    events: &[NewEvent],
    jobs: &[NewJob],
) -> StoreResult<Saved> {
    transaction(db, |db, tx| {
        let (env, events, jobs) = (env.clone(), events.to_vec(), jobs.to_vec());
        async move {
            let id = env.id.to_string();
            let stored: Option<EnvDoc> = read(&db, ENVIRONMENTS, &id).await?;
            let expected = env.version;
            let events_before = match (&stored, expected) {
                (Some(_), 0) => {
                    return Err(permanent(tx, StoreError::Conflict(format!("an environment with id `{id}` already exists"))));
                }
                (None, 0) => 0,
                (None, _) => return Err(permanent(tx, StoreError::NotFound(format!("environment `{id}`")))),
                (Some(s), v) if s.version as u64 != v => {
                    return Err(permanent(
                        tx,
                        StoreError::Conflict(format!("environment `{id}` was changed concurrently (version {}, expected {v})", s.version)),
                    ));
                }
                (Some(s), _) => s.events,
            };
            let mut saved = env.clone();
            saved.version = expected + 1;
            let doc = serde_json::to_string(&saved).map_err(|e| permanent(tx, corrupt(e)))?;
            let at = ts(saved.updated_at);
            let env_doc = EnvDoc {
                id: id.clone(),
                repository_id: saved.repository_id.clone(),
                name: saved.name.to_string(),
                status: saved.status.as_str().to_owned(),
                config_set_id: saved.config_set_id.clone(),
                created_at: ts(saved.created_at),
                expires_at: ts(saved.expires_at),
                version: saved.version as i64,
                events: events_before + events.len() as i64,
                name_prefixes: prefixes(saved.name.as_str()),
                kept: saved.kept.is_some(),
                sleeping: saved.asleep.is_some(),
                occupancy: Occupancy::of(&saved).map_or("none", Occupancy::as_str).into(),
                doc,
            };
            db.fluent().update().in_col(ENVIRONMENTS).document_id(&id).object(&env_doc).add_to_transaction(tx)?;
            add_events(&db, tx, &id, events_before, &events, &at)?;
            let outbox = super::outbox::add(&db, tx, &jobs, Utc::now())?;
            // Numbered by the change stream when it is published.
            Ok(Saved { change: EnvironmentChange { seq: 0, environment: saved }, outbox })
        }
        .boxed()
    }).await
}

pub async fn append_events(
    db: &FirestoreDb,
    id: &EnvironmentId,
    events: &[NewEvent],
) -> StoreResult<()> {
    transaction(db, |db, tx| {
        let (id, events) = (id.to_string(), events.to_vec());
        async move {
            let Some(mut stored) = read::<EnvDoc>(&db, ENVIRONMENTS, &id).await? else {
                return Err(permanent(
                    tx,
                    StoreError::NotFound(format!("environment `{id}`")),
                ));
            };
            add_events(&db, tx, &id, stored.events, &events, &ts(Utc::now()))?;
            stored.events += events.len() as i64;
            if stored.name_prefixes.is_empty() {
                stored.name_prefixes = prefixes(&stored.name);
            }
            db.fluent()
                .update()
                .in_col(ENVIRONMENTS)
                .document_id(&id)
                .object(&stored)
                .add_to_transaction(tx)?;
            Ok(())
        }
        .boxed()
    })
    .await
}

pub async fn get(db: &FirestoreDb, id: &str) -> StoreResult<Option<Environment>> {
    let doc: Option<EnvDoc> = read(db, ENVIRONMENTS, id).await.map_err(fs_err)?;
    doc.as_ref().map(to_env).transpose()
}

pub async fn list(
    db: &FirestoreDb,
    filter: &EnvironmentFilter,
    page: &PageRequest,
) -> StoreResult<Page<Environment>> {
    let cursor = page
        .cursor
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .map(|(at, id)| (ts(at), id));
    let status = filter.status.map(|s| s.as_str().to_owned());
    let mut query = db.fluent().select().from(ENVIRONMENTS).filter(|q| {
        q.for_all([
            status
                .as_ref()
                .and_then(|s| q.field("status").eq(s.clone())),
            filter
                .repository_id
                .as_ref()
                .and_then(|r| q.field("repository_id").eq(r.clone())),
            filter
                .name_prefix
                .as_ref()
                .and_then(|p| q.field("name_prefixes").array_contains(p.clone())),
            filter.kept.and_then(|k| q.field("kept").eq(k)),
            filter.sleeping.and_then(|s| q.field("sleeping").eq(s)),
            filter
                .occupancy
                .and_then(|o| q.field("occupancy").eq(o.as_str())),
        ])
    });
    query = query.order(|o| o.fields([o.field("created_at").desc(), o.field("id").desc()]));
    if let Some((at, id)) = &cursor {
        query = query.start_at(FirestoreQueryCursor::AfterValue(vec![
            at.clone().into(),
            id.clone().into(),
        ]));
    }
    let docs: Vec<EnvDoc> = query
        .limit(page.limit + 1)
        .obj()
        .query()
        .await
        .map_err(fs_err)?;
    let items = docs.iter().map(to_env).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::overfetched(items, page.limit))
}

pub async fn expired(
    db: &FirestoreDb,
    now: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<Environment>> {
    let now = ts(now);
    let docs: Vec<EnvDoc> = db
        .fluent()
        .select()
        .from(ENVIRONMENTS)
        .filter(|q| {
            q.for_all([
                q.field("status").is_in(vec!["pending", "ready", "failed"]),
                q.field("expires_at").less_than_or_equal(now.clone()),
            ])
        })
        .order(|o| o.fields([o.field("expires_at").asc()]))
        .limit(limit)
        .obj()
        .query()
        .await
        .map_err(fs_err)?;
    docs.iter().map(to_env).collect()
}

pub async fn events(
    db: &FirestoreDb,
    id: &EnvironmentId,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<EnvironmentEvent>> {
    let docs: Vec<EventDoc> = db
        .fluent()
        .select()
        .from(EVENTS)
        .filter(|q| {
            q.for_all([
                q.field("environment_id").eq(id.to_string()),
                q.field("seq").greater_than(after as i64),
            ])
        })
        .order(|o| o.fields([o.field("seq").asc()]))
        .limit(limit)
        .obj()
        .query()
        .await
        .map_err(fs_err)?;
    docs.into_iter()
        .map(|d| {
            Ok(EnvironmentEvent {
                seq: d.seq as u64,
                environment_id: id.clone(),
                at: DateTime::parse_from_rfc3339(&d.at)
                    .map_err(corrupt)?
                    .with_timezone(&Utc),
                kind: serde_json::from_value(serde_json::Value::String(d.kind)).map_err(corrupt)?,
                actor: d.actor,
                message: d.message,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::prefixes;

    #[test]
    fn a_name_lists_every_prefix_of_itself() {
        assert_eq!(prefixes("pr-1"), ["p", "pr", "pr-", "pr-1"]);
        assert!(prefixes("").is_empty());
    }
}
