//! Expiry people see coming: when an environment's expiry is near (at
//! `--expiry-warnings-hours`, by default 24 h and 1 h before), once per threshold and expiry,
//! an `expiry_warned` event is recorded (subscriptions hear it as `expiring`); a merge
//! request's sticky note is refreshed and one comment mentions the author with the commands
//! that keep it.

use super::EnvironmentService;
use crate::{
    domain::{EventKind, LifecycleJob, NewEvent, environment::ExpiryWarning},
    service::{
        ServiceError,
        writes::{Change, Trigger},
    },
};

impl EnvironmentService {
    /// Records the warning `hours` before expiry and queues its comment on merge request
    /// `project_id`'s `iid`; nothing when it is no longer due (extended, kept, gone).
    pub async fn warn_expiry(
        &self,
        id: &str,
        hours: u32,
        project_id: u64,
    ) -> Result<(), ServiceError> {
        let now = self.now();
        let thresholds = self.settings.lifecycle.expiry_warnings.clone();
        self.writer
            .update(id, Trigger::None, |env| {
                if env.expiry_warning_due(&thresholds, now) != Some(hours) {
                    return Ok(None);
                }
                env.expiry_warning = Some(ExpiryWarning {
                    expires_at: env.expires_at,
                    hours,
                });
                let at = env.expires_at.format("%Y-%m-%d %H:%M UTC");
                let Some(mr) = env.merge_request.clone() else {
                    return Ok(Change::event(NewEvent::new(
                        EventKind::ExpiryWarned,
                        "reaper",
                        format!("expires in about {hours} h (at {at})"),
                    )));
                };
                let text = format!(
                    "@{} the environment `{}` expires in about {hours} h (at {at}). Comment `/blueberry extend [hours]` to keep it longer, or `/blueberry keep` to keep it until the merge request closes.",
                    mr.author, env.id
                );
                let mut change = Change::event(NewEvent::new(
                    EventKind::ExpiryWarned,
                    "reaper",
                    format!("expires in about {hours} h (at {at}); the merge request was told"),
                ))
                .expect("an event");
                change.jobs.push(LifecycleJob::Reply {
                    environment_id: env.id.clone(),
                    project_id,
                    iid: mr.iid,
                    // One comment per threshold and expiry, even if this job runs twice.
                    reply_to: format!("expiry:{hours}:{}", env.expires_at.timestamp()),
                    text,
                });
                Ok(Some(change))
            })
            .await?;
        Ok(())
    }
}
