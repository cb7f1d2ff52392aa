//! Environment use cases: create, read, list, redeploy, retry, extend, tear down.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Ports, ServiceError, Settings};
use crate::domain::feedback::signature;
use crate::{
    domain::{
        BranchName, CommitSha, Environment, EnvironmentEvent, EnvironmentId, EnvironmentName,
        EventKind, HelmValuesOverride, LifecycleJob, MergeRequest, NewEnvironment, NewEvent,
        Status, TtlHours, overrides::OverrideError, ttl::extended_expiry,
    },
    metrics::Metrics,
    ports::{EnvironmentFilter, NewJob, Page, PageRequest, StoreError},
};

/// A create request as it arrives (API, UI or webhook); parsed by [`EnvironmentService::create`].
#[derive(Debug, Clone, Default)]
pub struct CreateEnvironment {
    pub name: String,
    pub repository_id: String,
    pub branch: Option<String>,
    pub config_set_id: Option<String>,
    pub ttl_hours: Option<i64>,
    pub helm_values_override: Option<Value>,
    pub sha: Option<String>,
    pub merge_request: Option<MergeRequest>,
}

/// How many times a read-modify-write is retried when another writer got there first.
const MAX_WRITE_RETRIES: usize = 8;

#[derive(Clone)]
pub struct EnvironmentService {
    ports: Ports,
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
}

impl EnvironmentService {
    pub fn new(ports: Ports, settings: Arc<Settings>, metrics: Arc<Metrics>) -> Self {
        Self {
            ports,
            settings,
            metrics,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    /// Creates an environment (or brings a terminated one with the same id back) and enqueues
    /// its first deployment.
    #[tracing::instrument(skip_all, fields(name = %req.name, repository_id = %req.repository_id))]
    pub async fn create(
        &self,
        req: CreateEnvironment,
        actor: &str,
    ) -> Result<Environment, ServiceError> {
        let name = EnvironmentName::parse(req.name.as_str())
            .map_err(|e| ServiceError::invalid("name", e))?;
        let branch = BranchName::parse(req.branch.unwrap_or_else(|| "main".to_owned()))
            .map_err(|e| ServiceError::invalid("branch", e))?;
        let ttl_hours = match req.ttl_hours {
            Some(h) => TtlHours::new(h).map_err(|e| ServiceError::invalid("ttl_hours", e))?,
            None => self.settings.default_ttl,
        };
        let helm_values_override = req
            .helm_values_override
            .map(HelmValuesOverride::parse)
            .transpose()
            .map_err(override_error)?;
        let sha = req
            .sha
            .map(CommitSha::parse)
            .transpose()
            .map_err(|e| ServiceError::invalid("sha", e))?;
        if req.repository_id.is_empty() {
            return Err(ServiceError::invalid("repository_id", "must not be empty"));
        }
        let store = &self.ports.store;
        let repo = store
            .get_repository(&req.repository_id)
            .await?
            .ok_or_else(|| {
                ServiceError::invalid(
                    "repository_id",
                    format!("no repository with id `{}`", req.repository_id),
                )
            })?;
        let config_set_id = match req.config_set_id.or_else(|| repo.config_set_id.clone()) {
            Some(id) => id,
            None => {
                return Err(ServiceError::invalid(
                    "config_set_id",
                    format!(
                        "repository `{}` has no default config set; name one",
                        repo.name
                    ),
                ));
            }
        };
        if store.get_config_set(&config_set_id).await?.is_none() {
            return Err(ServiceError::invalid(
                "config_set_id",
                format!("no config set with id `{config_set_id}`"),
            ));
        }

        let id = EnvironmentId::derive(&name, &repo.name);
        let new = NewEnvironment {
            name,
            repository_id: repo.id.clone(),
            config_set_id: Some(config_set_id),
            branch,
            sha,
            merge_request: req.merge_request,
            ttl_hours,
            helm_values_override,
        };
        let now = self.now();
        let env = match store.get_environment(&id).await? {
            None => Environment::create(id, new, now),
            Some(existing)
                if existing.repository_id != new.repository_id || existing.name != new.name =>
            {
                return Err(ServiceError::Conflict(format!(
                    "environment id `{id}` is already used by another repository's environment; choose another name"
                )));
            }
            Some(existing) if existing.status.is_live() => {
                return Err(ServiceError::Conflict(format!(
                    "environment `{}` already exists in repository `{}` (status {})",
                    existing.name, repo.name, existing.status
                )));
            }
            Some(mut existing) => {
                existing
                    .recreate(new, now)
                    .map_err(|e| ServiceError::Conflict(e.to_string()))?;
                existing
            }
        };
        let message = format!(
            "created by {actor} for {} at {}",
            repo.path_with_namespace,
            env.target_revision()
        );
        let env = self
            .save(&env, &[NewEvent::new(EventKind::Created, actor, message)])
            .await?;
        self.metrics.environments_created.inc();
        self.enqueue_apply(&env).await?;
        Ok(env)
    }

    /// Finds an environment by id; ids that are not DNS labels cannot exist.
    pub async fn get(&self, id: &str) -> Result<Environment, ServiceError> {
        let not_found = || ServiceError::NotFound(format!("environment `{id}`"));
        let id = EnvironmentId::parse(id).map_err(|_| not_found())?;
        self.ports
            .store
            .get_environment(&id)
            .await?
            .ok_or_else(not_found)
    }

    pub async fn list(
        &self,
        filter: &EnvironmentFilter,
        page: &PageRequest,
    ) -> Result<Page<Environment>, ServiceError> {
        Ok(self.ports.store.list_environments(filter, page).await?)
    }

    /// The environment's history, oldest first.
    pub async fn events(&self, id: &str) -> Result<Vec<EnvironmentEvent>, ServiceError> {
        let env = self.get(id).await?;
        Ok(self.ports.store.list_events(&env.id, 0, 10_000).await?)
    }

    /// Marks the environment `deleting` and enqueues its teardown. Idempotent while deleting.
    pub async fn request_teardown(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
    ) -> Result<Environment, ServiceError> {
        let now = self.now();
        let env = self
            .update(id, |env| match env.status {
                Status::Deleting => Ok(None),
                Status::Terminated => Err(ServiceError::Conflict(format!(
                    "environment `{}` is already terminated",
                    env.id
                ))),
                _ => {
                    env.transition(
                        Status::Deleting,
                        Some(format!("teardown requested: {reason}")),
                        now,
                    )
                    .map_err(|e| ServiceError::Conflict(e.to_string()))?;
                    Ok(Some(vec![NewEvent::new(
                        EventKind::TeardownRequested,
                        actor,
                        format!("{reason} (requested by {actor})"),
                    )]))
                }
            })
            .await?;
        self.enqueue(
            LifecycleJob::Teardown {
                environment_id: env.id.clone(),
            },
            None,
        )
        .await?;
        Ok(env)
    }

    /// Starts a new deployment, at `sha` when given (new commits), else at the same revision.
    pub async fn redeploy(
        &self,
        id: &str,
        sha: Option<CommitSha>,
        actor: &str,
    ) -> Result<Environment, ServiceError> {
        let now = self.now();
        let env = self
            .update(id, |env| {
                if !matches!(env.status, Status::Pending | Status::Ready | Status::Failed) {
                    return Err(ServiceError::Conflict(format!(
                        "environment `{}` is {} and cannot be redeployed",
                        env.id, env.status
                    )));
                }
                if let Some(sha) = &sha {
                    env.sha = Some(sha.clone());
                }
                let message = format!("redeploy of {} requested by {actor}", env.target_revision());
                env.start_deployment(message.clone(), now)
                    .map_err(|e| ServiceError::Conflict(e.to_string()))?;
                Ok(Some(vec![NewEvent::new(
                    EventKind::RedeployRequested,
                    actor,
                    message,
                )]))
            })
            .await?;
        self.enqueue_apply(&env).await?;
        Ok(env)
    }

    /// Starts over after a failure: failed → pending with a fresh set of attempts.
    pub async fn retry(&self, id: &str, actor: &str) -> Result<Environment, ServiceError> {
        let now = self.now();
        let env = self
            .update(id, |env| {
                if env.status != Status::Failed {
                    return Err(ServiceError::Conflict(format!(
                        "only failed environments can be retried; `{}` is {}",
                        env.id, env.status
                    )));
                }
                env.start_deployment(format!("retry requested by {actor}"), now)
                    .map_err(|e| ServiceError::Conflict(e.to_string()))?;
                Ok(Some(vec![NewEvent::new(
                    EventKind::RetryRequested,
                    actor,
                    "retry requested",
                )]))
            })
            .await?;
        self.enqueue_apply(&env).await?;
        Ok(env)
    }

    /// Pushes the expiry `hours` further out, never beyond one week from now.
    pub async fn extend(
        &self,
        id: &str,
        hours: i64,
        actor: &str,
    ) -> Result<Environment, ServiceError> {
        let hours = TtlHours::new(hours).map_err(|e| ServiceError::invalid("hours", e))?;
        let now = self.now();
        self.update(id, |env| {
            if !matches!(env.status, Status::Pending | Status::Ready | Status::Failed) {
                return Err(ServiceError::Conflict(format!(
                    "environment `{}` is {} and cannot be extended",
                    env.id, env.status
                )));
            }
            env.expires_at = extended_expiry(env.expires_at, now, hours);
            env.updated_at = now;
            let message = format!(
                "extended by {} h to {} by {actor}",
                hours.hours(),
                env.expires_at.format("%Y-%m-%d %H:%M UTC")
            );
            Ok(Some(vec![NewEvent::new(
                EventKind::Extended,
                actor,
                message,
            )]))
        })
        .await
    }

    /// Read-modify-write of one environment, retried when a concurrent writer wins. `change`
    /// returns the events to record, or None when nothing needs to change.
    pub async fn update<F>(&self, id: &str, mut change: F) -> Result<Environment, ServiceError>
    where
        F: FnMut(&mut Environment) -> Result<Option<Vec<NewEvent>>, ServiceError>,
    {
        for _ in 0..MAX_WRITE_RETRIES {
            let mut env = self.get(id).await?;
            let Some(events) = change(&mut env)? else {
                return Ok(env);
            };
            match self.save(&env, &events).await {
                Err(ServiceError::Conflict(_)) if env.version > 0 => continue,
                other => return other,
            }
        }
        Err(ServiceError::Conflict(format!(
            "environment `{id}` is changing too quickly; try again"
        )))
    }

    /// Stores the environment with its events and announces the change on the bus. A bus
    /// failure is logged, not returned: SSE clients resync from the change log.
    pub async fn save(
        &self,
        env: &Environment,
        events: &[NewEvent],
    ) -> Result<Environment, ServiceError> {
        let change = self
            .ports
            .store
            .save_environment(env, events)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => ServiceError::Conflict(m),
                other => other.into(),
            })?;
        if let Err(e) = self.ports.bus.publish(&change).await {
            tracing::warn!(env_id = %env.id, error = %e, "could not publish environment change");
        }
        let saved = change.environment;
        // Merge request environments tell GitLab about every change worth telling.
        if saved.merge_request.is_some()
            && saved.feedback.synced.as_deref() != Some(signature(&saved).as_str())
            && let Err(e) = self
                .enqueue(
                    LifecycleJob::Notify {
                        environment_id: saved.id.clone(),
                    },
                    None,
                )
                .await
        {
            tracing::warn!(env_id = %saved.id, error = %e, "could not queue the GitLab notification");
        }
        Ok(saved)
    }

    async fn enqueue_apply(&self, env: &Environment) -> Result<(), ServiceError> {
        let job = LifecycleJob::Apply {
            environment_id: env.id.clone(),
            generation: env.generation,
            attempt: env.attempt,
        };
        self.enqueue(job, None).await
    }

    /// Publishes a lifecycle job, ordered by environment id.
    pub async fn enqueue(
        &self,
        job: LifecycleJob,
        not_before: Option<DateTime<Utc>>,
    ) -> Result<(), ServiceError> {
        let payload = serde_json::to_value(&job).map_err(|e| ServiceError::Internal(e.into()))?;
        self.ports
            .queue
            .enqueue(NewJob {
                ordering_key: job.ordering_key(),
                payload,
                not_before,
            })
            .await?;
        Ok(())
    }
}

fn override_error(e: OverrideError) -> ServiceError {
    let field = match &e {
        OverrideError::ForbiddenKey(path) | OverrideError::PlatformOwned(path) => {
            format!("helm_values_override.{path}")
        }
        _ => "helm_values_override".to_owned(),
    };
    ServiceError::invalid(field, e)
}
