//! Shared state on Firestore: `shared_state/{name}` holding the document as JSON text and its
//! version, checked and written in one transaction.

use async_trait::async_trait;
use firestore::FirestoreDb;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{SHARED_STATE, fs_err, read, transaction};
use crate::ports::{Shared, StoreError, store::StoreResult};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SharedDoc {
    body: String,
    version: u64,
}

pub struct FirestoreShared {
    db: FirestoreDb,
}

impl FirestoreShared {
    pub fn new(db: FirestoreDb) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Shared for FirestoreShared {
    async fn read(&self, name: &str) -> StoreResult<(Option<Value>, u64)> {
        let doc: Option<SharedDoc> = read(&self.db, SHARED_STATE, name).await.map_err(fs_err)?;
        match doc {
            None => Ok((None, 0)),
            Some(d) => {
                let value = serde_json::from_str(&d.body)
                    .map_err(|e| StoreError::Corrupt(format!("shared state: {e}")))?;
                Ok((Some(value), d.version))
            }
        }
    }

    async fn write(&self, name: &str, value: &Value, version: u64) -> StoreResult<bool> {
        let next = SharedDoc {
            body: value.to_string(),
            version: version + 1,
        };
        transaction(&self.db, |db, tx| {
            let (name, next) = (name.to_owned(), next.clone());
            async move {
                let current: Option<SharedDoc> = read(&db, SHARED_STATE, &name).await?;
                if current.map_or(0, |d| d.version) != version {
                    return Ok(false);
                }
                db.fluent()
                    .update()
                    .in_col(SHARED_STATE)
                    .document_id(&name)
                    .object(&next)
                    .add_to_transaction(tx)?;
                Ok(true)
            }
            .boxed()
        })
        .await
    }
}
