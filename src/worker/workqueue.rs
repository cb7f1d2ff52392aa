//! The controller's work queue, with the semantics of client-go's workqueue and kube-rs's
//! scheduler: a key is a reason to look again, not a recipe.
//!
//! - Any number of triggers for a key while it is queued coalesce into one reconcile; triggers
//!   while it runs cause exactly one more reconcile after it.
//! - At most one reconcile per key at a time (in this process).
//! - Delayed requeues keep the earliest due time; failures back off per key (exponential with
//!   jitter) until the key succeeds once.
//! - `trigger_and_wait` resolves when a reconcile that started after the trigger has finished,
//!   so a durable trigger is acknowledged only once its effect is done.
//!
//! Time is tokio's, so tests run it paused.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::Mutex,
    time::Duration,
};

use tokio::{
    sync::{Notify, oneshot},
    time::Instant,
};

#[derive(Default)]
struct State {
    ready: VecDeque<String>,
    queued: HashSet<String>,
    running: HashSet<String>,
    /// Triggered while running: queue again when done.
    dirty: HashSet<String>,
    /// Delayed triggers, with the earliest due time per key (older entries are skipped).
    timers: BTreeMap<(Instant, u64), String>,
    due: HashMap<String, Instant>,
    seq: u64,
    /// Consecutive failures per key.
    failures: HashMap<String, u32>,
    /// Waiting for the next reconcile of the key to start, then to finish.
    waiting_start: HashMap<String, Vec<oneshot::Sender<()>>>,
    waiting_finish: HashMap<String, Vec<oneshot::Sender<()>>>,
    shut_down: bool,
}

impl State {
    fn enqueue(&mut self, key: &str) -> bool {
        if self.running.contains(key) {
            self.dirty.insert(key.to_owned());
            return false;
        }
        if self.queued.insert(key.to_owned()) {
            self.ready.push_back(key.to_owned());
            return true;
        }
        false
    }

    /// Moves due timers to the ready queue; returns the next due time, if any.
    fn fire_timers(&mut self, now: Instant) -> Option<Instant> {
        while let Some((&(at, seq), _)) = self.timers.iter().next() {
            if at > now {
                return Some(at);
            }
            let key = self.timers.remove(&(at, seq)).expect("present");
            if self.due.get(&key) == Some(&at) {
                self.due.remove(&key);
                self.enqueue(&key);
            }
        }
        None
    }
}

/// Per-key back-off after failures: `base` doubling up to `max`, jittered ±20 %.
#[derive(Debug, Clone, Copy)]
pub struct FailureBackoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for FailureBackoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(200),
            max: Duration::from_secs(300),
        }
    }
}

impl FailureBackoff {
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        let d = self.base.saturating_mul(1 << exp).min(self.max);
        d.mul_f64(0.8 + 0.4 * rand::random::<f64>())
    }
}

pub struct WorkQueue {
    state: Mutex<State>,
    wake: Notify,
    backoff: FailureBackoff,
}

impl Default for WorkQueue {
    fn default() -> Self {
        Self::new(FailureBackoff::default())
    }
}

impl WorkQueue {
    pub fn new(backoff: FailureBackoff) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            backoff,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reconcile `key` as soon as a worker is free.
    pub fn trigger(&self, key: &str) {
        if self.lock().enqueue(key) {
            self.wake.notify_one();
        }
    }

    /// Reconcile `key` after `delay` (or sooner, if triggered meanwhile or already due earlier).
    pub fn trigger_after(&self, key: &str, delay: Duration) {
        if delay.is_zero() {
            return self.trigger(key);
        }
        let at = Instant::now() + delay;
        let mut st = self.lock();
        if st.due.get(key).is_some_and(|due| *due <= at) {
            return;
        }
        st.seq += 1;
        let seq = st.seq;
        st.timers.insert((at, seq), key.to_owned());
        st.due.insert(key.to_owned(), at);
        drop(st);
        // A sleeping worker may need to wake earlier than it planned.
        self.wake.notify_one();
    }

    /// Triggers `key` and resolves once a reconcile of it that started after this call has
    /// finished (whatever its outcome).
    pub async fn trigger_and_wait(&self, key: &str) {
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.lock();
            st.waiting_start.entry(key.to_owned()).or_default().push(tx);
            if st.enqueue(key) {
                self.wake.notify_one();
            }
        }
        let _ = rx.await;
    }

    /// The next key to reconcile, waiting for one; None once shut down.
    pub async fn next(&self) -> Option<String> {
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next_timer = {
                let mut st = self.lock();
                if st.shut_down {
                    return None;
                }
                let next_timer = st.fire_timers(Instant::now());
                if let Some(key) = st.ready.pop_front() {
                    st.queued.remove(&key);
                    st.running.insert(key.clone());
                    if let Some(w) = st.waiting_start.remove(&key) {
                        st.waiting_finish.entry(key.clone()).or_default().extend(w);
                    }
                    if !st.ready.is_empty() {
                        // Let another idle worker take the next one.
                        self.wake.notify_one();
                    }
                    return Some(key);
                }
                next_timer
            };
            match next_timer {
                Some(at) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `key` finished; `ok` resets its failure back-off, otherwise it is retried after
    /// the back-off. Returns the delay when a retry was scheduled.
    pub fn done(&self, key: &str, ok: bool) -> Option<Duration> {
        let (waiters, retry) = {
            let mut st = self.lock();
            st.running.remove(key);
            let retry = if ok {
                st.failures.remove(key);
                None
            } else {
                let n = st.failures.entry(key.to_owned()).or_insert(0);
                *n += 1;
                Some(self.backoff.delay(*n))
            };
            if st.dirty.remove(key) {
                st.enqueue(key);
                self.wake.notify_one();
            }
            (st.waiting_finish.remove(key).unwrap_or_default(), retry)
        };
        for w in waiters {
            let _ = w.send(());
        }
        if let Some(delay) = retry {
            self.trigger_after(key, delay);
        }
        retry
    }

    /// How many keys are ready or running (for metrics).
    pub fn depth(&self) -> (usize, usize, usize) {
        let st = self.lock();
        (st.ready.len(), st.running.len(), st.due.len())
    }

    /// Wakes every worker with None from `next`.
    pub fn shut_down(&self) {
        self.lock().shut_down = true;
        self.wake.notify_waiters();
    }
}

#[cfg(test)]
#[path = "workqueue_tests.rs"]
mod tests;
