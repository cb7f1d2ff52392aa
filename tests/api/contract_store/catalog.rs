//! CatalogStore: unique names, and references kept intact.

use blueberry::{domain::*, ports::StoreError};

use super::{Stores, config_set, contract, env, repo};

async fn the_catalog_keeps_names_unique_and_references_intact(stores: Stores) {
    stores
        .metadata
        .create_config_set(&config_set("cs", "web"))
        .await
        .unwrap();
    assert!(matches!(
        stores
            .metadata
            .create_config_set(&config_set("cs2", "web"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    stores
        .metadata
        .create_repository(&repo("r1", "shop", 10, Some("cs")))
        .await
        .unwrap();
    assert!(matches!(
        stores
            .metadata
            .create_repository(&repo("r2", "shop", 11, None))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        stores
            .metadata
            .create_repository(&repo("r3", "other", 10, None))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        stores
            .metadata
            .find_repository_by_project(10)
            .await
            .unwrap()
            .unwrap()
            .id,
        "r1"
    );
    assert!(
        stores
            .metadata
            .find_repository_by_project(99)
            .await
            .unwrap()
            .is_none()
    );
    let mut updated = repo("r1", "shop", 12, Some("cs"));
    updated.path_with_namespace = "acme/renamed".into();
    stores.metadata.update_repository(&updated).await.unwrap();
    assert_eq!(
        stores
            .metadata
            .get_repository("r1")
            .await
            .unwrap()
            .unwrap()
            .path_with_namespace,
        "acme/renamed"
    );
    assert!(matches!(
        stores
            .metadata
            .update_repository(&repo("nope", "nope", 13, None))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let in_use = stores.metadata.delete_config_set("cs").await;
    assert!(
        matches!(in_use, Err(StoreError::Conflict(_))),
        "in use by r1: {in_use:?}"
    );

    let mut e = env("live", "shop", 0);
    e.repository_id = "r1".into();
    stores
        .environments
        .save_environment(&e, &[], &[])
        .await
        .unwrap();
    assert!(matches!(
        stores.metadata.delete_repository("r1").await,
        Err(StoreError::Conflict(_))
    ));
    let mut done = stores
        .environments
        .get_environment(&e.id)
        .await
        .unwrap()
        .unwrap();
    done.status = Status::Terminated;
    stores
        .environments
        .save_environment(&done, &[], &[])
        .await
        .unwrap();
    stores.metadata.delete_repository("r1").await.unwrap();
    assert!(
        stores
            .metadata
            .get_repository("r1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        stores.metadata.delete_repository("r1").await,
        Err(StoreError::NotFound(_))
    ));
    stores.metadata.delete_config_set("cs").await.unwrap();
    assert!(stores.metadata.list_config_sets().await.unwrap().is_empty());
}

contract!(
    catalog,
    the_catalog_keeps_names_unique_and_references_intact
);
