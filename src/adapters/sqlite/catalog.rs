//! Repositories, config sets and audit events on SQLite.

use rusqlite::{Connection, OptionalExtension, ToSql, params};

use super::{db_err, from_doc, is_constraint, parse_ts, to_doc};
use crate::{
    domain::{ConfigSet, Repository},
    ports::store::{AuditEntry, StoreError, StoreResult},
};

fn repo_conflict(e: rusqlite::Error, repo: &Repository) -> StoreError {
    if is_constraint(&e) {
        StoreError::Conflict(format!(
            "a repository named `{}` or for GitLab project {} is already connected",
            repo.name, repo.gitlab_project_id
        ))
    } else {
        db_err(e)
    }
}

pub fn create_repository(c: &Connection, repo: &Repository) -> StoreResult<()> {
    c.execute(
        "INSERT INTO repositories (id, name, gitlab_project_id, config_set_id, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![repo.id, repo.name.as_str(), repo.gitlab_project_id as i64, repo.config_set_id, to_doc(repo)?],
    )
    .map(|_| ())
    .map_err(|e| repo_conflict(e, repo))
}

pub fn update_repository(c: &Connection, repo: &Repository) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE repositories SET name = ?2, gitlab_project_id = ?3, config_set_id = ?4, doc = ?5 WHERE id = ?1",
            params![repo.id, repo.name.as_str(), repo.gitlab_project_id as i64, repo.config_set_id, to_doc(repo)?],
        )
        .map_err(|e| repo_conflict(e, repo))?;
    found(n, || format!("repository `{}`", repo.id))
}

pub fn delete_repository(c: &Connection, id: &str) -> StoreResult<()> {
    let live: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM environments WHERE repository_id = ?1 AND status != 'terminated'",
            [id],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if live > 0 {
        return Err(StoreError::Conflict(format!(
            "repository `{id}` still has {live} live environment(s); destroy them first"
        )));
    }
    let n = c
        .execute("DELETE FROM repositories WHERE id = ?1", [id])
        .map_err(db_err)?;
    found(n, || format!("repository `{id}`"))
}

pub fn create_config_set(c: &Connection, set: &ConfigSet) -> StoreResult<()> {
    c.execute(
        "INSERT INTO config_sets (id, name, doc) VALUES (?1, ?2, ?3)",
        params![set.id, set.name, to_doc(set)?],
    )
    .map(|_| ())
    .map_err(|e| set_conflict(e, set))
}

fn set_conflict(e: rusqlite::Error, set: &ConfigSet) -> StoreError {
    if is_constraint(&e) {
        StoreError::Conflict(format!("a config set named `{}` already exists", set.name))
    } else {
        db_err(e)
    }
}

pub fn update_config_set(c: &Connection, set: &ConfigSet) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE config_sets SET name = ?2, doc = ?3 WHERE id = ?1",
            params![set.id, set.name, to_doc(set)?],
        )
        .map_err(|e| set_conflict(e, set))?;
    found(n, || format!("config set `{}`", set.id))
}

pub fn delete_config_set(c: &Connection, id: &str) -> StoreResult<()> {
    let users: i64 = c
        .query_row(
            "SELECT (SELECT COUNT(*) FROM repositories WHERE config_set_id = ?1)
                  + (SELECT COUNT(*) FROM environments WHERE config_set_id = ?1 AND status != 'terminated')",
            [id],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if users > 0 {
        return Err(StoreError::Conflict(format!(
            "config set `{id}` is used by {users} repository(ies) or live environment(s)"
        )));
    }
    let n = c
        .execute("DELETE FROM config_sets WHERE id = ?1", [id])
        .map_err(db_err)?;
    found(n, || format!("config set `{id}`"))
}

fn found(rows: usize, what: impl FnOnce() -> String) -> StoreResult<()> {
    if rows == 0 {
        Err(StoreError::NotFound(what()))
    } else {
        Ok(())
    }
}

/// Reads one JSON document by a column (`table` and `column` are trusted identifiers).
pub fn get_doc<T: serde::de::DeserializeOwned>(
    c: &Connection,
    table: &str,
    column: &str,
    key: &dyn ToSql,
) -> StoreResult<Option<T>> {
    c.query_row(
        &format!("SELECT doc FROM {table} WHERE {column} = ?1"),
        [key],
        |r| r.get::<_, String>(0),
    )
    .optional()
    .map_err(db_err)?
    .map(|d| from_doc(&d))
    .transpose()
}

/// Every document of `table`, in the order of column `order`.
pub fn list_docs<T: serde::de::DeserializeOwned>(
    c: &Connection,
    table: &str,
    order: &str,
) -> StoreResult<Vec<T>> {
    let mut stmt = c
        .prepare_cached(&format!("SELECT doc FROM {table} ORDER BY {order}"))
        .map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(db_err)?;
    rows.map(|r| r.map_err(db_err).and_then(|d| from_doc(&d)))
        .collect()
}

/// Replaces the document of row `id` of `table`; `what` names the row when there is none.
pub fn update_doc(
    c: &Connection,
    table: &str,
    id: &str,
    doc: String,
    what: &str,
) -> StoreResult<()> {
    let n = c
        .execute(
            &format!("UPDATE {table} SET doc = ?2 WHERE id = ?1"),
            (id, doc),
        )
        .map_err(db_err)?;
    if n == 0 {
        Err(StoreError::NotFound(format!("{what} `{id}`")))
    } else {
        Ok(())
    }
}

pub fn list_audit(c: &Connection, limit: u32) -> StoreResult<Vec<AuditEntry>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT at, actor, action, target, detail FROM audit_events ORDER BY id DESC LIMIT ?1",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map([limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .map_err(db_err)?;
    rows.map(|r| {
        let (at, actor, action, target, detail) = r.map_err(db_err)?;
        Ok(AuditEntry {
            at: parse_ts(&at)?,
            actor,
            action,
            target,
            detail,
        })
    })
    .collect()
}
