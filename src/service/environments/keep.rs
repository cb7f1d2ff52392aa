//! Keep: pin an environment against expiry, or let it expire again. Closing or merging the
//! merge request, `/blueberry destroy` and the API's delete still tear a kept one down.

use super::{Applied, EnvironmentService, Once, ensure_live};
use crate::{
    domain::{Environment, EventKind, NewEvent, environment::Kept},
    service::{
        ServiceError,
        writes::{Change, Trigger},
    },
};

/// How a keep or unkeep is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepBy {
    /// A person: the API, the UI, a `/blueberry` command.
    Person,
    /// The merge request's keep label (added, or removed).
    Label,
}

impl EnvironmentService {
    /// Pins (`keep`) or lets go (`!keep`); `Ok` with the environment unchanged when it already
    /// was. Only pending, ready and failed environments can be kept. Removing the label lets go
    /// of a keep the label made, never one a person asked for.
    pub async fn keep_with(
        &self,
        id: &str,
        keep: bool,
        actor: &str,
        by: KeepBy,
        once: Option<&Once<'_>>,
    ) -> Result<(Environment, Applied), ServiceError> {
        let now = self.now();
        self.update_once(id, Trigger::None, once, |env| {
            if keep {
                ensure_live(env, "kept")?;
            }
            let event = match (keep, &env.kept) {
                (true, Some(_)) => return Ok(None),
                (false, None) => return Ok(None),
                (false, Some(k)) if by == KeepBy::Label && !k.by_label => {
                    return Ok(None);
                }
                (true, None) => {
                    env.active_at = Some(now);
                    env.kept = Some(Kept {
                        by: actor.to_owned(),
                        at: now,
                        by_label: by == KeepBy::Label,
                    });
                    NewEvent::new(
                        EventKind::Kept,
                        actor,
                        format!("kept by {actor}: it will not expire"),
                    )
                }
                (false, Some(_)) => {
                    env.kept = None;
                    // Let go, it gets a whole lifetime from now, never an instant end.
                    env.live_a_lifetime_from(now);
                    NewEvent::new(
                        EventKind::Unkept,
                        actor,
                        format!(
                            "let go by {actor}: it expires at {}",
                            env.expires_at.format("%Y-%m-%d %H:%M UTC")
                        ),
                    )
                }
            };
            env.updated_at = now;
            Ok(Change::event(event))
        })
        .await
    }

    /// [`Self::keep_with`] for the API and the UI.
    pub async fn keep(
        &self,
        id: &str,
        keep: bool,
        actor: &str,
    ) -> Result<Environment, ServiceError> {
        Ok(self
            .keep_with(id, keep, actor, KeepBy::Person, None)
            .await?
            .0)
    }
}
