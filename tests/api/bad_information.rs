//! Never delete on bad information: a store that cannot be read, or that answers "nothing
//! there", makes Blueberry delete no Application — only a record that positively says deleting
//! or terminated does (Argo CD's pull-request generator deleted every preview when its Git
//! host's API failed: argo-cd#11464, #18212, #18480).

use std::{sync::Arc, time::Duration};

use crate::{
    faults::{Blind, FaultyStore, StoreFaults},
    helpers::TestApp,
};

#[tokio::test]
async fn an_unreadable_or_empty_store_deletes_nothing() {
    let faults = Arc::new(StoreFaults::default());
    let app = TestApp::spawn_adapted(|c| c.resync_secs = 1, FaultyStore::adapt(&faults)).await;
    let repo = app.seed().await;
    let mut ids = Vec::new();
    for name in ["one", "two", "three"] {
        ids.push(
            app.create_environment(name, &repo).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for id in &ids {
        app.wait_for_status(id, "ready", Duration::from_secs(10))
            .await;
    }
    let before = app.applications();
    assert_eq!(before.len(), 3);
    let intact = |app: &TestApp| {
        app.applications() == before
            && before.iter().all(|name| {
                app.sim
                    .get("argocd", name)
                    .is_some_and(|a| a["metadata"]["deletionTimestamp"].is_null())
            })
    };
    for blind in [Blind::Failing, Blind::Empty] {
        faults
            .blind
            .store(blind as u8, std::sync::atomic::Ordering::SeqCst);
        // Resyncs and reaper passes run every second meanwhile, and the clock moves a day.
        app.clock.advance(chrono::Duration::hours(1));
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            intact(&app),
            "an Application was deleted: {:?}",
            app.applications()
        );
    }
    faults
        .blind
        .store(Blind::No as u8, std::sync::atomic::Ordering::SeqCst);
    for id in &ids {
        assert_eq!(app.environment(id).await["status"], "ready");
    }
    assert!(intact(&app));
}
