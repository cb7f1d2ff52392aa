//! Create: a request (API, UI or webhook) parsed and checked against its repository and
//! config set, then one versioned write whose reconcile commits with it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::EnvironmentService;
use crate::{
    domain::{
        BranchName, CommitSha, Environment, EnvironmentId, EnvironmentName, EventKind,
        HelmValuesOverride, MergeRequest, NewEnvironment, NewEvent, TtlHours,
        overrides::OverrideError,
    },
    service::{ServiceError, writes::Trigger},
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
    /// A fork merge request's maintainer approval of `sha`.
    pub fork: Option<crate::domain::environment::ForkApproval>,
}

impl EnvironmentService {
    /// Creates an environment (or brings a terminated one with the same id back); its first
    /// reconcile commits with it.
    #[tracing::instrument(skip_all, fields(name = %req.name, repository_id = %req.repository_id))]
    pub async fn create(
        &self,
        req: CreateEnvironment,
        actor: &str,
    ) -> Result<Environment, ServiceError> {
        let fork = req.fork.clone();
        let (repo, id) = self.parse(req).await?;
        let now = self.now();
        let message = |env: &Environment| {
            format!(
                "created by {actor} for {} at {}",
                repo.path_with_namespace,
                env.target_revision()
            )
        };
        // Most creates are of a new id: try that first, read only when the id is taken.
        let mut fresh = Environment::create(id.id.clone(), id.new.clone(), now);
        fresh.fork = fork.clone();
        self.line_up_if_capped(&repo, &mut fresh, now);
        let events = |env: &Environment| {
            let mut events = vec![NewEvent::new(EventKind::Created, actor, message(env))];
            if let Some(f) = &env.fork {
                events.push(NewEvent::new(
                    EventKind::ForkApproved,
                    actor,
                    format!("{} approved `{}` from a fork", f.by, f.sha.short()),
                ));
            }
            events
        };
        match self
            .writer
            .save(&fresh, &events(&fresh), Trigger::Reconcile, &[])
            .await
        {
            Ok(env) => {
                self.metrics.environments_created.inc();
                return Ok(env);
            }
            Err(ServiceError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        // The id is taken: bring a terminated record back. Another writer (GitLab feedback,
        // the archive) may get there between the read and the write: read again, never give up
        // on a lost race (it is not a refusal).
        let ports = &self.writer.ports;
        for _ in 0..crate::service::writes::MAX_WRITE_RETRIES {
            let env = match ports.environments.get_environment(&id.id).await? {
                None => {
                    let mut env = Environment::create(id.id.clone(), id.new.clone(), now);
                    env.fork = fork.clone();
                    self.line_up_if_capped(&repo, &mut env, now);
                    env
                }
                Some(existing)
                    if existing.repository_id != id.new.repository_id
                        || existing.name != id.new.name =>
                {
                    return Err(ServiceError::Conflict(format!(
                        "environment id `{}` is already used by another repository's environment; choose another name",
                        id.id
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
                        .recreate(id.new.clone(), now)
                        .map_err(|e| ServiceError::Conflict(e.to_string()))?;
                    existing.fork = fork.clone();
                    self.line_up_if_capped(&repo, &mut existing, now);
                    existing
                }
            };
            match self
                .writer
                .save(&env, &events(&env), Trigger::Reconcile, &[])
                .await
            {
                Ok(env) => {
                    self.metrics.environments_created.inc();
                    return Ok(env);
                }
                Err(ServiceError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(ServiceError::Contention(format!(
            "environment `{}` is changing too quickly; try again",
            id.id
        )))
    }

    /// Under a quota (the repository's `max_environments` or `--max-environments`), a new
    /// environment starts in line; the controller admits it when a slot is free.
    fn line_up_if_capped(
        &self,
        repo: &crate::domain::Repository,
        env: &mut Environment,
        now: DateTime<Utc>,
    ) {
        if repo.max_environments.is_some() || self.settings.max_environments.is_some() {
            let waiting = crate::domain::quota::Waiting::new(now);
            env.status_message = Some(waiting.describe());
            env.waiting = Some(waiting);
        }
    }

    /// Validates a create request against the catalog.
    async fn parse(
        &self,
        req: CreateEnvironment,
    ) -> Result<(Arc<crate::domain::Repository>, Parsed), ServiceError> {
        let name = EnvironmentName::parse(req.name.as_str())
            .map_err(|e| ServiceError::invalid("name", e))?;
        let branch = BranchName::parse(req.branch.unwrap_or_else(|| "main".to_owned()))
            .map_err(|e| ServiceError::invalid("branch", e))?;
        let asked_ttl = req
            .ttl_hours
            .map(|h| TtlHours::new(h).map_err(|e| ServiceError::invalid("ttl_hours", e)))
            .transpose()?;
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
        let ports = &self.writer.ports;
        let repo = self
            .directory
            .repository(ports.catalog.as_ref(), &req.repository_id)
            .await?
            .ok_or_else(|| {
                ServiceError::dangling(
                    "repository_id",
                    format!("no repository with id `{}`", req.repository_id),
                )
            })?;
        let lifetime = &repo.lifetime;
        let ttl_hours = match asked_ttl {
            Some(ttl) => {
                if let Some(max) = lifetime.max_ttl_hours
                    && ttl.hours() > max
                {
                    return Err(ServiceError::invalid(
                        "ttl_hours",
                        format!(
                            "repository `{}` lets environments live at most {max} h, not {} h",
                            repo.name,
                            ttl.hours()
                        ),
                    ));
                }
                ttl
            }
            None => lifetime
                .default_ttl_hours
                .and_then(|h| TtlHours::new(i64::from(h)).ok())
                .unwrap_or(self.settings.default_ttl),
        };
        let Some(config_set_id) = req.config_set_id.or_else(|| repo.config_set_id.clone()) else {
            return Err(ServiceError::invalid(
                "config_set_id",
                format!(
                    "repository `{}` has no default config set; name one",
                    repo.name
                ),
            ));
        };
        if self
            .directory
            .config_set(ports.catalog.as_ref(), &config_set_id)
            .await?
            .is_none()
        {
            return Err(ServiceError::dangling(
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
        Ok((repo, Parsed { id, new }))
    }
}

/// A create request after validation.
struct Parsed {
    id: EnvironmentId,
    new: NewEnvironment,
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
