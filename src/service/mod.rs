//! Use cases over the ports. HTTP handlers, the webhook receiver and the workers call these;
//! none of them touches an adapter directly.

pub mod access;
pub mod archive;
pub mod catalog;
pub mod changes;
pub mod deletions;
pub mod directory;
pub mod environments;
mod error;
pub mod notifications;
pub mod quotas;
pub mod recent;
pub mod sessions;
pub mod tokens;
pub mod webhooks;
pub mod writes;

use std::{sync::Arc, time::Duration};

pub use catalog::CatalogService;
pub use environments::EnvironmentService;
pub use error::ServiceError;

use crate::{
    clock::Clock,
    domain::{TtlHours, manifest::ManifestSettings},
    metrics::Metrics,
    ports::{
        AuditLog, Blobs, Bus, CatalogStore, Cluster, DeliveryLog, EnvironmentStore, GitHost,
        Leases, Outbox, Queue, Sessions, SubscriptionStore, TokenStore,
    },
};

/// The adapters chosen at start-up.
#[derive(Clone)]
pub struct Ports {
    pub environments: Arc<dyn EnvironmentStore>,
    /// Repositories and config sets.
    pub catalog: Arc<dyn CatalogStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub subscriptions: Arc<dyn SubscriptionStore>,
    pub audit: Arc<dyn AuditLog>,
    /// Webhook deliveries and each merge request's newest event.
    pub deliveries: Arc<dyn DeliveryLog>,
    /// Jobs written with a change, until published.
    pub outbox: Arc<dyn Outbox>,
    pub queue: Arc<dyn Queue>,
    pub bus: Arc<dyn Bus>,
    pub cluster: Arc<dyn Cluster>,
    /// Who reconciles which environment, across worker replicas.
    pub leases: Arc<dyn Leases>,
    /// Login links and ended sessions.
    pub sessions: Arc<dyn Sessions>,
    /// State every replica shares (the teardown brake).
    pub shared: Arc<dyn crate::ports::Shared>,
    pub githost: Arc<dyn GitHost>,
    pub clock: Arc<dyn Clock>,
    /// Archives of terminated environments (GCS, or files under the data directory).
    pub archive: Arc<dyn Blobs>,
}

/// Settings the use cases need, taken from the config once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub public_url: String,
    pub base_domain: String,
    pub default_ttl: TtlHours,
    pub manifest: ManifestSettings,
    /// The lifecycle's knobs: attempts, their back-off, the provision timeout, the resync.
    pub lifecycle: crate::domain::lifecycle::Policy,
    /// Largest webhook body accepted, in bytes.
    /// How long a worker's reconcile lease on an environment lasts if not given back.
    pub reconcile_lease: std::time::Duration,
    /// Webhook deliveries let in per repository per second (bursts of ten times that); 0: no
    /// limit.
    pub webhook_rate: u32,
    /// SSE streams per process, and per caller.
    pub max_sse_clients: usize,
    pub max_sse_clients_per_caller: usize,
    /// How long a request may take to be answered.
    pub request_timeout: std::time::Duration,
    pub webhook_body_limit: usize,
    /// Signs browser session cookies.
    pub session_key: secrecy::SecretSlice<u8>,
    /// Require a viewer for `/metrics`.
    pub protect_metrics: bool,
    /// Anyone with the link may read an environment's status page (no actions).
    pub public_status_pages: bool,
    /// The cluster is the built-in simulation: the UI says so on every page.
    pub simulated_cluster: bool,
    /// Firebase email sign-in on the login page, when configured.
    pub firebase_sign_in: Option<FirebaseSignIn>,
    /// Terminated environments leave the store (for their archive) after this long.
    pub retain_terminated: chrono::Duration,
    /// Teardowns a minute Blueberry starts on its own (expiry) before it waits for an admin.
    pub max_deletions_per_minute: u32,
    /// Running environments on the platform as a whole (`--max-environments`).
    pub max_environments: Option<u32>,
    /// Which visits to a sleeping environment's URL wake it.
    pub wake_on_visit: crate::config::WakeOnVisit,
    /// Prices of requested resources (`--cost-vcpu-hour`, `--cost-gib-hour`).
    pub cost_rates: crate::domain::cost::Rates,
    /// Sticky-note updates within this long of a change are sent as one (`--gitlab-note-window-ms`).
    pub note_window: std::time::Duration,
}

/// What the login page needs to sign people in with Firebase Auth (both values are public).
#[derive(Debug, Clone)]
pub struct FirebaseSignIn {
    pub api_key: String,
    /// Firebase Auth's REST endpoint, e.g. `https://identitytoolkit.googleapis.com`.
    pub auth_url: String,
}

impl Settings {
    /// The status page every MR note links to.
    pub fn status_page_url(&self, id: &crate::domain::EnvironmentId) -> String {
        format!("{}/environments/{id}", self.public_url)
    }
}

/// Everything a handler or job needs: ports, settings, metrics and the services over them.
/// One allocation shared by every handler and job: cloning it (every request does) is one
/// reference count, not one per port and service.
#[derive(Clone)]
pub struct Context(Arc<Services>);

impl std::ops::Deref for Context {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What a [`Context`] holds.
pub struct Services {
    pub ports: Ports,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    pub environments: EnvironmentService,
    pub catalog: CatalogService,
    pub tokens: tokens::TokenService,
    /// Login links and ended sessions.
    pub sessions: sessions::SessionService,
    pub webhooks: webhooks::WebhookService,
    /// Firebase ID token verification and role rules, when configured.
    pub firebase: Option<Firebase>,
    /// GitLab member access levels, cached for a minute.
    pub access: Arc<access::AccessCache>,
    /// Repositories and config sets in memory.
    pub directory: Arc<directory::ProjectDirectory>,
    /// The change log SSE clients read.
    pub changes: changes::ChangeLog,
    /// Archives of terminated environments, and their removal from the store.
    pub archives: archive::ArchiveService,
    /// At most so many teardowns a minute on Blueberry's own initiative.
    pub deletions: Arc<deletions::DeletionGuard>,
    /// Notification subscriptions and their deliveries.
    pub notifications: notifications::NotificationService,
}

/// Sign-in token verification (Firebase Auth) and the rules that give its users roles.
pub type Firebase = Arc<(
    Box<dyn crate::ports::Identity>,
    crate::domain::auth::RoleRules,
)>;

impl Context {
    pub fn new(
        ports: Ports,
        settings: Settings,
        metrics: Arc<Metrics>,
        firebase: Option<Firebase>,
    ) -> Self {
        let settings = Arc::new(settings);
        let directory = Arc::new(directory::ProjectDirectory::default());
        let tokens = tokens::TokenService::new(ports.tokens.clone(), ports.clock.clone());
        Self(Arc::new(Services {
            environments: EnvironmentService::new(
                ports.clone(),
                settings.clone(),
                metrics.clone(),
                directory.clone(),
            ),
            catalog: CatalogService::new(ports.clone(), directory.clone()),
            tokens: tokens.clone(),
            sessions: sessions::SessionService::new(
                ports.sessions.clone(),
                ports.audit.clone(),
                tokens,
                ports.clock.clone(),
            ),
            webhooks: webhooks::WebhookService::new(
                ports.clone(),
                settings.clone(),
                directory.clone(),
                metrics.clone(),
            ),
            directory,
            notifications: notifications::NotificationService::new(
                ports.clone(),
                settings.clone(),
                metrics.clone(),
            ),
            changes: changes::ChangeLog::new(ports.clone()),
            archives: archive::ArchiveService::new(ports.clone(), settings.retain_terminated),
            deletions: Arc::new(deletions::DeletionGuard::new(
                settings.max_deletions_per_minute,
                ports.shared.clone(),
            )),
            firebase,
            access: Arc::new(access::AccessCache::new(Duration::from_secs(60))),
            ports,
            settings,
            metrics,
        }))
    }
}
