//! Sessions on SQLite: login codes and ended sessions, two small tables in the store's file.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;

use super::{Db, db_err, one_row, parse_ts, run, ts};
use crate::{
    domain::auth::LoginCode,
    ports::{Sessions, store::StoreResult},
};

pub struct SqliteSessions {
    db: Db,
}

impl SqliteSessions {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Sessions for SqliteSessions {
    async fn put_login_code(&self, code: &LoginCode) -> StoreResult<()> {
        let code = code.clone();
        self.db
            .write(move |c| {
                // Codes nobody used are cleared by the next one minted.
                run(
                    c,
                    "DELETE FROM login_codes WHERE expires_at < ?1",
                    [ts(Utc::now())],
                )
                .map_err(db_err)?;
                run(
                    c,
                    "INSERT INTO login_codes (hash, token_id, expires_at) VALUES (?1, ?2, ?3)",
                    (&code.hash, &code.token_id, ts(code.expires_at)),
                )
                .map_err(db_err)?;
                Ok(())
            })
            .await
    }

    async fn take_login_code(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LoginCode>> {
        let hash = hash.to_owned();
        let taken = self
            .db
            .write(move |c| {
                one_row(
                    c,
                    "DELETE FROM login_codes WHERE hash = ?1 RETURNING token_id, expires_at",
                    [&hash],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
                )
                .optional()
                .map_err(db_err)
                .map(|row| row.map(|(token_id, at)| (hash, token_id, at)))
            })
            .await?;
        let Some((hash, token_id, at)) = taken else {
            return Ok(None);
        };
        let expires_at = parse_ts(&at)?;
        Ok((expires_at > now).then_some(LoginCode {
            hash,
            token_id,
            expires_at,
        }))
    }

    async fn end_sessions(&self, user: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let user = user.to_owned();
        self.db
            .write(move |c| {
                run(
                    c,
                    "INSERT INTO session_ends (user, at) VALUES (?1, ?2)
                     ON CONFLICT (user) DO UPDATE SET at = max(at, excluded.at)",
                    (&user, ts(at)),
                )
                .map(|_| ())
                .map_err(db_err)
            })
            .await
    }

    async fn sessions_ended(&self, user: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let user = user.to_owned();
        let at = self
            .db
            .read(move |c| {
                one_row(
                    c,
                    "SELECT at FROM session_ends WHERE user = ?1",
                    [&user],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(db_err)
            })
            .await?;
        at.as_deref().map(parse_ts).transpose()
    }
}
