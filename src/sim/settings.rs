//! Server-wide behaviour of the simulated cluster, adjustable at run time (`PUT /sim/settings`).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

/// Settings shared by the API server and the Argo stand-in, changed through `/sim/settings`.
pub type SharedSettings = Arc<Mutex<SimSettings>>;

/// How the simulated API server and the simulated Argo CD behave.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSettings {
    /// How long Argo CD "takes" to sync an Application (the middle of the drawn range); the
    /// cascade finalizer takes half of it.
    pub ready_delay: Duration,
    /// Each sync takes `ready_delay` ± this percentage, drawn uniformly (0..=100).
    pub ready_jitter_pct: u8,
    /// How long Argo CD takes to notice a changed spec or a requested operation; until then it
    /// keeps reporting the previous status, as the real controller does.
    pub refresh_delay: Duration,
    /// Fraction of API calls answered with 503, 0.0..=1.0.
    pub error_rate: f64,
    /// Added to every API call.
    pub latency: Duration,
    /// When set, every open watch is closed this often, and every third time the watch
    /// history is compacted so that resuming gets `410 Gone`.
    pub drop_watches_every: Option<Duration>,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            ready_delay: Duration::from_millis(1500),
            ready_jitter_pct: 0,
            refresh_delay: Duration::from_millis(200),
            error_rate: 0.0,
            latency: Duration::ZERO,
            drop_watches_every: None,
        }
    }
}

impl SimSettings {
    /// A sync time drawn from `ready_delay` ± `ready_jitter_pct`.
    pub fn draw_sync_time(&self) -> Duration {
        let pct = f64::from(self.ready_jitter_pct.min(100)) / 100.0;
        if pct == 0.0 {
            return self.ready_delay;
        }
        let factor = 1.0 + pct * (2.0 * rand::random::<f64>() - 1.0);
        self.ready_delay.mul_f64(factor.max(0.0))
    }

    /// The longest sync time that can be drawn.
    pub fn slowest_sync_time(&self) -> Duration {
        self.ready_delay
            .mul_f64(1.0 + f64::from(self.ready_jitter_pct.min(100)) / 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_times_stay_inside_the_jitter_range() {
        let s = SimSettings {
            ready_delay: Duration::from_millis(8000),
            ready_jitter_pct: 50,
            ..SimSettings::default()
        };
        for _ in 0..1000 {
            let d = s.draw_sync_time();
            assert!(d >= Duration::from_millis(4000) && d <= Duration::from_millis(12000));
        }
        assert_eq!(s.slowest_sync_time(), Duration::from_millis(12000));
        let fixed = SimSettings::default();
        assert_eq!(fixed.draw_sync_time(), fixed.ready_delay);
    }
}
