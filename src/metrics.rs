//! Prometheus metrics, all named `blueberry_*`, served at `/metrics`.

use std::sync::Mutex;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::ports::QueueDepth;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub kind: String,
    pub outcome: String,
}

/// One GitLab call: which endpoint (`create_note`, `set_commit_status`, …) and how it ended
/// (`ok`, `not_found`, `rate_limited`, `unavailable`, `rejected`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GitLabLabels {
    pub endpoint: String,
    pub outcome: String,
}

/// One try at delivering a notification: `delivered`, `retrying` or `gave_up`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub environments_created: Counter,
    pub jobs: Family<JobLabels, Counter>,
    pub retries: Family<JobLabels, Counter>,
    pub queue_depth: Family<StateLabels, Gauge>,
    pub create_to_ready_seconds: Histogram,
    pub job_seconds: Histogram,
    pub reconcile_seconds: Histogram,
    /// Jobs and reconciles that panicked (caught; they are retried).
    pub panics: Counter,
    /// Managed Applications seen without an environment record (left alone).
    pub unowned: Counter,
    /// Webhook deliveries refused with 429 (a repository over `--webhook-rate`).
    pub webhooks_rate_limited: Counter,
    /// Open SSE streams of this process.
    pub sse_clients: Gauge,
    /// SSE streams refused over `--max-sse-clients` or the per-caller cap.
    pub sse_refused: Counter,
    /// GitLab API calls (each attempt), by endpoint and outcome.
    pub gitlab_requests: Family<GitLabLabels, Counter>,
    /// GitLab answers of 429, and calls held back because GitLab said none remained.
    pub gitlab_rate_limited: Counter,
    /// Expiry teardowns held over `--max-deletions-per-minute`.
    pub deletions_held: Counter,
    /// Notification delivery tries, by outcome.
    pub notifications: Family<OutcomeLabels, Counter>,
    /// Dollars environments cost while awake, and saved asleep, counted as each stretch ends
    /// (a sleep, a wake, a teardown, new requests).
    pub cost_dollars: Counter<f64, std::sync::atomic::AtomicU64>,
    pub saved_dollars: Counter<f64, std::sync::atomic::AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let environments_created = Counter::default();
        let jobs = Family::<JobLabels, Counter>::default();
        let retries = Family::<JobLabels, Counter>::default();
        let queue_depth = Family::<StateLabels, Gauge>::default();
        let create_to_ready_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 16));
        let job_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 20));
        let reconcile_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 20));
        let panics = Counter::default();
        let unowned = Counter::default();
        let webhooks_rate_limited = Counter::default();
        let sse_clients = Gauge::default();
        let sse_refused = Counter::default();
        let gitlab_requests = Family::<GitLabLabels, Counter>::default();
        let gitlab_rate_limited = Counter::default();
        let deletions_held = Counter::default();
        let notifications = Family::<OutcomeLabels, Counter>::default();
        let cost_dollars = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        let saved_dollars = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "blueberry_environment_cost_dollars",
            "Dollars environments cost while awake (requests × time × --cost-* rates), counted as each stretch ends",
            cost_dollars.clone(),
        );
        registry.register(
            "blueberry_environment_saved_dollars",
            "Dollars sleeping saved (what the asleep time would have cost awake)",
            saved_dollars.clone(),
        );
        registry.register(
            "blueberry_notifications",
            "Notification delivery tries (every attempt), by outcome",
            notifications.clone(),
        );
        registry.register(
            "blueberry_deletions_held",
            "Expiry teardowns held over --max-deletions-per-minute until an admin confirms",
            deletions_held.clone(),
        );
        registry.register(
            "blueberry_gitlab_requests",
            "GitLab API calls (every attempt), by endpoint and outcome",
            gitlab_requests.clone(),
        );
        registry.register(
            "blueberry_gitlab_rate_limited",
            "GitLab 429 answers, and calls held back because RateLimit-Remaining was 0",
            gitlab_rate_limited.clone(),
        );
        registry.register(
            "blueberry_sse_clients",
            "Open SSE streams of this process",
            sse_clients.clone(),
        );
        registry.register(
            "blueberry_sse_refused",
            "SSE streams refused: over --max-sse-clients or the per-caller cap",
            sse_refused.clone(),
        );
        registry.register(
            "blueberry_webhooks_rate_limited",
            "Webhook deliveries refused with 429: their repository was over --webhook-rate",
            webhooks_rate_limited.clone(),
        );
        registry.register(
            "blueberry_reconcile_duration_seconds",
            "Time one reconcile took (it never waits for Argo CD)",
            reconcile_seconds.clone(),
        );
        registry.register(
            "blueberry_panics",
            "Jobs and reconciles that panicked; caught, counted and retried",
            panics.clone(),
        );
        registry.register(
            "blueberry_unowned_applications",
            "Managed Applications seen with no environment record; never deleted for that",
            unowned.clone(),
        );
        registry.register(
            "blueberry_environments_created",
            "Environments created (including recreated)",
            environments_created.clone(),
        );
        registry.register(
            "blueberry_jobs",
            "Lifecycle jobs run, by kind and outcome",
            jobs.clone(),
        );
        registry.register(
            "blueberry_retries",
            "Retries: transient errors retried inside a step and provisioning attempts scheduled",
            retries.clone(),
        );
        registry.register(
            "blueberry_queue_depth",
            "Lifecycle jobs by state",
            queue_depth.clone(),
        );
        registry.register(
            "blueberry_create_to_ready_seconds",
            "Time from the start of a deployment to ready",
            create_to_ready_seconds.clone(),
        );
        registry.register(
            "blueberry_job_duration_seconds",
            "Time one job took",
            job_seconds.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            environments_created,
            jobs,
            retries,
            queue_depth,
            create_to_ready_seconds,
            job_seconds,
            reconcile_seconds,
            panics,
            unowned,
            webhooks_rate_limited,
            sse_clients,
            sse_refused,
            gitlab_requests,
            gitlab_rate_limited,
            deletions_held,
            notifications,
            cost_dollars,
            saved_dollars,
        }
    }
}

impl Metrics {
    /// Counts what the stretches closed between `before` and `after` cost and saved.
    pub fn meter_closed(
        &self,
        before: &crate::domain::cost::Meter,
        after: &crate::domain::cost::Meter,
        rates: &crate::domain::cost::Rates,
    ) {
        let spent = rates.price(before.requests, after.awake_secs - before.awake_secs);
        let saved = rates.price(before.requests, after.asleep_secs - before.asleep_secs);
        if spent > 0.0 {
            self.cost_dollars.inc_by(spent);
        }
        if saved > 0.0 {
            self.saved_dollars.inc_by(saved);
        }
    }

    pub fn job(&self, kind: &str, outcome: &str) {
        self.jobs
            .get_or_create(&JobLabels {
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn retry(&self, kind: &str, outcome: &str) {
        self.retries
            .get_or_create(&JobLabels {
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn set_queue_depth(&self, d: QueueDepth) {
        for (state, n) in [
            ("ready", d.ready),
            ("delayed", d.delayed),
            ("in_flight", d.in_flight),
            ("dead", d.dead),
        ] {
            self.queue_depth
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .set(n as i64);
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        encode(&mut out, &registry).expect("writing to a String cannot fail");
        out
    }
}
