//! Quotas with a visible queue (`domain::quota`): whether a new environment over a cap may
//! start, where it stands in line, and waking the line when a slot frees up. Admissions are
//! taken one at a time across every replica (one lease), so two workers never give away the
//! same slot.

use std::{collections::HashMap, time::Duration};

use super::{Context, Ports, ServiceError, writes::Change, writes::new_job};
use crate::{
    domain::{
        Environment, EventKind, LifecycleJob, NewEvent, Status,
        quota::{Admission, Caps, InLine, Waiting},
    },
    ports::{EnvironmentFilter, Occupancy, PageRequest},
};

/// The lease every admission takes.
const ADMISSION_LEASE: &str = "quota-admission";
/// How long an admission may hold it if its holder dies.
const ADMISSION_LEASE_TTL: Duration = Duration::from_secs(30);
const PAGE: u32 = 500;

/// Every environment matching `filter`, paging through.
async fn all(ports: &Ports, filter: &EnvironmentFilter) -> Result<Vec<Environment>, ServiceError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = ports
            .environments
            .list_environments(
                filter,
                &PageRequest {
                    limit: PAGE,
                    cursor,
                },
            )
            .await?;
        out.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Asks the controller to look at every environment in line (of `repository_id`, or all):
/// a slot freed up or a cap changed, so they may start or move up.
pub async fn wake_line(ports: &Ports, repository_id: Option<&str>) -> Result<(), ServiceError> {
    let filter = EnvironmentFilter {
        occupancy: Some(Occupancy::Waiting),
        repository_id: repository_id.map(str::to_owned),
        ..Default::default()
    };
    for env in all(ports, &filter).await? {
        let job = LifecycleJob::Reconcile {
            environment_id: env.id,
        };
        ports.queue.enqueue(new_job(&job, None)).await?;
    }
    Ok(())
}

/// An environment of `repository_id` stopped running: when a cap applies, the line may move.
pub async fn slot_freed(ctx: &Context, repository_id: &str) -> Result<(), ServiceError> {
    if ctx.settings.max_environments.is_some() {
        return wake_line(&ctx.ports, None).await;
    }
    let capped = ctx
        .directory
        .repository(ctx.ports.catalog.as_ref(), repository_id)
        .await?
        .is_some_and(|r| r.max_environments.is_some());
    if capped {
        wake_line(&ctx.ports, Some(repository_id)).await?;
    }
    Ok(())
}

/// Decides for `env` (in line) and records it: admitted (it starts now) or where it stands.
/// None when another replica is admitting right now (look again shortly).
pub async fn admit(
    ctx: &Context,
    env: &Environment,
    holder: &str,
) -> Result<Option<Admission>, ServiceError> {
    let leases = &ctx.ports.leases;
    if !leases
        .acquire(ADMISSION_LEASE, holder, ADMISSION_LEASE_TTL)
        .await?
    {
        return Ok(None);
    }
    let decided = decide(ctx, env).await;
    let recorded = match &decided {
        Ok(admission) => record(ctx, env, admission).await,
        Err(_) => Ok(()),
    };
    if let Err(e) = leases.release(ADMISSION_LEASE, holder).await {
        tracing::warn!(error = %e, "could not give the admission lease back; it runs out by itself");
    }
    recorded?;
    decided.map(Some)
}

async fn decide(ctx: &Context, env: &Environment) -> Result<Admission, ServiceError> {
    let platform = ctx.settings.max_environments;
    // With a platform cap every repository shares one line; otherwise each has its own.
    let scope = platform.is_none().then(|| env.repository_id.clone());
    let listing = |occupancy| EnvironmentFilter {
        occupancy: Some(occupancy),
        repository_id: scope.clone(),
        ..Default::default()
    };
    let mut running: HashMap<String, u32> = HashMap::new();
    for e in all(&ctx.ports, &listing(Occupancy::Running)).await? {
        *running.entry(e.repository_id).or_default() += 1;
    }
    let line: Vec<InLine> = all(&ctx.ports, &listing(Occupancy::Waiting))
        .await?
        .into_iter()
        .filter(|e| e.status == Status::Pending)
        .filter_map(|e| {
            let since = e.waiting.as_ref()?.since;
            Some(InLine {
                id: e.id.to_string(),
                repository_id: e.repository_id,
                since,
            })
        })
        .collect();
    let mut caps = Caps {
        repositories: HashMap::new(),
        platform,
    };
    let ports = &ctx.ports;
    for repository_id in line.iter().map(|w| &w.repository_id) {
        if caps.repositories.contains_key(repository_id) {
            continue;
        }
        let cap = ctx
            .directory
            .repository(ports.catalog.as_ref(), repository_id)
            .await?
            .and_then(|r| r.max_environments);
        if let Some(cap) = cap {
            caps.repositories.insert(repository_id.clone(), cap);
        }
    }
    Ok(crate::domain::quota::admission(
        env.id.as_str(),
        &running,
        &line,
        &caps,
    ))
}

async fn record(
    ctx: &Context,
    env: &Environment,
    admission: &Admission,
) -> Result<(), ServiceError> {
    let now = ctx.ports.clock.now();
    ctx.environments
        .update(env.id.as_str(), |e| {
            let Some(waiting) = e.waiting.clone() else {
                return Ok(None);
            };
            if e.status != Status::Pending || e.generation != env.generation {
                return Ok(None);
            }
            match admission {
                Admission::Admit => {
                    e.waiting = None;
                    e.status_message = Some(
                        "a slot is free: waiting for a worker to apply the Application".into(),
                    );
                    e.updated_at = now;
                    Ok(Change::event(NewEvent::new(
                        EventKind::Admitted,
                        "worker",
                        format!(
                            "admitted after {} s in line",
                            (now - waiting.since).num_seconds().max(0)
                        ),
                    )))
                }
                Admission::Wait {
                    position,
                    running,
                    cap,
                    scope,
                } => {
                    let placed = Waiting {
                        since: waiting.since,
                        position: *position,
                        running: *running,
                        cap: *cap,
                        scope: *scope,
                    };
                    if placed == waiting {
                        return Ok(None);
                    }
                    let first = waiting.position == 0;
                    e.status_message = Some(placed.describe());
                    e.waiting = Some(placed);
                    e.updated_at = now;
                    Ok(Some(if first {
                        Change::event(NewEvent::new(
                            EventKind::Queued,
                            "worker",
                            e.status_message.clone().unwrap_or_default(),
                        ))
                        .expect("an event")
                    } else {
                        Change::default()
                    }))
                }
                Admission::NotInLine => Ok(None),
            }
        })
        .await?;
    Ok(())
}
