//! Connecting the adapters `--store`, `--queue`, `--bus`, `--cache`, the cluster and the archive
//! choose.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use secrecy::ExposeSecret;

use crate::{
    adapters::{
        archive_files::FileBlobs,
        firestore::FirestoreStore,
        gcs::GcsBlobs,
        kube::{KubeCluster, KubeTarget},
        local_bus::LocalBus,
        local_leases::LocalLeases,
        pubsub::{PubSubQueue, PubSubSettings},
        redis_bus::RedisBus,
        redis_cache::CachedStore,
        sqlite::{Db, SqliteSessions, SqliteStore, queue::SqliteQueue},
    },
    clock::Clock,
    config::{BusKind, CacheKind, Config, QueueKind, StoreKind},
    ports::{Blobs, Bus, Cluster, EnvironmentStore, Leases, MetadataStore, Queue, Sessions},
    sim::{SimCluster, SimSettings},
};

pub(super) fn session_key(config: &Config) -> secrecy::SecretSlice<u8> {
    match &config.session_key {
        Some(k) => k.expose_secret().as_bytes().to_vec().into(),
        None => {
            let mut key = vec![0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
            key.into()
        }
    }
}

pub(super) async fn connect_bus(config: &Config) -> anyhow::Result<Arc<dyn Bus>> {
    Ok(match config.bus {
        BusKind::Local => Arc::new(LocalBus::default()),
        BusKind::Redis => Arc::new(
            RedisBus::connect(
                redis_url(config)?,
                &format!("{}environment-changes", redis_namespace(config)),
            )
            .await
            .context("connecting the Redis bus (--redis-url)")?,
        ),
    })
}

/// Keys and channels of one installation, so several can share a Redis.
fn redis_namespace(config: &Config) -> String {
    format!(
        "blueberry:{}:",
        config.gcp_project.as_deref().unwrap_or("embedded")
    )
}

fn redis_url(config: &Config) -> anyhow::Result<&str> {
    config
        .redis_url
        .as_ref()
        .map(|u| u.expose_secret())
        .ok_or_else(|| anyhow::anyhow!("--redis-url is required"))
}

/// The metadata stores chosen by `--store` (plus the optional Redis cache); also what
/// `blueberry token create` uses, so it touches nothing else.
pub async fn open_store(config: &Config) -> anyhow::Result<Stores> {
    config.validate()?;
    connect_store(config, open_db(config)?.as_ref()).await
}

/// The SQLite file, when the store or the queue lives in it.
fn open_db(config: &Config) -> anyhow::Result<Option<Db>> {
    if config.store != StoreKind::Sqlite && config.queue != QueueKind::Embedded {
        return Ok(None);
    }
    let dir = &config.data_dir;
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "--data-dir {} is a file, not a folder: name a folder (it is created if missing)",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating --data-dir {}", dir.display()))?;
    let path = config.database_path();
    Ok(Some(Db::open(&path).with_context(|| {
        format!(
            "opening the database {} (--data-dir {}): it must be readable and writable",
            path.display(),
            dir.display()
        )
    })?))
}

/// The metadata adapters `--store` chooses.
pub struct Stores {
    /// The adapter: every metadata port (`MetadataStore`); it serves all but `environments`.
    pub metadata: Arc<dyn MetadataStore>,
    /// The same adapter's environments, with the Redis cache in front when asked.
    pub environments: Arc<dyn EnvironmentStore>,
    /// Reconcile leases.
    pub leases: Arc<dyn Leases>,
    /// Login links and ended sessions.
    pub sessions: Arc<dyn Sessions>,
    /// State every replica shares.
    pub shared: Arc<dyn crate::ports::Shared>,
}

async fn connect_store(config: &Config, db: Option<&Db>) -> anyhow::Result<Stores> {
    let mut stores = match (db, config.store) {
        (Some(db), StoreKind::Sqlite) => {
            let sqlite = Arc::new(SqliteStore::new(db.clone()));
            Stores {
                metadata: sqlite.clone(),
                environments: sqlite,
                leases: Arc::new(LocalLeases::default()),
                sessions: Arc::new(SqliteSessions::new(db.clone())),
                shared: Arc::new(crate::adapters::sqlite::SqliteShared::new(db.clone())),
            }
        }
        _ => {
            let firestore = FirestoreStore::connect(
                config.gcp_project.as_deref().unwrap_or_default(),
                &config.firestore_database,
                config.firestore_emulator_host.as_deref(),
            )
            .await
            .context("connecting to Firestore (--gcp-project, --firestore-database)")?;
            Stores {
                leases: Arc::new(firestore.leases()),
                sessions: Arc::new(firestore.sessions()),
                shared: Arc::new(firestore.shared()),
                metadata: Arc::new(firestore.clone()),
                environments: Arc::new(firestore),
            }
        }
    };
    if config.cache == CacheKind::Redis {
        stores.environments = Arc::new(
            CachedStore::connect(
                stores.environments,
                redis_url(config)?,
                &redis_namespace(config),
            )
            .await
            .context("connecting the Redis cache")?,
        );
    }
    Ok(stores)
}

/// The stores and the Queue chosen by `--store` and `--queue`.
pub(super) async fn connect_store_and_queue(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Stores, Arc<dyn Queue>)> {
    let db = open_db(config)?;
    let stores = connect_store(config, db.as_ref()).await?;
    let queue: Arc<dyn Queue> = match (&db, config.queue) {
        (Some(db), QueueKind::Embedded) => {
            let queue = SqliteQueue::new(db.clone(), clock.clone(), config.max_deliveries);
            let released = queue.release_all_leases().await?;
            if released > 0 {
                tracing::info!(
                    jobs = released,
                    "released job leases left by a previous run"
                );
            }
            Arc::new(queue)
        }
        _ => {
            let settings = PubSubSettings {
                project: config.gcp_project.clone().unwrap_or_default(),
                topic: config.pubsub_topic.clone(),
                subscription: config.pubsub_subscription.clone(),
                dead_letter_topic: config.pubsub_dead_letter_topic.clone(),
                endpoint: config.pubsub_endpoint.clone(),
                create: config.pubsub_create,
                max_deliveries: config.max_deliveries,
                ack_deadline_secs: config.job_lease_secs,
                ordering: !config.pubsub_unordered,
            };
            Arc::new(
                PubSubQueue::connect(settings, clock)
                    .await
                    .context("connecting to Pub/Sub (--gcp-project, --pubsub-*)")?,
            )
        }
    };
    Ok((stores, queue))
}

/// The cluster adapter: a kubeconfig, the pod's service account, or the built-in simulator.
pub(super) async fn connect_cluster(
    config: &Config,
) -> anyhow::Result<(Arc<dyn Cluster>, Option<SimCluster>)> {
    let ns = &config.argocd_namespace;
    if let Some(path) = &config.kubeconfig {
        if !path.is_file() {
            anyhow::bail!(
                "--kubeconfig {}: no such file; name a kubeconfig file, or leave --kubeconfig out \
                 to use the built-in simulated cluster",
                path.display()
            );
        }
        let cluster = KubeCluster::connect(&KubeTarget::Kubeconfig(path.clone()), ns, false)
            .await
            .context("connecting with --kubeconfig")?;
        return Ok((Arc::new(cluster), None));
    }
    if config.in_cluster {
        let cluster = KubeCluster::connect(&KubeTarget::InCluster, ns, false)
            .await
            .context("connecting with --in-cluster (is this running in a pod?)")?;
        return Ok((Arc::new(cluster), None));
    }
    let settings = SimSettings {
        ready_delay: Duration::from_millis(config.sim_ready_delay_ms),
        refresh_delay: Duration::from_millis(config.sim_refresh_delay_ms),
        ..SimSettings::default()
    };
    let sim = SimCluster::start("127.0.0.1:0".parse()?, settings).await?;
    tracing::warn!(
        url = %sim.url(),
        "no --kubeconfig given: using the built-in SIMULATED cluster (Argo CD is simulated; nothing is really deployed)"
    );
    let cluster = KubeCluster::connect(&KubeTarget::Url(sim.url()), ns, true).await?;
    Ok((Arc::new(cluster), Some(sim)))
}

/// Where archives of terminated environments go: the bucket, or files under the data directory.
pub(super) async fn connect_archive(config: &Config) -> anyhow::Result<Arc<dyn Blobs>> {
    Ok(match &config.archive_bucket {
        Some(bucket) => Arc::new(
            GcsBlobs::connect(bucket, config.gcs_endpoint.as_deref())
                .await
                .with_context(|| {
                    format!("connecting to the archive bucket --archive-bucket {bucket}")
                })?,
        ),
        None => Arc::new(FileBlobs::new(config.data_dir.join("archive"))),
    })
}
