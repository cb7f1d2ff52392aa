//! Where messages received from Pub/Sub wait until they are due: handed out at most one per
//! ordering key at a time, the earliest due first (then the first to arrive), as the embedded
//! queue hands out jobs. Pure bookkeeping; the adapter keeps it behind a lock.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

/// One held message.
pub struct Entry<T> {
    arrival: u64,
    pub key: String,
    pub not_before: DateTime<Utc>,
    pub item: T,
}

/// Messages waiting, and those leased to a consumer (by lease token).
pub struct Holding<T> {
    arrivals: u64,
    waiting: Vec<Entry<T>>,
    leased: HashMap<String, Entry<T>>,
    busy_keys: HashSet<String>,
}

impl<T> Default for Holding<T> {
    fn default() -> Self {
        Self {
            arrivals: 0,
            waiting: Vec::new(),
            leased: HashMap::new(),
            busy_keys: HashSet::new(),
        }
    }
}

/// How many messages are due, not yet due, and leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub ready: u64,
    pub delayed: u64,
    pub in_flight: u64,
}

impl<T> Holding<T> {
    /// Holds a message of `key` until `not_before`.
    pub fn hold(&mut self, key: String, not_before: DateTime<Utc>, item: T) {
        self.arrivals += 1;
        self.waiting.push(Entry {
            arrival: self.arrivals,
            key,
            not_before,
            item,
        });
    }

    /// Leases the next message due at `now` whose key has none leased, under the token
    /// `token()` makes.
    pub fn lease_next(
        &mut self,
        now: DateTime<Utc>,
        token: impl FnOnce() -> String,
    ) -> Option<(String, &mut Entry<T>)> {
        let i = self
            .waiting
            .iter()
            .enumerate()
            .filter(|(_, e)| e.not_before <= now && !self.busy_keys.contains(&e.key))
            .min_by_key(|(_, e)| (e.not_before, e.arrival))
            .map(|(i, _)| i)?;
        let entry = self.waiting.swap_remove(i);
        let token = token();
        self.busy_keys.insert(entry.key.clone());
        let entry = self
            .leased
            .entry(token.clone())
            .insert_entry(entry)
            .into_mut();
        Some((token, entry))
    }

    /// Gives back the message leased under `token`, freeing its key; `None` if no such lease.
    pub fn release(&mut self, token: &str) -> Option<Entry<T>> {
        let entry = self.leased.remove(token)?;
        self.busy_keys.remove(&entry.key);
        Some(entry)
    }

    pub fn is_leased(&self, token: &str) -> bool {
        self.leased.contains_key(token)
    }

    pub fn counts(&self, now: DateTime<Utc>) -> Counts {
        let ready = self.waiting.iter().filter(|e| e.not_before <= now).count() as u64;
        Counts {
            ready,
            delayed: self.waiting.len() as u64 - ready,
            in_flight: self.leased.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn next(h: &mut Holding<&'static str>, now: i64) -> Option<(String, &'static str)> {
        static TOKENS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let token = || {
            let n = TOKENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("t{n}")
        };
        h.lease_next(at(now), token).map(|(t, e)| (t, e.item))
    }

    #[test]
    fn the_earliest_due_goes_first_then_the_first_to_arrive() {
        let mut h = Holding::default();
        h.hold("a".into(), at(5), "a-late");
        h.hold("b".into(), at(1), "b-early");
        h.hold("c".into(), at(1), "c-early-second");
        assert_eq!(next(&mut h, 10).unwrap().1, "b-early");
        assert_eq!(next(&mut h, 10).unwrap().1, "c-early-second");
        assert_eq!(next(&mut h, 10).unwrap().1, "a-late");
        assert!(next(&mut h, 10).is_none());
    }

    #[test]
    fn nothing_goes_before_it_is_due() {
        let mut h = Holding::default();
        h.hold("a".into(), at(5), "later");
        assert!(next(&mut h, 4).is_none());
        assert_eq!(
            h.counts(at(4)),
            Counts {
                ready: 0,
                delayed: 1,
                in_flight: 0
            }
        );
        assert_eq!(next(&mut h, 5).unwrap().1, "later");
    }

    #[test]
    fn one_key_has_one_message_out_at_a_time_until_it_is_released() {
        let mut h = Holding::default();
        h.hold("k".into(), at(0), "first");
        h.hold("k".into(), at(0), "second");
        h.hold("other".into(), at(1), "other");
        let (token, first) = next(&mut h, 2).unwrap();
        assert_eq!(first, "first");
        // "second" is due earlier than "other" but its key is busy.
        assert_eq!(next(&mut h, 2).unwrap().1, "other");
        assert!(next(&mut h, 2).is_none());
        assert!(h.is_leased(&token));
        assert_eq!(h.release(&token).unwrap().item, "first");
        assert!(!h.is_leased(&token));
        assert!(h.release(&token).is_none(), "a lease is given back once");
        assert_eq!(next(&mut h, 2).unwrap().1, "second");
        assert_eq!(
            h.counts(at(2)),
            Counts {
                ready: 0,
                delayed: 0,
                in_flight: 2
            }
        );
    }
}
