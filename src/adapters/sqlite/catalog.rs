//! Repositories, config sets and audit events on SQLite.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, ToSql, params};

use super::{SqliteStore, db_err, from_doc, is_constraint, parse_ts, to_doc, ts};
use crate::{
    domain::{ConfigSet, Repository},
    ports::store::{AuditEntry, AuditLog, CatalogStore, StoreError, StoreResult},
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
            let at: String = r.get(0)?;
            Ok((at, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]))
        })
        .map_err(db_err)?;
    rows.map(|r| {
        let (at, [actor, action, target, detail]) = r.map_err(db_err)?;
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

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn create_repository(&self, repo: &Repository) -> StoreResult<()> {
        let repo = repo.clone();
        self.db.write(move |c| create_repository(c, &repo)).await
    }

    async fn get_repository(&self, id: &str) -> StoreResult<Option<Repository>> {
        let id = id.to_owned();
        self.db
            .read(move |c| get_doc(c, "repositories", "id", &id))
            .await
    }

    async fn find_repository_by_project(&self, project_id: u64) -> StoreResult<Option<Repository>> {
        self.db
            .read(move |c| get_doc(c, "repositories", "gitlab_project_id", &(project_id as i64)))
            .await
    }

    async fn list_repositories(&self) -> StoreResult<Vec<Repository>> {
        self.db.read(|c| list_docs(c, "repositories", "name")).await
    }

    async fn update_repository(&self, repo: &Repository) -> StoreResult<()> {
        let repo = repo.clone();
        self.db.write(move |c| update_repository(c, &repo)).await
    }

    async fn delete_repository(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.db.write(move |c| delete_repository(c, &id)).await
    }

    async fn create_config_set(&self, set: &ConfigSet) -> StoreResult<()> {
        let set = set.clone();
        self.db.write(move |c| create_config_set(c, &set)).await
    }

    async fn get_config_set(&self, id: &str) -> StoreResult<Option<ConfigSet>> {
        let id = id.to_owned();
        self.db
            .read(move |c| get_doc(c, "config_sets", "id", &id))
            .await
    }

    async fn list_config_sets(&self) -> StoreResult<Vec<ConfigSet>> {
        self.db.read(|c| list_docs(c, "config_sets", "name")).await
    }

    async fn update_config_set(&self, set: &ConfigSet) -> StoreResult<()> {
        let set = set.clone();
        self.db.write(move |c| update_config_set(c, &set)).await
    }

    async fn delete_config_set(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.db.write(move |c| delete_config_set(c, &id)).await
    }
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let e = entry.clone();
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO audit_events (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                    (ts(e.at), &e.actor, &e.action, &e.target, &e.detail),
                )
                .map(|_| ())
                .map_err(db_err)
            })
            .await
    }

    async fn list_audit(&self, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.db.read(move |c| list_audit(c, limit)).await
    }
}
