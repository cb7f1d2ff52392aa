//! Typed configuration, loaded once at start-up from CLI flags and `BLUEBERRY_*` variables.
//!
//! | flag | variable | default |
//! |---|---|---|
//! | `--listen` | `BLUEBERRY_LISTEN` | `127.0.0.1:8080` |
//! | `--data-dir` | `BLUEBERRY_DATA_DIR` | `.blueberry` |
//! | `--public-url` | `BLUEBERRY_PUBLIC_URL` | `http://{listen}` |
//! | `--base-domain` | `BLUEBERRY_BASE_DOMAIN` | `preview.localhost` |
//! | `--default-ttl-hours` | `BLUEBERRY_DEFAULT_TTL_HOURS` | `72` |
//! | `--kubeconfig` | `BLUEBERRY_KUBECONFIG` | none: start the simulated cluster |
//! | `--in-cluster` | `BLUEBERRY_IN_CLUSTER` | off |
//! | `--argocd-namespace` | `BLUEBERRY_ARGOCD_NAMESPACE` | `argocd` |
//! | `--argocd-project` | `BLUEBERRY_ARGOCD_PROJECT` | `blueberry-environments` |
//! | `--namespace-prefix` | `BLUEBERRY_NAMESPACE_PREFIX` | `bb-` |
//! | `--wake-service` | `BLUEBERRY_WAKE_SERVICE` | `blueberry.blueberry.svc.cluster.local` |
//! | `--cost-vcpu-hour`, `--cost-gib-hour` | `BLUEBERRY_COST_VCPU_HOUR`, `…_GIB_HOUR` | `0.0445`, `0.0049225` |
//! | `--wake-on-visit` | `BLUEBERRY_WAKE_ON_VISIT` | `humans` (`any`, `never`) |
//! | `--destination-server` | `BLUEBERRY_DESTINATION_SERVER` | `https://kubernetes.default.svc` |
//! | `--sim-ready-delay-ms` | `BLUEBERRY_SIM_READY_DELAY_MS` | `1500` |
//! | `--sim-refresh-delay-ms` | `BLUEBERRY_SIM_REFRESH_DELAY_MS` | `200` |
//! | `--workers` | `BLUEBERRY_WORKERS` | `4` |
//! | `--max-attempts` | `BLUEBERRY_MAX_ATTEMPTS` | `5` |
//! | `--retry-base-delay-ms` | `BLUEBERRY_RETRY_BASE_DELAY_MS` | `5000` |
//! | `--provision-timeout-secs` | `BLUEBERRY_PROVISION_TIMEOUT_SECS` | `600` |
//! | `--reaper-interval-secs` | `BLUEBERRY_REAPER_INTERVAL_SECS` | `60` |
//! | `--job-lease-secs` | `BLUEBERRY_JOB_LEASE_SECS` | `60` |
//! | `--resync-secs` | `BLUEBERRY_RESYNC_SECS` | `600` |
//! | `--max-deliveries` | `BLUEBERRY_MAX_DELIVERIES` | `20` |
//! | `--role` | `BLUEBERRY_ROLE` | `all` (`api`, `worker`) |
//! | `--store` | `BLUEBERRY_STORE` | `sqlite` (`firestore`) |
//! | `--queue` | `BLUEBERRY_QUEUE` | `embedded` (`pubsub`) |
//! | `--bus` | `BLUEBERRY_BUS` | `local` (`redis`) |
//! | `--cache` | `BLUEBERRY_CACHE` | `none` (`redis`) |
//! | `--gcp-project` | `BLUEBERRY_GCP_PROJECT` | none |
//! | `--firestore-database` | `BLUEBERRY_FIRESTORE_DATABASE` | `(default)` |
//! | `--firestore-emulator-host` | `FIRESTORE_EMULATOR_HOST` | none |
//! | `--pubsub-endpoint` | `BLUEBERRY_PUBSUB_ENDPOINT` | none (Google's) |
//! | `--pubsub-topic` | `BLUEBERRY_PUBSUB_TOPIC` | `blueberry-jobs` |
//! | `--pubsub-subscription` | `BLUEBERRY_PUBSUB_SUBSCRIPTION` | `blueberry-jobs-workers` |
//! | `--pubsub-dead-letter-topic` | `BLUEBERRY_PUBSUB_DEAD_LETTER_TOPIC` | `blueberry-jobs-dead-letter` |
//! | `--pubsub-create` | `BLUEBERRY_PUBSUB_CREATE` | off |
//! | `--redis-url` | `BLUEBERRY_REDIS_URL` | none (secret: may hold a password) |
//! | `--gitlab-url` | `BLUEBERRY_GITLAB_URL` | none: GitLab feedback is only recorded |
//! | `--gitlab-token` | `BLUEBERRY_GITLAB_TOKEN` | none (secret) |
//! | `--max-deletions-per-minute` | `BLUEBERRY_MAX_DELETIONS_PER_MINUTE` | `20` |
//! | `--max-environments` | `BLUEBERRY_MAX_ENVIRONMENTS` | unlimited |
//! | `--expiry-warnings-hours` | `BLUEBERRY_EXPIRY_WARNINGS_HOURS` | `24,1` |
//! | `--gitlab-requests-per-second` | `BLUEBERRY_GITLAB_REQUESTS_PER_SECOND` | `10` |
//! | `--gitlab-note-window-ms` | `BLUEBERRY_GITLAB_NOTE_WINDOW_MS` | `1000` |
//! | `--webhook-body-limit` | `BLUEBERRY_WEBHOOK_BODY_LIMIT` | `1048576` bytes |
//! | `--bootstrap-token` | `BLUEBERRY_BOOTSTRAP_TOKEN` | none: a fresh admin token is printed once (secret) |
//! | `--session-key` | `BLUEBERRY_SESSION_KEY` | random per process (secret; set it when running replicas) |
//! | `--firebase-api-key` | `BLUEBERRY_FIREBASE_API_KEY` | none: no Firebase sign-in form |
//! | `--protect-metrics` | `BLUEBERRY_PROTECT_METRICS` | off |
//! | `--public-status-pages` | `BLUEBERRY_PUBLIC_STATUS_PAGES` | off |
//! | `--retain-terminated-days` | `BLUEBERRY_RETAIN_TERMINATED_DAYS` | `7` |
//! | `--archive-bucket` | `BLUEBERRY_ARCHIVE_BUCKET` | none: archives under `{data-dir}/archive/` |
//! | `--gcs-endpoint` | `BLUEBERRY_GCS_ENDPOINT` | none (Google's) |
//! | `--log-format` | `BLUEBERRY_LOG_FORMAT` | `text` on a terminal, `json` otherwise |
//!
//! Long on purpose: one clap field per flag (about sixty), each with its doc, under the table of
//! every flag; parsing helpers are in `parse.rs`, checks across flags in `validate.rs`, tests in
//! `tests.rs`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};

use self::parse::{
    parse_domain, parse_positive, parse_rate, parse_secret, parse_session_key, parse_ttl, parse_url,
};
use crate::domain::TtlHours;

/// Which parts of Blueberry this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// HTTP (API, webhooks, UI, SSE) only.
    Api,
    /// Workers and the reaper (HTTP serves health and metrics for probes).
    Worker,
    /// Everything in one process.
    All,
}

impl Role {
    pub fn runs_workers(self) -> bool {
        matches!(self, Role::Worker | Role::All)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    Sqlite,
    Firestore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueKind {
    Embedded,
    Pubsub,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BusKind {
    Local,
    Redis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CacheKind {
    None,
    Redis,
}

/// Which visits to a sleeping environment's URL wake it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WakeOnVisit {
    /// A `GET` from anything but a known bot or link unfurler.
    Humans,
    /// Any request but `HEAD`.
    Any,
    /// None: only `/blueberry wake`, the API and the status page wake it.
    Never,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Settings of `blueberry serve`. Every field is a flag and a `BLUEBERRY_*` variable.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, env = "BLUEBERRY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Folder for the embedded database (created if missing).
    #[arg(long, env = "BLUEBERRY_DATA_DIR", default_value = ".blueberry")]
    pub data_dir: PathBuf,

    /// URL people reach Blueberry at, used in links to status pages [default: http://{listen}].
    #[arg(long, env = "BLUEBERRY_PUBLIC_URL", value_parser = parse_url)]
    pub public_url: Option<String>,

    /// Environments are served on `{id}.{base-domain}`.
    #[arg(long, env = "BLUEBERRY_BASE_DOMAIN", default_value = "preview.localhost", value_parser = parse_domain)]
    pub base_domain: String,

    /// Lifetime of a new environment when the request names none (1..=168 hours).
    #[arg(long, env = "BLUEBERRY_DEFAULT_TTL_HOURS", default_value = "72", value_parser = parse_ttl)]
    pub default_ttl_hours: TtlHours,

    /// Kubeconfig of the cluster running Argo CD. Without it (and without --in-cluster) a
    /// simulated cluster is started in-process.
    #[arg(long, env = "BLUEBERRY_KUBECONFIG", conflicts_with = "in_cluster")]
    pub kubeconfig: Option<PathBuf>,

    /// Use the pod's service account (when running inside Kubernetes).
    #[arg(long, env = "BLUEBERRY_IN_CLUSTER")]
    pub in_cluster: bool,

    /// Namespace Argo CD watches for Applications.
    #[arg(long, env = "BLUEBERRY_ARGOCD_NAMESPACE", default_value = "argocd")]
    pub argocd_namespace: String,

    /// Argo CD project environment Applications belong to.
    #[arg(
        long,
        env = "BLUEBERRY_ARGOCD_PROJECT",
        default_value = "blueberry-environments"
    )]
    pub argocd_project: String,

    /// Environments run in namespace `{prefix}{id}`; the Argo CD project allows only those.
    #[arg(long, env = "BLUEBERRY_NAMESPACE_PREFIX", default_value = "bb-")]
    pub namespace_prefix: String,

    /// Blueberry's Service as a DNS name: a sleeping environment's host is sent there (an
    /// ExternalName Service), so a visit reaches the "waking up" page.
    #[arg(
        long,
        env = "BLUEBERRY_WAKE_SERVICE",
        default_value = "blueberry.blueberry.svc.cluster.local"
    )]
    pub wake_service: String,

    /// Prometheus with ingress-nginx's metrics (e.g. `http://prometheus.monitoring:9090`):
    /// requests to an environment's host count as activity, so visited environments do not
    /// sleep for being idle. Without it, activity is pushes, commands, wakes and status-page
    /// visits.
    #[arg(long, env = "BLUEBERRY_PROMETHEUS_URL", value_parser = parse_url)]
    pub prometheus_url: Option<String>,

    /// How often ingress traffic is read from Prometheus, in seconds.
    #[arg(long, env = "BLUEBERRY_PROMETHEUS_INTERVAL_SECS", default_value = "60", value_parser = parse_positive)]
    pub prometheus_interval_secs: u32,

    /// API server environments are deployed to (Application destination).
    #[arg(
        long,
        env = "BLUEBERRY_DESTINATION_SERVER",
        default_value = "https://kubernetes.default.svc"
    )]
    pub destination_server: String,

    /// Simulated cluster only: how long Argo CD "takes" to make an Application Healthy.
    #[arg(long, env = "BLUEBERRY_SIM_READY_DELAY_MS", default_value_t = 1500)]
    pub sim_ready_delay_ms: u64,

    /// Simulated cluster only: how long Argo CD takes to notice a changed Application.
    #[arg(long, env = "BLUEBERRY_SIM_REFRESH_DELAY_MS", default_value_t = 200)]
    pub sim_refresh_delay_ms: u64,

    /// Lifecycle jobs processed in parallel.
    #[arg(long, env = "BLUEBERRY_WORKERS", default_value = "4", value_parser = parse_positive)]
    pub workers: u32,

    /// Provisioning attempts before an environment is marked failed.
    #[arg(long, env = "BLUEBERRY_MAX_ATTEMPTS", default_value = "5", value_parser = parse_positive)]
    pub max_attempts: u32,

    /// Delay before the second attempt; doubles with each further attempt.
    #[arg(long, env = "BLUEBERRY_RETRY_BASE_DELAY_MS", default_value_t = 5000)]
    pub retry_base_delay_ms: u64,

    /// How long one attempt may wait for Healthy and Synced.
    #[arg(long, env = "BLUEBERRY_PROVISION_TIMEOUT_SECS", default_value = "600", value_parser = parse_positive)]
    pub provision_timeout_secs: u32,

    /// How often the reaper looks for expired environments.
    #[arg(long, env = "BLUEBERRY_REAPER_INTERVAL_SECS", default_value = "60", value_parser = parse_positive)]
    pub reaper_interval_secs: u32,

    /// How long a worker holds a job before another may take it (extended while it runs).
    #[arg(long, env = "BLUEBERRY_JOB_LEASE_SECS", default_value = "60", value_parser = parse_positive)]
    pub job_lease_secs: u32,

    /// Deliveries of one job before it is moved to the dead letters.
    #[arg(long, env = "BLUEBERRY_MAX_DELIVERIES", default_value = "20", value_parser = parse_positive)]
    pub max_deliveries: u32,

    /// What this process runs: `all`, or `api` and `worker` to scale them apart.
    #[arg(long, env = "BLUEBERRY_ROLE", value_enum, default_value_t = Role::All)]
    pub role: Role,

    /// Where metadata lives.
    #[arg(long, env = "BLUEBERRY_STORE", value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,

    /// Where lifecycle jobs are queued.
    #[arg(long, env = "BLUEBERRY_QUEUE", value_enum, default_value_t = QueueKind::Embedded)]
    pub queue: QueueKind,

    /// How status changes reach SSE clients: in-process, or through Redis to every replica.
    #[arg(long, env = "BLUEBERRY_BUS", value_enum, default_value_t = BusKind::Local)]
    pub bus: BusKind,

    /// Cache for hot environment reads.
    #[arg(long, env = "BLUEBERRY_CACHE", value_enum, default_value_t = CacheKind::None)]
    pub cache: CacheKind,

    /// Google Cloud project (Firestore and Pub/Sub).
    #[arg(long, env = "BLUEBERRY_GCP_PROJECT")]
    pub gcp_project: Option<String>,

    /// Firestore database id.
    #[arg(
        long,
        env = "BLUEBERRY_FIRESTORE_DATABASE",
        default_value = "(default)"
    )]
    pub firestore_database: String,

    /// host:port of the Firestore emulator (no credentials are used with it).
    #[arg(long, env = "FIRESTORE_EMULATOR_HOST")]
    pub firestore_emulator_host: Option<String>,

    /// Pub/Sub endpoint URL, e.g. the emulator's http://127.0.0.1:8085 (anonymous credentials
    /// are used with it).
    #[arg(long, env = "BLUEBERRY_PUBSUB_ENDPOINT", value_parser = parse_url)]
    pub pubsub_endpoint: Option<String>,

    /// Topic lifecycle jobs are published to.
    #[arg(long, env = "BLUEBERRY_PUBSUB_TOPIC", default_value = "blueberry-jobs")]
    pub pubsub_topic: String,

    /// Subscription workers pull from (message ordering enabled).
    #[arg(
        long,
        env = "BLUEBERRY_PUBSUB_SUBSCRIPTION",
        default_value = "blueberry-jobs-workers"
    )]
    pub pubsub_subscription: String,

    /// Topic jobs go to after too many deliveries.
    #[arg(
        long,
        env = "BLUEBERRY_PUBSUB_DEAD_LETTER_TOPIC",
        default_value = "blueberry-jobs-dead-letter"
    )]
    pub pubsub_dead_letter_topic: String,

    /// Publish without Pub/Sub ordering keys. Not needed with the emulator any more (which never
    /// redelivers ordered messages a crashed subscriber held): the watch, the resync and the
    /// outbox relay find what such a message would have triggered. Production keeps ordering on.
    #[arg(long, env = "BLUEBERRY_PUBSUB_UNORDERED")]
    pub pubsub_unordered: bool,

    /// Create the topics and subscription at start when missing (emulator, development);
    /// otherwise they must exist (Terraform creates them).
    #[arg(long, env = "BLUEBERRY_PUBSUB_CREATE")]
    pub pubsub_create: bool,

    /// Redis URL for `--bus redis` and `--cache redis`, e.g. redis://127.0.0.1:6379.
    #[arg(long, env = "BLUEBERRY_REDIS_URL", value_parser = parse_secret, hide_env_values = true)]
    pub redis_url: Option<secrecy::SecretString>,

    /// GitLab's base URL, e.g. https://gitlab.example.com. Without it (and a token) Blueberry
    /// records in each environment's events what it would have told GitLab.
    #[arg(long, env = "BLUEBERRY_GITLAB_URL", value_parser = parse_url)]
    pub gitlab_url: Option<String>,

    /// GitLab token with `api` scope (a project or group access token of a bot user).
    #[arg(long, env = "BLUEBERRY_GITLAB_TOKEN", value_parser = parse_secret, hide_env_values = true)]
    pub gitlab_token: Option<secrecy::SecretString>,

    /// Teardowns a minute Blueberry starts on its own (expiry); above it, it stops, logs, shows
    /// a banner and waits until an admin confirms. Teardowns people ask for are never held.
    #[arg(long, env = "BLUEBERRY_MAX_DELETIONS_PER_MINUTE", default_value = "20", value_parser = parse_positive)]
    pub max_deletions_per_minute: u32,

    /// Running environments on the platform as a whole; a new one over it waits in line
    /// (`pending`, with its `queue_position`) and starts when one ends. Unlimited when absent.
    #[arg(long, env = "BLUEBERRY_MAX_ENVIRONMENTS", value_parser = parse_positive)]
    pub max_environments: Option<u32>,

    /// Dollars per requested vCPU-hour, to price environments. The default is GKE Autopilot's
    /// published general-purpose Pod price in us-central1; set your region's.
    #[arg(long, env = "BLUEBERRY_COST_VCPU_HOUR", default_value = "0.0445", value_parser = parse_rate)]
    pub cost_vcpu_hour: f64,

    /// Dollars per requested GiB of memory per hour (GKE Autopilot general-purpose Pod,
    /// us-central1, by default).
    #[arg(long, env = "BLUEBERRY_COST_GIB_HOUR", default_value = "0.0049225", value_parser = parse_rate)]
    pub cost_gib_hour: f64,

    /// Hours before expiry at which a merge request is told its environment expires soon (the
    /// note refreshed, one comment mentioning the author), e.g. `24,1`.
    #[arg(
        long,
        env = "BLUEBERRY_EXPIRY_WARNINGS_HOURS",
        value_delimiter = ',',
        default_value = "24,1"
    )]
    pub expiry_warnings_hours: Vec<u32>,

    /// Requests per second Blueberry sends to GitLab at most (one budget per GitLab host; bursts
    /// of as many). GitLab's own `RateLimit-Remaining`/`Retry-After` are honoured on top.
    #[arg(long, env = "BLUEBERRY_GITLAB_REQUESTS_PER_SECOND", default_value = "10", value_parser = parse_positive)]
    pub gitlab_requests_per_second: u32,

    /// Milliseconds a merge request's sticky note waits after a change, so that the changes of
    /// that window are one note update (commit statuses are sent at once). 0 writes each change.
    #[arg(long, env = "BLUEBERRY_GITLAB_NOTE_WINDOW_MS", default_value = "1000")]
    pub gitlab_note_window_ms: u64,

    /// Largest webhook body accepted, in bytes.
    #[arg(long, env = "BLUEBERRY_WEBHOOK_BODY_LIMIT", default_value = "1048576", value_parser = parse_positive)]
    pub webhook_body_limit: u32,

    /// Webhook deliveries accepted per repository per second, with bursts of ten times that;
    /// beyond it GitLab gets 429 with `Retry-After` and retries. 0 turns the limit off.
    #[arg(long, env = "BLUEBERRY_WEBHOOK_RATE", default_value = "100")]
    pub webhook_rate: u32,

    /// SSE streams one process serves at most; more get 503 with `Retry-After`.
    #[arg(long, env = "BLUEBERRY_MAX_SSE_CLIENTS", default_value = "10000", value_parser = parse_positive)]
    pub max_sse_clients: u32,

    /// SSE streams one API token or user may hold open on one process.
    #[arg(long, env = "BLUEBERRY_MAX_SSE_CLIENTS_PER_CALLER", default_value = "100", value_parser = parse_positive)]
    pub max_sse_clients_per_caller: u32,

    /// A request that has not been answered after this long gets 503 (SSE streams are answered
    /// at once and then stay open).
    #[arg(long, env = "BLUEBERRY_REQUEST_TIMEOUT_SECS", default_value = "30", value_parser = parse_positive)]
    pub request_timeout_secs: u32,

    /// An admin API token (`bb_` + at least 32 characters) to create if missing, for scripted
    /// set-ups. Without it, the first start prints a fresh admin token and login URL once.
    #[arg(long, env = "BLUEBERRY_BOOTSTRAP_TOKEN", value_parser = parse_secret, hide_env_values = true)]
    pub bootstrap_token: Option<secrecy::SecretString>,

    /// Key that signs browser session cookies (at least 32 characters). Random per process when
    /// absent, which logs everyone out on restart and does not work across replicas.
    #[arg(long, env = "BLUEBERRY_SESSION_KEY", value_parser = parse_session_key, hide_env_values = true)]
    pub session_key: Option<secrecy::SecretString>,

    /// Every live environment is reconciled at least this often, whatever the watch reported
    /// (a level-triggered safety net; the watch and the job queue trigger sooner).
    #[arg(long, alias = "stale-after-secs", env = "BLUEBERRY_RESYNC_SECS", default_value = "600", value_parser = parse_positive)]
    pub resync_secs: u32,

    /// Terminated environments stay in the store this many days, then leave it; their archive
    /// (`--archive-bucket`, or `{data-dir}/archive/`) keeps answering for them.
    #[arg(long, env = "BLUEBERRY_RETAIN_TERMINATED_DAYS", default_value = "7", value_parser = parse_positive)]
    pub retain_terminated_days: u32,

    /// GCS bucket for archives of terminated environments (`gs://{bucket}/environments/…`);
    /// without it they are files under `{data-dir}/archive/`.
    #[arg(long, env = "BLUEBERRY_ARCHIVE_BUCKET")]
    pub archive_bucket: Option<String>,

    /// Cloud Storage endpoint URL, e.g. an emulator's http://127.0.0.1:4443 (anonymous
    /// credentials are used with it).
    #[arg(long, env = "BLUEBERRY_GCS_ENDPOINT", value_parser = parse_url)]
    pub gcs_endpoint: Option<String>,

    /// A worker holds an environment's lease while it reconciles it, so at most one worker
    /// replica reconciles an environment at a time; a dead worker's lease runs out after this
    /// long. Leases live in Firestore with `--store firestore`, in memory otherwise.
    #[arg(long, env = "BLUEBERRY_RECONCILE_LEASE_SECS", default_value = "30", value_parser = parse_positive)]
    pub reconcile_lease_secs: u32,

    /// Firebase project whose ID tokens are accepted (`aud`); off when absent.
    #[arg(long, env = "BLUEBERRY_FIREBASE_PROJECT")]
    pub firebase_project: Option<String>,

    /// Where Google publishes the keys that sign Firebase ID tokens (JWKS).
    #[arg(long, env = "BLUEBERRY_FIREBASE_JWKS_URL", default_value = "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com", value_parser = parse_url)]
    pub firebase_jwks_url: String,

    /// The Firebase project's Web API key (public, not a secret): the login page then offers
    /// email and password sign-in through Firebase Auth.
    #[arg(long, env = "BLUEBERRY_FIREBASE_API_KEY")]
    pub firebase_api_key: Option<String>,

    /// Firebase Auth's REST endpoint the login page signs in with.
    #[arg(long, env = "BLUEBERRY_FIREBASE_AUTH_URL", default_value = "https://identitytoolkit.googleapis.com", value_parser = parse_url)]
    pub firebase_auth_url: String,

    /// Emails or `@domains` that are admins (comma-separated).
    #[arg(long, env = "BLUEBERRY_FIREBASE_ADMINS", value_delimiter = ',')]
    pub firebase_admins: Vec<String>,

    /// Emails or `@domains` that are developers (comma-separated).
    #[arg(long, env = "BLUEBERRY_FIREBASE_DEVELOPERS", value_delimiter = ',')]
    pub firebase_developers: Vec<String>,

    /// Emails or `@domains` that are viewers (comma-separated).
    #[arg(long, env = "BLUEBERRY_FIREBASE_VIEWERS", value_delimiter = ',')]
    pub firebase_viewers: Vec<String>,

    /// Make signed-in users who match no rule viewers (otherwise they are refused).
    #[arg(long, env = "BLUEBERRY_FIREBASE_UNKNOWN_USERS_VIEW")]
    pub firebase_unknown_users_view: bool,

    /// Require a viewer token for `/metrics` (public by default, for Prometheus).
    #[arg(long, env = "BLUEBERRY_PROTECT_METRICS")]
    pub protect_metrics: bool,

    /// Let anyone with the link read environment status pages (actions still need a role).
    #[arg(long, env = "BLUEBERRY_PUBLIC_STATUS_PAGES")]
    pub public_status_pages: bool,

    /// Which visits to a sleeping environment's URL wake it (`HEAD` never does).
    #[arg(
        long,
        env = "BLUEBERRY_WAKE_ON_VISIT",
        value_enum,
        default_value = "humans"
    )]
    pub wake_on_visit: WakeOnVisit,
}

/// A combination of settings that cannot work, named so the operator can fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Default for Config {
    /// The defaults above, for tests and embedding (no environment variables read).
    fn default() -> Self {
        use clap::{CommandFactory, FromArgMatches, Parser};
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            config: Config,
        }
        let mut cmd = Defaults::command();
        // Ignore BLUEBERRY_* variables: defaults must not depend on the process environment.
        cmd = cmd.mut_args(|a| a.env(None::<&str>).hide_env(true));
        let matches = cmd.get_matches_from(["blueberry"]);
        Defaults::from_arg_matches(&matches)
            .expect("defaults parse")
            .config
    }
}

mod parse;
#[cfg(test)]
mod tests;
mod validate;
