//! Sleep and wake: an asleep environment runs nothing (every workload at 0 replicas) and its
//! host is sent to Blueberry, all through the Application's values, so Argo CD applies it like
//! any deployment and the controller judges it by the same rule (Healthy at the same revision).

use super::{Applied, EnvironmentService, Once, ensure_live};
use crate::{
    domain::{Environment, EventKind, NewEvent, environment::Asleep, schedule::BY_SCHEDULE},
    service::{
        ServiceError,
        writes::{Change, Trigger},
    },
};

impl EnvironmentService {
    /// Puts the environment to sleep (`asleep`) or wakes it; `Ok` unchanged when it already is
    /// so. Only pending, ready and failed environments can change.
    pub async fn sleep_with(
        &self,
        id: &str,
        asleep: bool,
        actor: &str,
        once: Option<&Once<'_>>,
    ) -> Result<(Environment, Applied), ServiceError> {
        let now = self.now();
        let mut closed = None;
        let (env, applied) = self
            .update_once(id, Trigger::Reconcile, once, |env| {
                closed = None;
                ensure_live(env, if asleep { "put to sleep" } else { "woken" })?;
                if env.asleep.is_some() == asleep {
                    return Ok(None);
                }
                // The stretch before this change was spent in the other state.
                if let Some(m) = &mut env.meter {
                    let before = m.clone();
                    m.close(now, !asleep);
                    closed = Some((before, m.clone()));
                }
                env.asleep = asleep.then(|| Asleep {
                    since: now,
                    by: actor.to_owned(),
                });
                let (kind, message) = if asleep {
                    (
                        EventKind::Slept,
                        format!("put to sleep by {actor}: scaling to zero"),
                    )
                } else {
                    (EventKind::Woke, format!("woken by {actor}: scaling up"))
                };
                // Waking is activity: a whole lifetime from now at the soonest. (The
                // schedule's morning wake is not: it would keep environments forever.)
                if !asleep && actor != BY_SCHEDULE {
                    env.live_a_lifetime_from(now);
                }
                env.start_deployment(message.clone(), now)
                    .map_err(|e| ServiceError::Conflict(e.to_string()))?;
                Ok(Change::event(NewEvent::new(kind, actor, message)))
            })
            .await?;
        if let Some((before, after)) = closed {
            self.metrics
                .meter_closed(&before, &after, &self.settings.cost_rates);
        }
        Ok((env, applied))
    }

    /// Records a sign of use (a status-page visit by a signed-in person), at most once a
    /// minute, so idle sleep waits. Never triggers a reconcile.
    pub async fn touch(&self, id: &str) -> Result<(), ServiceError> {
        let now = self.now();
        let current = self.get(id).await?;
        if !current.is_live_not_deleting()
            || now - current.last_active() < chrono::Duration::minutes(1)
        {
            return Ok(());
        }
        self.writer
            .update(id, Trigger::None, |env| {
                env.active_at = Some(now);
                Ok(Some(Change::default()))
            })
            .await?;
        Ok(())
    }

    pub async fn sleep(
        &self,
        id: &str,
        asleep: bool,
        actor: &str,
    ) -> Result<Environment, ServiceError> {
        Ok(self.sleep_with(id, asleep, actor, None).await?.0)
    }
}
