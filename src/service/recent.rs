//! What a process read from the store and trusts for a while without reading it again: the API
//! tokens behind every request, when a user's sessions were last ended. A change made by this
//! process replaces or forgets its entry at once; a change made by another replica is seen
//! within [`RECHECK`].

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

/// How long a process trusts what it read.
pub const RECHECK: Duration = Duration::from_secs(30);

/// Values by key, each with when it was read.
pub struct Recent<V> {
    entries: Mutex<HashMap<String, (V, Instant)>>,
    trust: Duration,
    capacity: usize,
}

impl<V: Clone> Recent<V> {
    /// Trusts what it keeps for [`RECHECK`]; past `capacity` entries, the stale ones go, and
    /// when none is stale it starts over.
    pub fn new(capacity: usize) -> Self {
        Self::trusting(RECHECK, capacity)
    }

    fn trusting(trust: Duration, capacity: usize) -> Self {
        Self {
            entries: Mutex::default(),
            trust,
            capacity,
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, (V, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value kept for `key`, if read within the trust period.
    pub fn get(&self, key: &str) -> Option<V> {
        self.entries()
            .get(key)
            .filter(|(_, read)| read.elapsed() < self.trust)
            .map(|(v, _)| v.clone())
    }

    /// Keeps `value` for `key`, read now.
    pub fn put(&self, key: String, value: V) {
        let mut entries = self.entries();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (_, read)| read.elapsed() < self.trust);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    /// Changes values in place; when they were read stays as it was.
    pub fn change(&self, mut change: impl FnMut(&mut V)) {
        for (v, _) in self.entries().values_mut() {
            change(v);
        }
    }

    /// Forgets every value `forget` picks, so their next use reads the store.
    pub fn forget(&self, mut forget: impl FnMut(&V) -> bool) {
        self.entries().retain(|_, (v, _)| !forget(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_trusted_for_the_period_then_read_again() {
        let recent = Recent::trusting(Duration::from_millis(50), 10);
        recent.put("a".into(), 1);
        assert_eq!(recent.get("a"), Some(1));
        assert_eq!(recent.get("b"), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(recent.get("a"), None, "trusted past its period");
        recent.put("a".into(), 2);
        assert_eq!(recent.get("a"), Some(2), "a new read is trusted again");
    }

    #[test]
    fn forgotten_values_are_gone_at_once() {
        let recent = Recent::new(10);
        recent.put("hash:x".into(), "t1");
        recent.put("id:t1".into(), "t1");
        recent.put("id:t2".into(), "t2");
        recent.forget(|v| *v == "t1");
        assert_eq!(
            (
                recent.get("hash:x"),
                recent.get("id:t1"),
                recent.get("id:t2")
            ),
            (None, None, Some("t2"))
        );
    }

    #[test]
    fn past_capacity_stale_values_go_first_then_everything() {
        let recent = Recent::trusting(Duration::from_millis(50), 2);
        recent.put("old".into(), 0);
        std::thread::sleep(Duration::from_millis(60));
        recent.put("a".into(), 1);
        recent.put("b".into(), 2);
        assert_eq!((recent.get("a"), recent.get("b")), (Some(1), Some(2)));
        assert_eq!(recent.entries().len(), 2, "the stale value made room");
        recent.put("a".into(), 3);
        assert_eq!(recent.entries().len(), 2, "replacing a key needs no room");
        recent.put("c".into(), 4);
        assert_eq!(
            recent.entries().len(),
            1,
            "full of fresh values: it started over"
        );
        assert_eq!(recent.get("c"), Some(4));
    }
}
