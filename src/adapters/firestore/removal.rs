//! Removing a terminated environment once its archive is written: the environment document and
//! every event document, in one transaction that first checks the environment is still
//! terminated at the version the caller archived (Firestore transactions no longer cap the
//! number of writes; an event document's delete is a few hundred bytes of the 10 MiB limit).

use firestore::FirestoreDb;
use futures::FutureExt;

use super::{ENVIRONMENTS, EVENTS, environments::EnvDoc, read, transaction};
use crate::{domain::EnvironmentId, ports::store::StoreResult};

pub async fn remove(db: &FirestoreDb, id: &EnvironmentId, version: u64) -> StoreResult<bool> {
    transaction(db, |db, tx| {
        let id = id.to_string();
        async move {
            let stored: Option<EnvDoc> = read(&db, ENVIRONMENTS, &id).await?;
            let Some(stored) =
                stored.filter(|d| d.status == "terminated" && d.version == version as i64)
            else {
                return Ok(false);
            };
            db.fluent()
                .delete()
                .from(ENVIRONMENTS)
                .document_id(&id)
                .add_to_transaction(tx)?;
            for seq in 1..=stored.events {
                db.fluent()
                    .delete()
                    .from(EVENTS)
                    .document_id(format!("{id}:{seq:010}"))
                    .add_to_transaction(tx)?;
            }
            Ok(true)
        }
        .boxed()
    })
    .await
}
