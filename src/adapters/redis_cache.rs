//! A read-through Redis cache for environment reads, in front of any
//! [`EnvironmentStore`]; the other aggregates are not cached and go to the adapter directly.
//!
//! Entries are `"{version}|{json}"`; a Lua script only ever replaces an entry with a higher
//! version, so a slow reader can never put an older environment back over a newer one.
//! Every write refreshes the entry; terminated environments are evicted, and so is the entry
//! of a write that failed (a conflict says the entry may be stale). When Redis is down, reads
//! and writes go straight to the store.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::{Script, aio::ConnectionManager};

use crate::{
    domain::{Environment, EnvironmentEvent, EnvironmentId, NewEvent, Status},
    ports::{
        queue::NewJob,
        store::{
            EnvironmentChange, EnvironmentFilter, EnvironmentStore, Page, PageRequest, Saved,
            StoreResult,
        },
    },
};

const TTL_SECS: u64 = 300;

const SET_IF_NEWER: &str = r#"
local current = redis.call('GET', KEYS[1])
if current then
  local v = tonumber(string.match(current, '^(%d+)|'))
  if v and v >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
return 1
"#;

pub struct CachedStore {
    inner: Arc<dyn EnvironmentStore>,
    redis: ConnectionManager,
    prefix: String,
    set_if_newer: Script,
}

impl CachedStore {
    pub async fn connect(
        inner: Arc<dyn EnvironmentStore>,
        url: &str,
        prefix: &str,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let redis = ConnectionManager::new(client).await?;
        Ok(Self {
            inner,
            redis,
            prefix: prefix.to_owned(),
            set_if_newer: Script::new(SET_IF_NEWER),
        })
    }

    fn key(&self, id: &str) -> String {
        format!("{}env:{id}", self.prefix)
    }

    async fn remember(&self, env: &Environment) {
        let mut conn = self.redis.clone();
        let result: redis::RedisResult<i64> = if env.status == Status::Terminated {
            redis::cmd("DEL")
                .arg(self.key(env.id.as_str()))
                .query_async(&mut conn)
                .await
        } else {
            let Ok(json) = serde_json::to_string(env) else {
                return;
            };
            self.set_if_newer
                .key(self.key(env.id.as_str()))
                .arg(env.version)
                .arg(json)
                .arg(TTL_SECS)
                .invoke_async(&mut conn)
                .await
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "environment cache update failed");
        }
    }

    async fn forget(&self, id: &str) {
        let mut conn = self.redis.clone();
        let result: redis::RedisResult<i64> = redis::cmd("DEL")
            .arg(self.key(id))
            .query_async(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "environment cache eviction failed");
        }
    }

    async fn cached(&self, id: &str) -> Option<Environment> {
        let mut conn = self.redis.clone();
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.key(id))
            .query_async(&mut conn)
            .await
            .ok()?;
        let (_, json) = raw?
            .split_once('|')
            .map(|(v, j)| (v.to_owned(), j.to_owned()))?;
        serde_json::from_str(&json).ok()
    }
}

#[async_trait]
impl EnvironmentStore for CachedStore {
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    async fn save_environment(
        &self,
        env: &Environment,
        events: &[NewEvent],
        jobs: &[NewJob],
    ) -> StoreResult<Saved> {
        match self.inner.save_environment(env, events, jobs).await {
            Ok(saved) => {
                self.remember(&saved.change.environment).await;
                Ok(saved)
            }
            Err(e) => {
                // A conflict means the cache may hold an older version (a write it missed, or
                // one the store committed while reporting an error); so may any failure whose
                // outcome is unknown. Evict, so the caller's retry reads the store: otherwise
                // every retry would read the same stale version and conflict again.
                self.forget(env.id.as_str()).await;
                Err(e)
            }
        }
    }

    async fn get_environment(&self, id: &EnvironmentId) -> StoreResult<Option<Environment>> {
        if let Some(env) = self.cached(id.as_str()).await {
            return Ok(Some(env));
        }
        let env = self.inner.get_environment(id).await?;
        if let Some(e) = &env {
            self.remember(e).await;
        }
        Ok(env)
    }

    async fn list_environments(
        &self,
        f: &EnvironmentFilter,
        p: &PageRequest,
    ) -> StoreResult<Page<Environment>> {
        self.inner.list_environments(f, p).await
    }

    async fn list_expired(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Environment>> {
        self.inner.list_expired(now, limit).await
    }

    async fn list_events(
        &self,
        id: &EnvironmentId,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<EnvironmentEvent>> {
        self.inner.list_events(id, after, limit).await
    }

    async fn remove_environment(&self, id: &EnvironmentId, version: u64) -> StoreResult<bool> {
        let removed = self.inner.remove_environment(id, version).await;
        // Evicted whatever the outcome: a removal whose answer was lost must not leave it cached.
        self.forget(id.as_str()).await;
        removed
    }

    async fn append_events(&self, id: &EnvironmentId, events: &[NewEvent]) -> StoreResult<()> {
        self.inner.append_events(id, events).await
    }

    async fn changes_since(&self, after: u64, limit: u32) -> StoreResult<Vec<EnvironmentChange>> {
        self.inner.changes_since(after, limit).await
    }

    async fn latest_change_seq(&self) -> StoreResult<u64> {
        self.inner.latest_change_seq().await
    }
}
