//! API tokens and notification subscriptions on SQLite: one JSON document per row.

use async_trait::async_trait;

use super::{SqliteStore, db_err, is_constraint, to_doc};
use crate::{
    domain::{auth::ApiToken, notification::Subscription},
    ports::store::{StoreError, StoreResult, SubscriptionStore, TokenStore},
};

#[async_trait]
impl TokenStore for SqliteStore {
    async fn create_token(&self, token: &ApiToken) -> StoreResult<()> {
        let token = token.clone();
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO api_tokens (id, hash, doc) VALUES (?1, ?2, ?3)",
                    (&token.id, &token.hash, to_doc(&token)?),
                )
                .map(|_| ())
                .map_err(|e| {
                    if is_constraint(&e) {
                        StoreError::Conflict("token exists".into())
                    } else {
                        db_err(e)
                    }
                })
            })
            .await
    }

    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        let hash = hash.to_owned();
        self.db
            .read(move |c| super::catalog::get_doc(c, "api_tokens", "hash", &hash))
            .await
    }

    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        let id = id.to_owned();
        self.db
            .read(move |c| super::catalog::get_doc(c, "api_tokens", "id", &id))
            .await
    }

    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        self.db
            .read(|c| super::catalog::list_docs(c, "api_tokens", "id"))
            .await
    }

    async fn update_token(&self, token: &ApiToken) -> StoreResult<()> {
        let token = token.clone();
        self.db
            .write(move |c| {
                super::catalog::update_doc(c, "api_tokens", &token.id, to_doc(&token)?, "token")
            })
            .await
    }
}

#[async_trait]
impl SubscriptionStore for SqliteStore {
    async fn create_subscription(&self, sub: &Subscription) -> StoreResult<()> {
        let sub = sub.clone();
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO subscriptions (id, doc) VALUES (?1, ?2)",
                    (&sub.id, to_doc(&sub)?),
                )
                .map(|_| ())
                .map_err(|e| {
                    if is_constraint(&e) {
                        StoreError::Conflict(format!("subscription `{}` exists", sub.id))
                    } else {
                        db_err(e)
                    }
                })
            })
            .await
    }

    async fn get_subscription(&self, id: &str) -> StoreResult<Option<Subscription>> {
        let id = id.to_owned();
        self.db
            .read(move |c| super::catalog::get_doc(c, "subscriptions", "id", &id))
            .await
    }

    async fn list_subscriptions(&self) -> StoreResult<Vec<Subscription>> {
        self.db
            .read(|c| super::catalog::list_docs(c, "subscriptions", "id"))
            .await
    }

    async fn update_subscription(&self, sub: &Subscription) -> StoreResult<()> {
        let sub = sub.clone();
        self.db
            .write(move |c| {
                super::catalog::update_doc(
                    c,
                    "subscriptions",
                    &sub.id,
                    to_doc(&sub)?,
                    "subscription",
                )
            })
            .await
    }

    async fn delete_subscription(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.db
            .write(move |c| {
                let n = c
                    .execute("DELETE FROM subscriptions WHERE id = ?1", [&id])
                    .map_err(db_err)?;
                if n == 0 {
                    Err(StoreError::NotFound(format!("subscription `{id}`")))
                } else {
                    Ok(())
                }
            })
            .await
    }
}
