//! Provisioning steps: apply the Application, record it ready, count a failed attempt, keep
//! what Argo CD reports on the record.

use super::{Action, Failure, ReconcileError, Scope, same_attempt, until};
use crate::{
    domain::{
        Environment, EventKind, NewEvent, Rollout, Status, argo::ObservedResource,
        lifecycle::next_attempt_delay, manifest::build_application,
    },
    service::{ServiceError, writes::Change},
};

pub(super) async fn apply(c: &Scope<'_>, env: &Environment) -> Result<Action, ReconcileError> {
    let ports = &c.ctx.ports;
    let directory = &c.ctx.directory;
    let Some(repo) = directory
        .repository(ports.catalog.as_ref(), &env.repository_id)
        .await
        .map_err(ServiceError::from)?
    else {
        return attempt_failed(
            c,
            env,
            "its repository was disconnected",
            Failure::Permanent,
            env.observed.resources.to_vec(),
        )
        .await;
    };
    let config_set_id = env
        .config_set_id
        .clone()
        .or_else(|| repo.config_set_id.clone())
        .unwrap_or_default();
    let Some(config_set) = directory
        .config_set(ports.catalog.as_ref(), &config_set_id)
        .await
        .map_err(ServiceError::from)?
    else {
        let kept = env.observed.resources.to_vec();
        return attempt_failed(
            c,
            env,
            "its config set was deleted",
            Failure::Permanent,
            kept,
        )
        .await;
    };
    let app = build_application(env, &repo, &config_set, &c.ctx.settings.manifest);
    // What it requests while awake, for its cost.
    let requests = app
        .spec
        .source
        .helm
        .as_ref()
        .and_then(|h| h.values_object.clone())
        .map(|v| crate::domain::cost::requests_of(&serde_json::Value::Object(v)))
        .unwrap_or_default();
    let applied = match c.ctx.ports.cluster.apply(&app).await {
        Ok(a) => a,
        // Transient: retried with back-off, no attempt used.
        Err(e) if e.is_retriable() => return Err(e.into()),
        Err(e) => {
            let reason = format!("the cluster refused the Application: {e}");
            let kept = env.observed.resources.to_vec();
            return attempt_failed(c, env, &reason, Failure::Retriable, kept).await;
        }
    };
    c.observer.record(applied);
    let (id, attempt) = (env.deployment_id(), env.attempt);
    let now = c.ctx.ports.clock.now();
    let timeout = c.ctx.settings.lifecycle.provision_timeout;
    let message = format!(
        "Application {} applied at {}; waiting for Argo CD",
        app.name(),
        app.spec.source.target_revision
    );
    let mut closed = None;
    c.ctx
        .environments
        .update(env.id.as_str(), |e| {
            closed = None;
            if !same_attempt(e, env) || e.rollout.applied.as_deref() == Some(id.as_str()) {
                return Ok(None);
            }
            e.rollout = Rollout {
                applied: Some(id.clone()),
                applied_at: Some(now),
                deadline: Some(now + chrono::Duration::from_std(timeout).unwrap_or_default()),
                not_before: None,
            };
            e.status_message = Some(message.clone());
            e.updated_at = now;
            let asleep = e.asleep.is_some();
            match &mut e.meter {
                None => e.meter = Some(crate::domain::cost::Meter::start(requests, now)),
                Some(m) if m.requests != requests => {
                    let before = m.clone();
                    m.close(now, asleep);
                    closed = Some((before, m.clone()));
                    m.requests = requests;
                }
                Some(_) => {}
            }
            Ok(Change::event(NewEvent::new(
                EventKind::Applied,
                "worker",
                format!("attempt {attempt}: {message}"),
            )))
        })
        .await?;
    if let Some((before, after)) = closed {
        let rates = &c.ctx.settings.cost_rates;
        c.ctx.metrics.meter_closed(&before, &after, rates);
    }
    Ok(Action::RequeueAfter(timeout))
}

pub(super) async fn mark_ready(
    c: &Scope<'_>,
    env: &Environment,
    revision: &str,
    resources: Vec<ObservedResource>,
) -> Result<Action, ReconcileError> {
    let id = env.deployment_id();
    let now = c.ctx.ports.clock.now();
    let updated = c
        .ctx
        .environments
        .update(env.id.as_str(), |e| {
            if !same_attempt(e, env) || e.rollout.applied.as_deref() != Some(id.as_str()) {
                return Ok(None);
            }
            e.observed.health = Some("Healthy".into());
            e.observed.sync = Some("Synced".into());
            e.observed.message = None;
            e.observed.resources = resources.clone().into();
            let message = format!("Healthy and Synced at {revision}");
            e.transition(Status::Ready, Some(message.clone()), now)
                .map_err(|err| ServiceError::Conflict(err.to_string()))?;
            Ok(Change::event(NewEvent::new(
                EventKind::Healthy,
                "argocd",
                message,
            )))
        })
        .await?;
    if updated.status == Status::Ready && updated.generation == env.generation {
        let took = (now - updated.deployment_started_at)
            .to_std()
            .unwrap_or_default();
        c.ctx
            .metrics
            .create_to_ready_seconds
            .observe(took.as_secs_f64());
    }
    Ok(Action::RequeueAfter(until(c, Some(updated.expires_at))))
}

pub(super) async fn attempt_failed(
    c: &Scope<'_>,
    env: &Environment,
    reason: &str,
    failure: Failure,
    resources: Vec<ObservedResource>,
) -> Result<Action, ReconcileError> {
    let policy = &c.ctx.settings.lifecycle;
    let (attempt, max) = (env.attempt, policy.max_attempts);
    let delay = next_attempt_delay(policy, attempt);
    let now = c.ctx.ports.clock.now();
    let next_at = now + chrono::Duration::from_std(delay).unwrap_or_default();
    let updated = c
        .ctx
        .environments
        .update(env.id.as_str(), |e| {
            if !same_attempt(e, env) {
                return Ok(None);
            }
            let mut events = vec![NewEvent::new(
                EventKind::Degraded,
                "argocd",
                format!("attempt {attempt} failed: {reason}"),
            )];
            e.observed.message = Some(reason.to_owned());
            e.observed.resources = resources.clone().into();
            if attempt < max && failure == Failure::Retriable {
                e.attempt = attempt + 1;
                e.rollout = Rollout {
                    not_before: Some(next_at),
                    ..Rollout::default()
                };
                e.status_message = Some(format!(
                    "{reason} (attempt {attempt} of {max} failed; attempt {} at {} UTC)",
                    attempt + 1,
                    next_at.format("%H:%M:%S")
                ));
                e.updated_at = now;
                events.push(NewEvent::new(
                    EventKind::RetryScheduled,
                    "worker",
                    format!(
                        "attempt {} scheduled for {}",
                        attempt + 1,
                        next_at.to_rfc3339()
                    ),
                ));
            } else {
                let message = match failure {
                    Failure::Retriable => format!("failed after {attempt} attempts: {reason}"),
                    Failure::Permanent => format!("failed: {reason}"),
                };
                e.transition(Status::Failed, Some(message.clone()), now)
                    .map_err(|err| ServiceError::Conflict(err.to_string()))?;
                events.push(NewEvent::new(EventKind::Failed, "worker", message));
            }
            Ok(Change::events(events))
        })
        .await?;
    if updated.status == Status::Pending && updated.attempt == attempt + 1 {
        c.ctx.metrics.retry("provision", "attempt_scheduled");
        return Ok(Action::RequeueAfter(delay));
    }
    Ok(Action::RequeueAfter(until(c, Some(updated.expires_at))))
}

pub(super) async fn observe(
    c: &Scope<'_>,
    env: &Environment,
    health: &str,
    sync: &str,
    message: &str,
    resources: Vec<ObservedResource>,
) -> Result<Action, ReconcileError> {
    let now = c.ctx.ports.clock.now();
    let updated = c
        .ctx
        .environments
        .update(env.id.as_str(), |e| {
            if e.status != env.status || e.generation != env.generation || e.attempt != env.attempt
            {
                return Ok(None);
            }
            let moved = e.observed.health.as_deref() != Some(health)
                || e.observed.sync.as_deref() != Some(sync);
            e.observed.health = Some(health.to_owned());
            e.observed.sync = Some(sync.to_owned());
            e.observed.message = Some(message.to_owned());
            e.observed.resources = resources.clone().into();
            if e.status == Status::Pending {
                e.status_message = Some(format!("Argo CD: {message}"));
            }
            e.updated_at = now;
            let events = if moved {
                vec![NewEvent::new(
                    EventKind::Progressing,
                    "argocd",
                    format!("health {health}, sync {sync}"),
                )]
            } else {
                vec![]
            };
            Ok(Change::events(events))
        })
        .await?;
    Ok(Action::RequeueAfter(match updated.status {
        Status::Pending => until(c, updated.rollout.deadline),
        _ => until(c, Some(updated.expires_at)),
    }))
}
