//! Sessions on Firestore: `login_codes/{sha256 of the code}` (taken in a transaction, so a code
//! starts one session; a TTL policy on `expires_at` removes unused ones) and
//! `session_ends/{sha256 of the user}`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use firestore::FirestoreDb;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{LOGIN_CODES, SESSION_ENDS, fs_err, read, transaction};
use crate::{
    domain::auth::LoginCode,
    ports::{Sessions, store::StoreResult},
};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LoginCodeDoc {
    token_id: String,
    #[serde(with = "firestore::serialize_as_timestamp")]
    expires_at: jiff::Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionEndDoc {
    user: String,
    #[serde(with = "firestore::serialize_as_timestamp")]
    at: jiff::Timestamp,
}

fn timestamp(t: DateTime<Utc>) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(t.timestamp_micros()).unwrap_or(jiff::Timestamp::MAX)
}

fn chrono_time(t: jiff::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.as_microsecond()).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Document ids may not hold `/`; user names (emails, `token:ci/x`) may.
fn user_doc_id(user: &str) -> String {
    hex::encode(Sha256::digest(user.as_bytes()))
}

pub struct FirestoreSessions {
    db: FirestoreDb,
}

impl FirestoreSessions {
    pub fn new(db: FirestoreDb) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Sessions for FirestoreSessions {
    async fn put_login_code(&self, code: &LoginCode) -> StoreResult<()> {
        let doc = LoginCodeDoc {
            token_id: code.token_id.clone(),
            expires_at: timestamp(code.expires_at),
        };
        self.db
            .fluent()
            .insert()
            .into(LOGIN_CODES)
            .document_id(&code.hash)
            .object(&doc)
            .execute::<()>()
            .await
            .map_err(fs_err)
    }

    async fn take_login_code(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LoginCode>> {
        let taken: Option<LoginCodeDoc> = transaction(&self.db, |db, tx| {
            let hash = hash.to_owned();
            async move {
                let doc: Option<LoginCodeDoc> = read(&db, LOGIN_CODES, &hash).await?;
                if doc.is_some() {
                    db.fluent()
                        .delete()
                        .from(LOGIN_CODES)
                        .document_id(&hash)
                        .add_to_transaction(tx)?;
                }
                Ok(doc)
            }
            .boxed()
        })
        .await?;
        Ok(taken
            .map(|d| LoginCode {
                hash: hash.to_owned(),
                token_id: d.token_id,
                expires_at: chrono_time(d.expires_at),
            })
            .filter(|c| c.expires_at > now))
    }

    async fn end_sessions(&self, user: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let doc = SessionEndDoc {
            user: user.to_owned(),
            at: timestamp(at),
        };
        self.db
            .fluent()
            .update()
            .in_col(SESSION_ENDS)
            .document_id(user_doc_id(user))
            .object(&doc)
            .execute::<()>()
            .await
            .map_err(fs_err)
    }

    async fn sessions_ended(&self, user: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let doc: Option<SessionEndDoc> = read(&self.db, SESSION_ENDS, &user_doc_id(user))
            .await
            .map_err(fs_err)?;
        Ok(doc.map(|d| chrono_time(d.at)))
    }
}
