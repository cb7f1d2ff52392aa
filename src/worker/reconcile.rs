//! Drift repair between the store and the cluster: a ready environment whose Application has
//! gone missing is redeployed, and a Blueberry-managed Application that belongs to no live
//! environment is deleted. Runs at start-up and with every reaper pass.

use std::collections::HashSet;

use crate::{
    domain::{EnvironmentId, Status},
    ports::{EnvironmentFilter, PageRequest},
    service::{Context, ServiceError},
};

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    pub redeployed: usize,
    pub orphans_deleted: usize,
}

pub async fn reconcile_once(ctx: &Context) -> Result<Repaired, ServiceError> {
    let in_cluster: HashSet<String> = ctx
        .ports
        .cluster
        .list_managed()
        .await?
        .into_iter()
        .collect();
    let mut live = HashSet::new();
    let mut repaired = Repaired::default();
    let mut cursor = None;
    loop {
        let page = ctx
            .environments
            .list(
                &EnvironmentFilter::default(),
                &PageRequest { limit: 100, cursor },
            )
            .await?;
        for env in &page.items {
            if !env.status.is_live() {
                continue;
            }
            let app = env.id.application_name();
            if env.status == Status::Ready && !in_cluster.contains(&app) {
                tracing::warn!(env_id = %env.id, "Application missing from the cluster; redeploying");
                match ctx
                    .environments
                    .redeploy(env.id.as_str(), None, "reconciler")
                    .await
                {
                    Ok(_) => repaired.redeployed += 1,
                    Err(ServiceError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            live.insert(app);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    for orphan in in_cluster.difference(&live) {
        // Only names Blueberry could have made; anything else is left alone.
        let Some(id) = orphan
            .strip_prefix("env-")
            .and_then(|i| EnvironmentId::parse(i).ok())
        else {
            continue;
        };
        // Re-read: the environment may have been created since the listing.
        if ctx
            .ports
            .store
            .get_environment(&id)
            .await?
            .is_some_and(|e| e.status.is_live())
        {
            continue;
        }
        tracing::warn!(application = %orphan, "deleting an Application that belongs to no live environment");
        ctx.ports.cluster.delete(orphan).await?;
        repaired.orphans_deleted += 1;
    }
    Ok(repaired)
}
