//! Checks across settings (incomplete adapter combinations) and values derived from them.

use super::*;

impl Config {
    /// Checks that the chosen adapters have what they need; the message names the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |m: &str| Err(ConfigError(m.to_owned()));
        if self.firebase_api_key.is_some() && self.firebase_project.is_none() {
            return fail(
                "--firebase-api-key needs --firebase-project (BLUEBERRY_FIREBASE_PROJECT): sign-in tokens are checked against it",
            );
        }
        let p = &self.namespace_prefix;
        if p.len() > 20
            || !p.starts_with(|c: char| c.is_ascii_lowercase())
            || !p
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return fail(
                "--namespace-prefix (BLUEBERRY_NAMESPACE_PREFIX) must be 1 to 20 lowercase letters, digits or '-', starting with a letter",
            );
        }
        if self.store == StoreKind::Firestore && self.gcp_project.is_none() {
            return fail("--store firestore needs --gcp-project (BLUEBERRY_GCP_PROJECT)");
        }
        if self.store == StoreKind::Firestore && self.bus != BusKind::Redis {
            return fail(
                "--store firestore needs --bus redis: the change log SSE clients resume from is the Redis stream",
            );
        }
        if self.queue == QueueKind::Pubsub && self.gcp_project.is_none() {
            return fail("--queue pubsub needs --gcp-project (BLUEBERRY_GCP_PROJECT)");
        }
        if (self.bus == BusKind::Redis || self.cache == CacheKind::Redis)
            && self.redis_url.is_none()
        {
            return fail("--bus redis and --cache redis need --redis-url (BLUEBERRY_REDIS_URL)");
        }
        if let Some(token) = &self.bootstrap_token {
            let token = secrecy::ExposeSecret::expose_secret(token);
            if !token.starts_with("bb_") || token.len() < "bb_".len() + 32 {
                return fail(
                    "--bootstrap-token (BLUEBERRY_BOOTSTRAP_TOKEN) must start with `bb_` and have at least 32 more characters",
                );
            }
        }
        if self.gitlab_url.is_some() != self.gitlab_token.is_some() {
            return fail(
                "--gitlab-url and --gitlab-token (BLUEBERRY_GITLAB_URL, BLUEBERRY_GITLAB_TOKEN) go together",
            );
        }
        if self.role != Role::All {
            if self.queue == QueueKind::Embedded || self.store == StoreKind::Sqlite {
                return fail(
                    "--role api|worker runs replicas apart: they need a shared --store firestore and --queue pubsub",
                );
            }
            if self.bus == BusKind::Local {
                return fail(
                    "--role api|worker needs --bus redis so every replica sees every change",
                );
            }
            if self.role == Role::Api && self.session_key.is_none() {
                return fail(
                    "--role api needs --session-key (BLUEBERRY_SESSION_KEY): API replicas behind one load balancer must sign sessions with the same key",
                );
            }
            if self.kubeconfig.is_none() && !self.in_cluster {
                return fail(
                    "--role api|worker needs a shared cluster: --kubeconfig or --in-cluster",
                );
            }
        }
        Ok(())
    }

    pub fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("blueberry.sqlite3")
    }

    pub fn retry_base_delay(&self) -> Duration {
        Duration::from_millis(self.retry_base_delay_ms)
    }

    pub fn provision_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.provision_timeout_secs))
    }

    pub fn job_lease(&self) -> Duration {
        Duration::from_secs(u64::from(self.job_lease_secs))
    }

    pub fn reconcile_lease(&self) -> Duration {
        Duration::from_secs(u64::from(self.reconcile_lease_secs))
    }

    pub fn resync(&self) -> Duration {
        Duration::from_secs(u64::from(self.resync_secs))
    }

    pub fn reaper_interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.reaper_interval_secs))
    }
}
