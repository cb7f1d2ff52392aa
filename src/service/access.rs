//! A short-lived cache of GitLab member access levels, so a burst of commands does not ask
//! GitLab every time.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::ports::githost::AccessLevel;

pub struct AccessCache {
    ttl: Duration,
    entries: Mutex<HashMap<(u64, u64), (AccessLevel, Instant)>>,
}

impl AccessCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, project_id: u64, user_id: u64) -> Option<AccessLevel> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&(project_id, user_id))
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(level, _)| *level)
    }

    pub fn put(&self, project_id: u64, user_id: u64, level: AccessLevel) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
        entries.insert((project_id, user_id), (level, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire() {
        let cache = AccessCache::new(Duration::from_millis(30));
        cache.put(1, 2, AccessLevel::DEVELOPER);
        assert_eq!(cache.get(1, 2), Some(AccessLevel::DEVELOPER));
        assert_eq!(cache.get(1, 3), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(1, 2), None);
    }
}
