//! The worker side: the lifecycle controller (one shared watch of the Applications, reconcile
//! workers over an in-memory work queue), consumers of the durable job queue, the reaper
//! (expiry and periodic resync) and the outbox relay.

pub mod consumer;
pub mod controller;
pub mod jobs;
pub mod observer;
pub mod reaper;
pub mod relay;
mod steps;
pub mod traffic;
pub mod workqueue;

use std::time::Duration;

use tokio::{sync::watch, task::JoinSet};

pub use consumer::{RunOutcome, run_next_job};
pub use controller::Controller;

use crate::service::Context;

/// How the worker side runs.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Reconcile workers, and as many durable job consumers.
    pub workers: u32,
    /// How long a consumer holds a job before another may take it (extended while it runs).
    pub lease: Duration,
    /// How often expired environments are looked for.
    pub reaper_interval: Duration,
}

/// Starts the controller, the consumers and the reaper until `shutdown`.
pub fn spawn(
    ctx: Context,
    settings: WorkerSettings,
    shutdown: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) -> Controller {
    let controller = Controller::new(ctx);
    controller.spawn(settings.workers, shutdown, tasks);
    consumer::spawn(
        &controller,
        settings.workers,
        settings.lease,
        shutdown,
        tasks,
    );
    tasks.spawn(reaper::run(
        controller.clone(),
        settings.reaper_interval,
        shutdown.clone(),
    ));
    controller
}
