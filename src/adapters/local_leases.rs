//! Leases held in this process's memory: for one worker process (the embedded default), where
//! they are all there is to share.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;

use crate::ports::{Leases, store::StoreResult};

#[derive(Default)]
pub struct LocalLeases {
    held: Mutex<HashMap<String, (String, Instant)>>,
}

#[async_trait]
impl Leases for LocalLeases {
    async fn acquire(&self, key: &str, holder: &str, ttl: Duration) -> StoreResult<bool> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match held.get(key) {
            Some((other, until)) if other != holder && *until > now => Ok(false),
            _ => {
                held.insert(key.to_owned(), (holder.to_owned(), now + ttl));
                Ok(true)
            }
        }
    }

    async fn release(&self, key: &str, holder: &str) -> StoreResult<()> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.get(key).is_some_and(|(h, _)| h == holder) {
            held.remove(key);
        }
        Ok(())
    }
}
