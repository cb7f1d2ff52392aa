//! Ingress traffic as activity: every interval, the hosts that got requests (from
//! [`Traffic`], e.g. Prometheus) mark their environments used, so idle sleep and the sleep
//! schedule leave them awake. Trouble reading the metrics is logged and changes nothing.

use std::{sync::Arc, time::Duration};

use tokio::sync::watch;

use crate::{
    ports::traffic::Traffic,
    service::{Context, ServiceError},
};

/// Runs until `shutdown` turns true.
pub async fn run(
    ctx: Context,
    traffic: Arc<dyn Traffic>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if let Err(e) = once(&ctx, traffic.as_ref(), interval).await {
            tracing::warn!(error = %e, "ingress traffic not read; idle sleep goes by the other signs of use");
        }
    }
}

/// One look: touches the environment of every host with requests in the last interval (at
/// least a minute); how many were touched.
pub async fn once(
    ctx: &Context,
    traffic: &dyn Traffic,
    interval: Duration,
) -> anyhow::Result<usize> {
    let hosts = traffic
        .busy_hosts(interval.max(Duration::from_secs(60)))
        .await?;
    let suffix = format!(".{}", ctx.settings.base_domain);
    let mut touched = 0;
    for host in hosts {
        let Some(id) = host.strip_suffix(&suffix) else {
            continue;
        };
        match ctx.environments.touch(id).await {
            Ok(()) => touched += 1,
            Err(ServiceError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(touched)
}
