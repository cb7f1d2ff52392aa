//! How many SSE streams this process serves: at most `--max-sse-clients` in all and
//! `--max-sse-clients-per-caller` per API token (or user), so streams cannot exhaust a replica.
//! A stream holds a [`Slot`] for as long as it is open.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use crate::metrics::Metrics;

pub struct SseSlots {
    max_total: usize,
    max_per_caller: usize,
    open: Mutex<(usize, HashMap<String, usize>)>,
    metrics: Arc<Metrics>,
}

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    Process(usize),
    Caller(usize),
}

/// An open stream's place; given back when dropped.
pub struct Slot {
    slots: Arc<SseSlots>,
    caller: String,
}

impl SseSlots {
    pub fn new(max_total: usize, max_per_caller: usize, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_caller,
            open: Mutex::new((0, HashMap::new())),
            metrics,
        })
    }

    /// A slot for one more stream of `caller`, or why not.
    pub fn take(self: &Arc<Self>, caller: &str) -> Result<Slot, Full> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let refused = if open.0 >= self.max_total {
            Some(Full::Process(self.max_total))
        } else if open.1.get(caller).copied().unwrap_or(0) >= self.max_per_caller {
            Some(Full::Caller(self.max_per_caller))
        } else {
            None
        };
        if let Some(full) = refused {
            self.metrics.sse_refused.inc();
            return Err(full);
        }
        open.0 += 1;
        *open.1.entry(caller.to_owned()).or_default() += 1;
        self.metrics.sse_clients.set(open.0 as i64);
        Ok(Slot {
            slots: self.clone(),
            caller: caller.to_owned(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.caller);
            }
        }
        self.slots.metrics.sse_clients.set(open.0 as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_capped_in_all_and_per_caller_and_slots_come_back() {
        let slots = SseSlots::new(3, 2, Arc::new(Metrics::default()));
        let a1 = slots.take("a").unwrap();
        let _a2 = slots.take("a").unwrap();
        assert_eq!(slots.take("a").err(), Some(Full::Caller(2)));
        let _b1 = slots.take("b").unwrap();
        assert_eq!(slots.take("c").err(), Some(Full::Process(3)));
        drop(a1);
        assert!(
            slots.take("a").is_ok(),
            "a closed stream gives its slot back"
        );
    }
}
