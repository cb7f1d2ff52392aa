//! A merge request job lost on its way (a Pub/Sub subscriber killed while holding it, which
//! Google's emulator never redelivers) is not a lost push: the resync brings every merge request
//! environment to its newest recorded event. Failed before the resync did that: the environment
//! stayed at the first commit for good.

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use crate::{
    faults::{FaultyStore, StoreFaults},
    hooks::{Project, merge_request_event, sha},
};

#[tokio::test]
async fn the_resync_applies_a_push_whose_job_was_lost() {
    let faults = Arc::new(StoreFaults::default());
    let adapt = FaultyStore::adapt(&faults);
    let p = Project::start_adapted(|c| c.resync_secs = 2, adapt).await;
    p.accept(&merge_request_event("open", 7, &sha(1), 0), "open-7")
        .await;
    p.wait_at("pr-7-shop", "ready", &sha(1), Duration::from_secs(15))
        .await;

    faults.lose_webhook_jobs.store(true, Ordering::SeqCst);
    p.accept(&merge_request_event("update", 7, &sha(2), 60), "push-7")
        .await;
    p.wait_at("pr-7-shop", "ready", &sha(2), Duration::from_secs(20))
        .await;
}

#[tokio::test]
async fn the_resync_creates_the_environment_whose_first_job_was_lost() {
    let faults = Arc::new(StoreFaults::default());
    faults.lose_webhook_jobs.store(true, Ordering::SeqCst);
    let adapt = FaultyStore::adapt(&faults);
    let p = Project::start_adapted(|c| c.resync_secs = 2, adapt).await;
    p.accept(&merge_request_event("open", 8, &sha(3), 0), "open-8")
        .await;
    p.wait_at("pr-8-shop", "ready", &sha(3), Duration::from_secs(20))
        .await;
}
