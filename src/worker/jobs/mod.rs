//! Durable jobs, one file each. A `Reconcile` hands its environment to the controller and is
//! acknowledged once a reconcile that started after it has finished; the others carry what only
//! their event knows. Each is idempotent: delivered twice or after a crash, it does no harm.

mod approve;
mod command;
pub mod merge_request;
pub mod notify;
mod reply;
mod settled;

use std::time::Duration;

use super::controller::Controller;
use crate::{domain::LifecycleJob, service::ServiceError};

/// What a job asks of the queue when it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished (or nothing to do): acknowledge.
    Done,
    /// Waiting on the lifecycle (not failing): deliver again after the delay, without counting
    /// a failed delivery.
    Defer(Duration),
}

/// Runs one job.
#[tracing::instrument(skip_all, fields(job = job.name(), env_id = %job.environment_id()))]
pub async fn run(controller: &Controller, job: LifecycleJob) -> Result<JobOutcome, ServiceError> {
    let ctx = &controller.ctx;
    match job {
        LifecycleJob::Reconcile { environment_id } => {
            controller
                .queue
                .trigger_and_wait(environment_id.as_str())
                .await;
            Ok(JobOutcome::Done)
        }
        LifecycleJob::MergeRequest {
            environment_id,
            repository_id,
            iid,
        } => merge_request::run(ctx, &environment_id, &repository_id, iid).await,
        LifecycleJob::Command {
            environment_id,
            repository_id,
            event,
        } => command::run(ctx, &environment_id, &repository_id, &event).await,
        LifecycleJob::Notify { environment_id } => notify::run(ctx, &environment_id).await,
        LifecycleJob::StickyNote { environment_id } => {
            notify::sticky_note(ctx, &environment_id).await
        }
        LifecycleJob::Announce {
            environment_id,
            topic,
            version,
        } => {
            ctx.notifications
                .announce(&environment_id, topic, version)
                .await?;
            Ok(JobOutcome::Done)
        }
        LifecycleJob::Deliver {
            environment_id,
            subscription_id,
            topic,
            message_id,
        } => Ok(
            match ctx
                .notifications
                .deliver(&subscription_id, &environment_id, topic, &message_id)
                .await?
            {
                // Not a failed job: the receiver's trouble, logged and tried again.
                Some(delay) => JobOutcome::Defer(delay),
                None => JobOutcome::Done,
            },
        ),
        LifecycleJob::Archive { environment_id } => {
            // Idempotent: a redelivery rewrites the same object.
            ctx.archives.archive(&environment_id).await?;
            Ok(JobOutcome::Done)
        }
        LifecycleJob::Reply {
            environment_id,
            project_id,
            iid,
            reply_to,
            text,
        } => reply::run(ctx, &environment_id, project_id, iid, &reply_to, &text).await,
    }
}
