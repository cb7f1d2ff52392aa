//! Start-up: choose adapters from the config, bind the listener, and run the API, the worker
//! pool and the reaper until one shutdown signal stops them all.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use tokio::{net::TcpListener, sync::watch, task::JoinSet};

use secrecy::ExposeSecret;

mod connect;

pub use connect::{Stores, open_store};
use connect::{
    connect_archive, connect_bus, connect_cluster, connect_store_and_queue, session_key,
};

use crate::{
    adapters::{firebase::FirebaseVerifier, gitlab::GitLabHost, gitlab_disabled::DisabledGitHost},
    clock::{Clock, SystemClock},
    config::{Config, StoreKind},
    domain::{
        auth::{Role, RoleRules},
        lifecycle::Policy,
        manifest::ManifestSettings,
    },
    metrics::Metrics,
    ports::{DeliveryLog, EnvironmentStore, GitHost, Queue},
    service::{Context, Ports, Settings},
    sim::SimCluster,
    worker,
};

/// A built, not yet running, Blueberry.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    ctx: Context,
    config: Config,
    sim: Option<SimCluster>,
}

/// Puts a decorator around an adapter.
pub type Wrap<T> = Box<dyn FnOnce(Arc<T>) -> Arc<T> + Send>;

/// Wraps adapters once they are built: fault-injection tests put decorators around them.
#[derive(Default)]
pub struct Adapt {
    pub environments: Option<Wrap<dyn EnvironmentStore>>,
    pub deliveries: Option<Wrap<dyn DeliveryLog>>,
    pub queue: Option<Wrap<dyn Queue>>,
    pub githost: Option<Wrap<dyn GitHost>>,
}

impl Application {
    /// Builds everything from `config` with the wall clock.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds with a given clock (tests move time to expire environments).
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Self::build_adapted(config, clock, Adapt::default()).await
    }

    /// Builds with a given clock and adapters wrapped by `adapt`.
    pub async fn build_adapted(
        config: Config,
        clock: Arc<dyn Clock>,
        adapt: Adapt,
    ) -> anyhow::Result<Self> {
        config.validate()?;
        let (
            Stores {
                metadata,
                environments,
                leases,
                sessions,
                shared,
            },
            queue,
        ) = connect_store_and_queue(&config, clock.clone()).await?;
        let bus = connect_bus(&config).await?;
        // The port first: one in use is reported before anything else starts.
        let listener = TcpListener::bind(config.listen).await.with_context(|| {
            format!(
                "listening on --listen {} (BLUEBERRY_LISTEN): is another server using that port?",
                config.listen
            )
        })?;
        let (cluster, sim) = connect_cluster(&config).await?;
        let addr = listener.local_addr()?;

        let metrics = Arc::new(Metrics::default());
        let githost: Arc<dyn GitHost> = match (&config.gitlab_url, &config.gitlab_token) {
            (Some(url), Some(token)) => Arc::new(GitLabHost::new(
                url,
                token.clone(),
                std::num::NonZeroU32::new(config.gitlab_requests_per_second)
                    .unwrap_or(std::num::NonZeroU32::MIN),
                metrics.clone(),
            )?),
            _ => Arc::new(DisabledGitHost),
        };
        let ports = Ports {
            environments: adapt
                .environments
                .map_or(environments.clone(), |f| f(environments)),
            catalog: metadata.clone(),
            tokens: metadata.clone(),
            subscriptions: metadata.clone(),
            audit: metadata.clone(),
            deliveries: adapt
                .deliveries
                .map_or(metadata.clone(), |f| f(metadata.clone())),
            outbox: metadata,
            queue: adapt.queue.map_or(queue.clone(), |f| f(queue)),
            bus,
            cluster,
            leases,
            sessions,
            shared,
            githost: adapt.githost.map_or(githost.clone(), |f| f(githost)),
            clock,
            archive: connect_archive(&config).await?,
        };
        let settings = Settings {
            public_url: config.public_url(addr),
            base_domain: config.base_domain.clone(),
            default_ttl: config.default_ttl_hours,
            manifest: ManifestSettings {
                argocd_namespace: config.argocd_namespace.clone(),
                project: config.argocd_project.clone(),
                destination_server: config.destination_server.clone(),
                base_domain: config.base_domain.clone(),
                namespace_prefix: config.namespace_prefix.clone(),
                wake_service: config.wake_service.clone(),
            },
            lifecycle: Policy {
                max_attempts: config.max_attempts,
                retry_base_delay: config.retry_base_delay(),
                provision_timeout: config.provision_timeout(),
                resync: config.resync(),
                expiry_warnings: config.expiry_warnings_hours.clone(),
                idle_sleep: None,
                schedule: None,
            },
            reconcile_lease: config.reconcile_lease(),
            webhook_body_limit: config.webhook_body_limit as usize,
            webhook_rate: config.webhook_rate,
            max_sse_clients: config.max_sse_clients as usize,
            max_sse_clients_per_caller: config.max_sse_clients_per_caller as usize,
            request_timeout: std::time::Duration::from_secs(u64::from(config.request_timeout_secs)),
            session_key: session_key(&config),
            protect_metrics: config.protect_metrics,
            public_status_pages: config.public_status_pages,
            simulated_cluster: config.kubeconfig.is_none() && !config.in_cluster,
            firebase_sign_in: config.firebase_api_key.as_ref().map(|key| {
                crate::service::FirebaseSignIn {
                    api_key: key.clone(),
                    auth_url: config.firebase_auth_url.clone(),
                }
            }),
            retain_terminated: chrono::Duration::days(i64::from(config.retain_terminated_days)),
            max_deletions_per_minute: config.max_deletions_per_minute,
            max_environments: config.max_environments,
            wake_on_visit: config.wake_on_visit,
            cost_rates: crate::domain::cost::Rates {
                vcpu_hour: config.cost_vcpu_hour,
                gib_hour: config.cost_gib_hour,
            },
            note_window: std::time::Duration::from_millis(config.gitlab_note_window_ms),
        };
        let firebase = match &config.firebase_project {
            Some(project) => {
                let verifier = FirebaseVerifier::new(project, &config.firebase_jwks_url)?;
                let rules = RoleRules {
                    admins: config.firebase_admins.clone(),
                    developers: config.firebase_developers.clone(),
                    viewers: config.firebase_viewers.clone(),
                    unknown: config.firebase_unknown_users_view.then_some(Role::Viewer),
                };
                let verifier: Box<dyn crate::ports::Identity> = Box::new(verifier);
                Some(Arc::new((verifier, rules)))
            }
            None => None,
        };
        let ctx = Context::new(ports, settings, metrics, firebase);
        let given = config
            .bootstrap_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned());
        if let Some((token, secret)) = ctx.tokens.bootstrap(given.as_deref()).await? {
            let code = ctx.sessions.login_code(&token.id).await?;
            // Shown once, on the terminal only: never through the log.
            eprintln!(
                "\n  Blueberry created an admin token (shown once):\n\n    {secret}\n\n  Log in once at {url}/login?code={code}\n  (single use, valid {minutes} minutes; `blueberry token create --login-link` makes more)\n  or use the token with curl: -H 'Authorization: Bearer {secret}'\n",
                url = ctx.settings.public_url,
                minutes = crate::domain::auth::LOGIN_CODE_MINUTES,
            );
        } else if given.is_none() && config.store == StoreKind::Sqlite {
            eprintln!(
                "\n  Blueberry has API tokens from an earlier start. To get in again:\n    blueberry token create --name me --role admin --login-link --data-dir {}\n",
                config.data_dir.display()
            );
        }
        Ok(Self {
            listener,
            addr,
            ctx,
            config,
            sim,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL people reach this instance at.
    pub fn url(&self) -> String {
        self.ctx.settings.public_url.clone()
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The in-process simulated cluster, when no real one is configured.
    pub fn sim(&self) -> Option<&SimCluster> {
        self.sim.as_ref()
    }

    /// Serves HTTP and runs the workers and the reaper until `shutdown` resolves, then stops
    /// them all: the server drains, workers finish or release their jobs.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let ctx = self.ctx.clone();
        if self.config.role.runs_workers() {
            // Every live environment is reconciled once the watch has listed the cluster.
            worker::spawn(
                ctx.clone(),
                worker::WorkerSettings {
                    workers: self.config.workers,
                    lease: self.config.job_lease(),
                    reaper_interval: self.config.reaper_interval(),
                },
                &stop_rx,
                &mut tasks,
            );
            if let Some(url) = &self.config.prometheus_url {
                let traffic =
                    crate::adapters::prometheus::Prometheus::new(url, &self.config.base_domain)?;
                tasks.spawn(worker::traffic::run(
                    ctx.clone(),
                    std::sync::Arc::new(traffic),
                    Duration::from_secs(u64::from(self.config.prometheus_interval_secs)),
                    stop_rx.clone(),
                ));
            }
        }
        tasks.spawn(worker::relay::run(
            ctx.clone(),
            Duration::from_secs(5),
            stop_rx.clone(),
        ));

        let router = crate::http::router(ctx);
        let mut http_stop = stop_rx.clone();
        // A shared router per connection: serving a `Router` directly rebuilds every route for
        // each connection, which long-lived SSE connections keep alive.
        // Each response and SSE frame is sent when written: with Nagle's algorithm a frame
        // written while the last one is unacknowledged waits for the client's delayed ACK.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
            }
        });
        let server =
            axum::serve(listener, router.into_make_service()).with_graceful_shutdown(async move {
                let _ = http_stop.changed().await;
            });
        let server = tokio::spawn(async move { server.await });
        shutdown.await;
        let _ = stop_tx.send(true);
        match tokio::time::timeout(Duration::from_secs(15), server).await {
            Ok(joined) => joined??,
            Err(_) => tracing::warn!("HTTP connections still open at shutdown; closing them"),
        }
        while tasks.join_next().await.is_some() {}
        tracing::info!("stopped");
        Ok(())
    }
}
