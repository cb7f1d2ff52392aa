//! Shared state on SQLite: one row per document in `shared_state`, written only at the
//! version it was read at.

use async_trait::async_trait;
use rusqlite::OptionalExtension;
use serde_json::Value;

use super::{Db, db_err, one_row, run};
use crate::ports::{Shared, StoreError, store::StoreResult};

pub struct SqliteShared {
    db: Db,
}

impl SqliteShared {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Shared for SqliteShared {
    async fn read(&self, name: &str) -> StoreResult<(Option<Value>, u64)> {
        let name = name.to_owned();
        let row = self
            .db
            .read(move |c| {
                one_row(
                    c,
                    "SELECT body, version FROM shared_state WHERE name = ?1",
                    [&name],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
                )
                .optional()
                .map_err(db_err)
            })
            .await?;
        match row {
            None => Ok((None, 0)),
            Some((body, version)) => {
                let value = serde_json::from_str(&body)
                    .map_err(|e| StoreError::Corrupt(format!("shared state: {e}")))?;
                Ok((Some(value), u64::try_from(version).unwrap_or_default()))
            }
        }
    }

    async fn write(&self, name: &str, value: &Value, version: u64) -> StoreResult<bool> {
        let (name, body) = (name.to_owned(), value.to_string());
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        self.db
            .write(move |c| {
                let changed = if version == 0 {
                    run(
                        c,
                        "INSERT INTO shared_state (name, body, version) VALUES (?1, ?2, 1)
                         ON CONFLICT (name) DO NOTHING",
                        (&name, &body),
                    )
                } else {
                    run(
                        c,
                        "UPDATE shared_state SET body = ?2, version = version + 1
                         WHERE name = ?1 AND version = ?3",
                        (&name, &body, version),
                    )
                }
                .map_err(db_err)?;
                Ok(changed == 1)
            })
            .await
    }
}
