//! EnvironmentStore listings: pages, filters, and the kept, occupancy and sleeping views.

use blueberry::{
    domain::*,
    ports::{EnvironmentFilter, Occupancy, PageRequest, StoreError},
};
use chrono::{TimeZone, Utc};

use super::{Stores, contract, env};

async fn lists_page_and_filter(stores: Stores) {
    for (i, name) in ["a-1", "a-2", "b-1", "a-3", "c-1"].iter().enumerate() {
        let mut e = env(
            name,
            if *name == "c-1" { "other" } else { "shop" },
            i as i64,
        );
        if *name == "b-1" {
            e.status = Status::Ready;
        }
        stores
            .environments
            .save_environment(&e, &[], &[])
            .await
            .unwrap();
    }
    let all = |f: EnvironmentFilter| {
        let stores = stores.clone();
        async move {
            let mut names = Vec::new();
            let mut cursor = None;
            loop {
                let page = stores
                    .environments
                    .list_environments(&f, &PageRequest { limit: 2, cursor })
                    .await
                    .unwrap();
                assert!(page.items.len() <= 2);
                names.extend(page.items.iter().map(|e| e.name.to_string()));
                match page.next {
                    Some(c) => cursor = Some(c),
                    None => return names,
                }
            }
        }
    };
    assert_eq!(
        all(EnvironmentFilter::default()).await,
        ["c-1", "a-3", "b-1", "a-2", "a-1"]
    );
    assert_eq!(
        all(EnvironmentFilter {
            name_prefix: Some("a-".into()),
            ..Default::default()
        })
        .await,
        ["a-3", "a-2", "a-1"]
    );
    assert_eq!(
        all(EnvironmentFilter {
            status: Some(Status::Ready),
            ..Default::default()
        })
        .await,
        ["b-1"]
    );
    assert_eq!(
        all(EnvironmentFilter {
            repository_id: Some("other".into()),
            ..Default::default()
        })
        .await,
        ["c-1"]
    );
    let bad = stores
        .environments
        .list_environments(
            &Default::default(),
            &PageRequest {
                limit: 2,
                cursor: Some("nonsense".into()),
            },
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))));

    let later = Utc.with_ymd_and_hms(2026, 5, 1, 13, 2, 30).unwrap();
    let expired: Vec<_> = stores
        .environments
        .list_expired(later, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(expired, ["a-1", "a-2", "b-1"], "expires_at = created + 1 h");
}

contract!(listing, lists_page_and_filter);

/// The `kept` listing filter.
async fn kept_environments_are_listed_apart(stores: Stores) {
    let now = Utc.with_ymd_and_hms(2026, 5, 2, 12, 0, 0).unwrap();
    let mut pinned = env("pinned", "shop", 0);
    pinned.kept = Some(environment::Kept {
        by: "alice".into(),
        at: now,
        by_label: false,
    });
    stores
        .environments
        .save_environment(&pinned, &[], &[])
        .await
        .unwrap();
    stores
        .environments
        .save_environment(&env("loose", "shop", 1), &[], &[])
        .await
        .unwrap();
    let names = |kept| {
        listed(
            &stores,
            EnvironmentFilter {
                kept,
                ..Default::default()
            },
        )
    };
    assert_eq!(names(Some(true)).await, ["pinned"]);
    assert_eq!(names(Some(false)).await, ["loose"]);
    assert_eq!(names(None).await, ["loose", "pinned"]);
}

contract!(kept, kept_environments_are_listed_apart);

/// The quota's listings: environments holding a slot, and those in line for one.
async fn running_and_waiting_environments_are_listed_apart(stores: Stores) {
    let now = Utc.with_ymd_and_hms(2026, 5, 2, 12, 0, 0).unwrap();
    let mut waiting = env("waiting", "shop", 0);
    waiting.waiting = Some(blueberry::domain::quota::Waiting::new(now));
    stores
        .environments
        .save_environment(&waiting, &[], &[])
        .await
        .unwrap();
    stores
        .environments
        .save_environment(&env("running", "shop", 1), &[], &[])
        .await
        .unwrap();
    let mut gone = env("gone", "shop", 2);
    gone.status = Status::Terminated;
    stores
        .environments
        .save_environment(&gone, &[], &[])
        .await
        .unwrap();
    stores
        .environments
        .save_environment(&env("elsewhere", "other", 3), &[], &[])
        .await
        .unwrap();
    let names = |occupancy, repository_id: Option<&str>| {
        listed(
            &stores,
            EnvironmentFilter {
                occupancy,
                repository_id: repository_id.map(str::to_owned),
                ..Default::default()
            },
        )
    };
    assert_eq!(
        names(Some(Occupancy::Running), Some("shop")).await,
        ["running"]
    );
    assert_eq!(
        names(Some(Occupancy::Running), None).await,
        ["elsewhere", "running"]
    );
    assert_eq!(names(Some(Occupancy::Waiting), None).await, ["waiting"]);
    assert_eq!(
        names(None, Some("shop")).await,
        ["gone", "running", "waiting"]
    );
}

contract!(occupancy, running_and_waiting_environments_are_listed_apart);

async fn sleeping_environments_are_listed_apart(stores: Stores) {
    let mut dozing = env("dozing", "shop", 0);
    dozing.asleep = Some(environment::Asleep {
        since: Utc::now(),
        by: "idle".into(),
    });
    stores
        .environments
        .save_environment(&dozing, &[], &[])
        .await
        .unwrap();
    stores
        .environments
        .save_environment(&env("awake", "shop", 1), &[], &[])
        .await
        .unwrap();
    for (sleeping, want) in [(Some(true), "dozing"), (Some(false), "awake")] {
        let names = listed(
            &stores,
            EnvironmentFilter {
                sleeping,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(names, [want]);
    }
}

contract!(sleeping, sleeping_environments_are_listed_apart);

/// The names of the first ten environments `filter` lists, newest first.
async fn listed(stores: &Stores, filter: EnvironmentFilter) -> Vec<String> {
    let page = PageRequest {
        limit: 10,
        cursor: None,
    };
    let listed = stores.environments.list_environments(&filter, &page).await;
    let items = listed.unwrap().items;
    items.iter().map(|e| e.name.to_string()).collect()
}
