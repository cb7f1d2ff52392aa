//! The tokens a process keeps: read once per recheck, forgotten when revoked, never kept when
//! unknown, expiry checked on every use.

use std::sync::{
    Mutex,
    atomic::{AtomicUsize, Ordering},
};

use async_trait::async_trait;

use super::*;
use crate::{
    clock::OffsetClock,
    ports::{StoreError, store::StoreResult},
};

/// Tokens in memory, counting the reads that look one up.
#[derive(Default)]
struct Counted {
    tokens: Mutex<Vec<ApiToken>>,
    reads: AtomicUsize,
}

impl Counted {
    fn find(&self, f: impl Fn(&ApiToken) -> bool) -> Option<ApiToken> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.tokens.lock().unwrap().iter().find(|t| f(t)).cloned()
    }
}

#[async_trait]
impl TokenStore for Counted {
    async fn create_token(&self, token: &ApiToken) -> StoreResult<()> {
        self.tokens.lock().unwrap().push(token.clone());
        Ok(())
    }
    async fn find_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
        Ok(self.find(|t| t.hash == hash))
    }
    async fn get_token(&self, id: &str) -> StoreResult<Option<ApiToken>> {
        Ok(self.find(|t| t.id == id))
    }
    async fn list_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        Ok(self.tokens.lock().unwrap().clone())
    }
    async fn update_token(&self, token: &ApiToken) -> StoreResult<()> {
        let mut tokens = self.tokens.lock().unwrap();
        let stored = tokens
            .iter_mut()
            .find(|t| t.id == token.id)
            .ok_or_else(|| StoreError::NotFound(token.id.clone()))?;
        *stored = token.clone();
        Ok(())
    }
}

fn admin() -> Principal {
    Principal {
        name: "token:admin".into(),
        role: Role::Admin,
        token_id: None,
    }
}

fn service() -> (Arc<Counted>, Arc<OffsetClock>, TokenService) {
    let store = Arc::new(Counted::default());
    let clock = Arc::new(OffsetClock::default());
    let service = TokenService::new(store.clone(), clock.clone());
    (store, clock, service)
}

#[tokio::test]
async fn a_token_is_read_once_for_many_requests() {
    let (store, _, tokens) = service();
    let (token, secret) = tokens
        .create(&admin(), "ci", Role::Developer, None)
        .await
        .unwrap();
    for _ in 0..5 {
        let p = tokens.authenticate(&secret).await.unwrap().unwrap();
        assert_eq!(p.token_id.as_deref(), Some(token.id.as_str()));
        assert_eq!(p.role, Role::Developer);
    }
    for _ in 0..5 {
        assert!(tokens.by_id(&token.id).await.unwrap().is_some());
    }
    assert_eq!(store.reads.load(Ordering::Relaxed), 2, "one read per key");
    // The first use was recorded once, not on every request.
    let stored = store.list_tokens().await.unwrap();
    assert!(stored[0].last_used_at.is_some());
}

#[tokio::test]
async fn a_revoked_token_is_refused_at_once() {
    let (_, _, tokens) = service();
    let (token, secret) = tokens
        .create(&admin(), "ci", Role::Developer, None)
        .await
        .unwrap();
    assert!(tokens.authenticate(&secret).await.unwrap().is_some());
    assert!(tokens.by_id(&token.id).await.unwrap().is_some());
    tokens.revoke(&admin(), &token.id).await.unwrap();
    assert!(tokens.authenticate(&secret).await.unwrap().is_none());
    assert!(tokens.by_id(&token.id).await.unwrap().is_none());
}

#[tokio::test]
async fn an_unknown_secret_is_looked_up_every_time() {
    let (store, _, tokens) = service();
    let secret = "bb_minted-elsewhere-0123456789abcdef0123456789";
    assert!(tokens.authenticate(secret).await.unwrap().is_none());
    assert!(tokens.authenticate(secret).await.unwrap().is_none());
    assert_eq!(store.reads.load(Ordering::Relaxed), 2);
    // Minted by another replica meanwhile: it works on its first use here.
    store
        .create_token(&ApiToken {
            id: "elsewhere".into(),
            name: "ci".into(),
            role: Role::Viewer,
            hash: token_hash(secret),
            owner: "token:admin".into(),
            created_at: chrono::Utc::now(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        })
        .await
        .unwrap();
    assert!(tokens.authenticate(secret).await.unwrap().is_some());
}

#[tokio::test]
async fn a_kept_token_still_expires_on_time() {
    let (_, clock, tokens) = service();
    let (_, secret) = tokens
        .create(&admin(), "ci", Role::Developer, Some(1))
        .await
        .unwrap();
    assert!(tokens.authenticate(&secret).await.unwrap().is_some());
    clock.advance(Duration::minutes(61));
    assert!(tokens.authenticate(&secret).await.unwrap().is_none());
}
