//! Environments, their events and the change log on SQLite.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{db_err, from_doc, is_constraint, one_row, parse_ts, run, to_doc, ts};
use crate::{
    domain::{Environment, EnvironmentEvent, EnvironmentId, EventKind, NewEvent},
    ports::queue::NewJob,
    ports::store::{
        EnvironmentChange, EnvironmentFilter, Page, PageRequest, StoreError, StoreResult,
        decode_cursor,
    },
};

/// Writes the environment, its events, its change and its jobs (inside the writer's
/// transaction).
pub fn save(
    tx: &Connection,
    mut env: Environment,
    events: &[NewEvent],
    jobs: &[NewJob],
) -> StoreResult<EnvironmentChange> {
    let expected = env.version;
    env.version = expected + 1;
    let doc = to_doc(&env)?;
    if expected == 0 {
        run(
            tx,
            "INSERT INTO environments (id, repository_id, name, status, config_set_id, created_at, expires_at, version, doc)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                env.id.as_str(), env.repository_id, env.name.as_str(), env.status.as_str(),
                env.config_set_id, ts(env.created_at), ts(env.expires_at), env.version as i64, doc
            ],
        )
        .map_err(|e| {
            if is_constraint(&e) {
                StoreError::Conflict(format!("an environment with id `{}` already exists", env.id))
            } else {
                db_err(e)
            }
        })?;
    } else {
        let n = run(
                tx,
                "UPDATE environments SET status = ?2, config_set_id = ?3, expires_at = ?4, version = ?5, doc = ?6
                 WHERE id = ?1 AND version = ?7",
                params![
                    env.id.as_str(), env.status.as_str(), env.config_set_id, ts(env.expires_at),
                    env.version as i64, doc, expected as i64
                ],
            )
            .map_err(db_err)?;
        if n == 0 {
            let stored: Option<i64> = one_row(
                tx,
                "SELECT version FROM environments WHERE id = ?1",
                [env.id.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
            return Err(match stored {
                None => StoreError::NotFound(format!("environment `{}`", env.id)),
                Some(v) => StoreError::Conflict(format!(
                    "environment `{}` was changed concurrently (version {v}, expected {expected})",
                    env.id
                )),
            });
        }
    }
    append_events(tx, env.id.as_str(), events, env.updated_at)?;
    run(
        tx,
        "INSERT INTO environment_changes (environment_id, at, doc) VALUES (?1, ?2, ?3)",
        params![env.id.as_str(), ts(env.updated_at), doc],
    )
    .map_err(db_err)?;
    let seq = tx.last_insert_rowid() as u64;
    for job in jobs {
        super::queue::insert_job(tx, job, Utc::now())?;
    }
    Ok(EnvironmentChange {
        seq,
        environment: env,
    })
}

/// Deletes a terminated environment at `version` and its events; whether it did.
pub fn remove(tx: &Connection, id: &str, version: u64) -> StoreResult<bool> {
    let removed = tx
        .execute(
            "DELETE FROM environments WHERE id = ?1 AND version = ?2 AND status = 'terminated'",
            params![id, version as i64],
        )
        .map_err(db_err)?;
    if removed == 1 {
        tx.execute(
            "DELETE FROM environment_events WHERE environment_id = ?1",
            [id],
        )
        .map_err(db_err)?;
    }
    Ok(removed == 1)
}

pub fn append_events(
    tx: &Connection,
    id: &str,
    events: &[NewEvent],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let first: i64 = one_row(
        tx,
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM environment_events WHERE environment_id = ?1",
        [id],
        |r| r.get(0),
    )
    .map_err(db_err)?;
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO environment_events (environment_id, seq, at, kind, actor, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(db_err)?;
    for (seq, e) in (first..).zip(events) {
        let kind = serde_json::to_value(e.kind).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        stmt.execute(params![id, seq, ts(at), kind.as_str(), e.actor, e.message])
            .map_err(db_err)?;
    }
    Ok(())
}

fn row_to_env(doc: String, version: i64) -> StoreResult<Environment> {
    let mut env: Environment = from_doc(&doc)?;
    env.version = version as u64;
    Ok(env)
}

pub fn get(c: &Connection, id: &str) -> StoreResult<Option<Environment>> {
    one_row(
        c,
        "SELECT doc, version FROM environments WHERE id = ?1",
        [id],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
    )
    .optional()
    .map_err(db_err)?
    .map(|(doc, v)| row_to_env(doc, v))
    .transpose()
}

/// One statement for every filter: a filter left out is bound as NULL.
pub(super) const LIST: &str = "SELECT doc, version FROM environments
     WHERE (?1 IS NULL OR status = ?1)
       AND (?2 IS NULL OR repository_id = ?2)
       AND (?3 IS NULL OR substr(name, 1, length(?3)) = ?3)
       AND (?4 IS NULL OR created_at < ?4 OR (created_at = ?4 AND id < ?5))
       AND (?7 IS NULL OR (json_extract(doc, '$.kept') IS NOT NULL) = ?7)
       AND (?9 IS NULL OR (json_extract(doc, '$.asleep') IS NOT NULL) = ?9)
       AND (?8 IS NULL OR (status != 'terminated'
            AND (json_extract(doc, '$.waiting') IS NOT NULL) = (?8 = 'waiting')))
     ORDER BY created_at DESC, id DESC
     LIMIT ?6";

pub fn list(
    c: &Connection,
    filter: &EnvironmentFilter,
    page: &PageRequest,
) -> StoreResult<Page<Environment>> {
    let (cur_at, cur_id) = match &page.cursor {
        Some(cursor) => {
            let (a, i) = decode_cursor(cursor)?;
            (Some(ts(a)), Some(i))
        }
        None => (None, None),
    };
    let mut stmt = c.prepare_cached(LIST).map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![
                filter.status.map(|s| s.as_str()),
                filter.repository_id,
                filter.name_prefix,
                cur_at,
                cur_id,
                i64::from(page.limit) + 1,
                filter.kept,
                filter.occupancy.map(|o| o.as_str()),
                filter.sleeping
            ],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
        )
        .map_err(db_err)?;
    let items = rows
        .map(|r| r.map_err(db_err).and_then(|(d, v)| row_to_env(d, v)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::overfetched(items, page.limit))
}

pub fn expired(c: &Connection, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Environment>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT doc, version FROM environments
             WHERE status IN ('pending', 'ready', 'failed') AND expires_at <= ?1
             ORDER BY expires_at LIMIT ?2",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![ts(now), limit], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(|(d, v)| row_to_env(d, v)))
        .collect()
}

pub fn events(
    c: &Connection,
    id: &EnvironmentId,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<EnvironmentEvent>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, at, kind, actor, message FROM environment_events
             WHERE environment_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![id.as_str(), after as i64, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .map_err(db_err)?;
    rows.map(|r| {
        let (seq, at, kind, actor, message) = r.map_err(db_err)?;
        let kind: EventKind = serde_json::from_value(serde_json::Value::String(kind))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(EnvironmentEvent {
            seq: seq as u64,
            environment_id: id.clone(),
            at: parse_ts(&at)?,
            kind,
            actor,
            message,
        })
    })
    .collect()
}

pub fn changes_since(
    c: &Connection,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<EnvironmentChange>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT seq, doc FROM environment_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![after as i64, limit], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(db_err)?;
    rows.map(|r| {
        let (seq, doc) = r.map_err(db_err)?;
        Ok(EnvironmentChange {
            seq: seq as u64,
            environment: from_doc(&doc)?,
        })
    })
    .collect()
}
