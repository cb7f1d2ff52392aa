//! The reconciler's decision, pure: given the record (what is wanted) and what the cluster
//! reports (what is), the one short step to take now, or how long to wait before looking again.
//! The worker (`worker::controller`) reads both, calls [`decide`], performs the step and
//! requeues; it never waits on Argo CD.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{
    Environment, Status,
    argo::{ObservedApplication, Verdict, judge},
    schedule::{BY_SCHEDULE, Phase, SleepSchedule},
};

/// The knobs of the lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub max_attempts: u32,
    /// The wait before attempt 2; doubles with each further attempt.
    pub retry_base_delay: Duration,
    /// How long one attempt may take to become Healthy and Synced.
    pub provision_timeout: Duration,
    /// A settled environment is looked at again at least this often.
    pub resync: Duration,
    /// Hours before expiry at which a merge request is warned (`--expiry-warnings-hours`).
    pub expiry_warnings: Vec<u32>,
    /// A ready environment idle this long is put to sleep (its repository's
    /// `sleep_after_idle_minutes`); never when absent.
    pub idle_sleep: Option<Duration>,
    /// Awake hours (the repository's `sleep_schedule`); always awake when absent.
    pub schedule: Option<SleepSchedule>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retry_base_delay: Duration::from_secs(5),
            provision_timeout: Duration::from_secs(600),
            resync: Duration::from_secs(600),
            expiry_warnings: vec![24, 1],
            idle_sleep: None,
            schedule: None,
        }
    }
}

/// How long an apply may stay invisible in the observed state before it is made again.
pub const APPLY_GRACE: Duration = Duration::from_secs(30);
/// How often to look at an Application being deleted.
const DELETE_POLL: Duration = Duration::from_secs(5);
/// How soon to look again when the observed state lags behind the record.
const SHORT: Duration = Duration::from_secs(1);

/// What the cluster reports about the environment's Application.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    /// The Application does not exist.
    Absent,
    Present(&'a ObservedApplication),
}

/// The one step to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// In line for a slot under a quota: admit it if one is free, or record where it stands.
    Admit,
    /// Ready, awake and idle for the repository's `sleep_after_idle_minutes`: put it to sleep.
    SleepIdle,
    /// Ready and awake outside its repository's awake hours, unused since they ended.
    SleepOnSchedule,
    /// Put to sleep by the schedule, and its awake hours have begun.
    WakeOnSchedule,
    /// Apply the Application for the current deployment (and record it as applied).
    Apply,
    /// Argo CD made the current deployment Healthy and Synced.
    MarkReady { revision: String },
    /// Argo CD's verdict (or the deadline) fails the current attempt.
    AttemptFailed { reason: String },
    /// Record what Argo CD reports, without changing status.
    Observe {
        health: String,
        sync: String,
        message: String,
    },
    /// A ready environment's Application vanished: deploy it again.
    Redeploy { reason: String },
    /// Past its expiry: start the teardown.
    Expire,
    /// Its expiry is `hours` away: tell the merge request (once per threshold and expiry).
    WarnExpiry { hours: u32 },
    /// Delete the Application (the record says it must go).
    Delete,
    /// The Application is gone: the environment is terminated.
    Terminate,
    /// Nothing to do now; look again after this long (the watch may trigger sooner).
    Wait(Duration),
    /// Nothing to do until something changes.
    Idle,
}

fn until(later: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (later - now).to_std().unwrap_or(Duration::ZERO)
}

/// Whether the recorded observation already says this.
fn already_observed(env: &Environment, app: &ObservedApplication, message: &str) -> bool {
    env.observed.health.as_deref() == Some(app.health.as_str())
        && env.observed.sync.as_deref() == Some(app.sync.as_str())
        && env.observed.message.as_deref() == Some(message)
        && *env.observed.resources == *app.resources
}

/// Decides the next step for `env`. `watch_live` is false while the cluster watch is
/// reconnecting: then a deadline is not taken as Argo CD's verdict.
pub fn decide(
    env: &Environment,
    observed: Observation<'_>,
    now: DateTime<Utc>,
    watch_live: bool,
    policy: &Policy,
) -> Step {
    let idle_until = |env: &Environment| {
        let idle = policy.idle_sleep.filter(|_| env.asleep.is_none())?;
        Some(env.last_active() + chrono::Duration::from_std(idle).ok()?)
    };
    let settled = |env: &Environment| {
        let next_warning = env
            .next_expiry_warning(&policy.expiry_warnings, now)
            .map_or(policy.resync, |at| until(at, now));
        let idle = idle_until(env)
            .filter(|_| env.status == Status::Ready)
            .map_or(policy.resync, |at| until(at, now));
        let schedule = policy
            .schedule
            .as_ref()
            .filter(|_| env.status == Status::Ready)
            .map_or(policy.resync, |s| until(s.next_change(now), now));
        Step::Wait(
            until(env.expires_at, now)
                .min(policy.resync)
                .min(next_warning)
                .min(idle)
                .min(schedule),
        )
    };
    let on_schedule = |env: &Environment| {
        let schedule = policy.schedule.as_ref()?;
        match (schedule.phase(now), &env.asleep) {
            (Phase::Asleep { since }, None) if env.last_active() < since => {
                Some(Step::SleepOnSchedule)
            }
            (Phase::Awake { since }, Some(a)) if a.by == BY_SCHEDULE && a.since < since => {
                Some(Step::WakeOnSchedule)
            }
            _ => None,
        }
    };
    if let Some(hours) = env.expiry_warning_due(&policy.expiry_warnings, now)
        && !env.is_expired(now)
    {
        return Step::WarnExpiry { hours };
    }
    match env.status {
        Status::Pending | Status::Ready | Status::Failed if env.is_expired(now) => Step::Expire,
        // In line under a quota: nothing is applied until it is admitted.
        Status::Pending if env.waiting.is_some() => Step::Admit,
        Status::Pending => pending(env, observed, now, watch_live),
        Status::Ready if let Some(step) = on_schedule(env) => step,
        Status::Ready if idle_until(env).is_some_and(|at| at <= now) => Step::SleepIdle,
        Status::Ready => match observed {
            Observation::Absent => Step::Redeploy {
                reason: "the Application was missing from the cluster".into(),
            },
            Observation::Present(app) if app.deleting => Step::Wait(DELETE_POLL),
            // Drift after ready (health or sync moved) is recorded; its wording alone is not.
            Observation::Present(app)
                if env.observed.health.as_deref() == Some(app.health.as_str())
                    && env.observed.sync.as_deref() == Some(app.sync.as_str()) =>
            {
                settled(env)
            }
            Observation::Present(app) => Step::Observe {
                health: app.health.clone(),
                sync: app.sync.clone(),
                message: app.progress(),
            },
        },
        Status::Failed => settled(env),
        Status::Deleting => match observed {
            Observation::Absent => Step::Terminate,
            Observation::Present(app) if !app.deleting => Step::Delete,
            Observation::Present(_) => Step::Wait(DELETE_POLL),
        },
        Status::Terminated => match observed {
            // Only because the record positively says terminated.
            Observation::Present(app) if !app.deleting => Step::Delete,
            _ => Step::Idle,
        },
    }
}

fn pending(
    env: &Environment,
    observed: Observation<'_>,
    now: DateTime<Utc>,
    watch_live: bool,
) -> Step {
    let rollout = &env.rollout;
    if let Some(not_before) = rollout.not_before
        && not_before > now
    {
        return Step::Wait(until(not_before, now));
    }
    let id = env.deployment_id();
    if rollout.applied.as_deref() != Some(id.as_str()) {
        return Step::Apply;
    }
    let applied_long_ago = rollout
        .applied_at
        .is_none_or(|t| now - t > chrono::Duration::from_std(APPLY_GRACE).unwrap_or_default());
    let app = match observed {
        Observation::Absent if applied_long_ago => return Step::Apply,
        Observation::Absent => return Step::Wait(SHORT),
        Observation::Present(app) if app.deployment.as_deref() != Some(id.as_str()) => {
            return if app.deleting {
                Step::Wait(DELETE_POLL)
            } else if applied_long_ago {
                Step::Apply
            } else {
                Step::Wait(SHORT)
            };
        }
        Observation::Present(app) if app.request_lost(&id) => return Step::Apply,
        Observation::Present(app) => app,
    };
    let waiting = match judge(app, &id, env.sha.as_ref().map(|s| s.as_str())) {
        Verdict::Ready { revision } => return Step::MarkReady { revision },
        Verdict::Failed(reason) => return Step::AttemptFailed { reason },
        Verdict::Waiting(what) => what,
    };
    let deadline = rollout.deadline.unwrap_or(now);
    if deadline <= now {
        if !watch_live {
            // Without a live watch the status may be old: no verdict from a deadline now.
            return Step::Wait(SHORT);
        }
        let seconds = rollout
            .applied_at
            .map(|t| (deadline - t).num_seconds())
            .unwrap_or_default();
        return Step::AttemptFailed {
            reason: format!("not Healthy and Synced within {seconds} s: {waiting}"),
        };
    }
    if already_observed(env, app, &waiting) {
        Step::Wait(until(deadline, now))
    } else {
        Step::Observe {
            health: app.health.clone(),
            sync: app.sync.clone(),
            message: waiting,
        }
    }
}

/// When the attempt after a failed `attempt` may start: `base`, doubling, capped at 10 min.
pub fn next_attempt_delay(policy: &Policy, failed_attempt: u32) -> Duration {
    super::job::retry_delay(policy.retry_base_delay, failed_attempt + 1)
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "lifecycle_time_tests.rs"]
mod time_tests;
