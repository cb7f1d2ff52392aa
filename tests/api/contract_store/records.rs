//! SubscriptionStore and AuditLog.

use blueberry::{
    domain::auth::{ApiToken, Role},
    ports::{StoreError, store::AuditEntry},
};
use chrono::Utc;

use super::{Stores, contract};
use crate::emulators;

async fn subscriptions_round_trip_with_their_delivery_log(stores: Stores) {
    use blueberry::domain::notification::{
        DeliveryAttempt, Format, Subscription, Topic, new_secret,
    };
    let id = emulators::unique("sub");
    let mut sub = Subscription {
        id: id.clone(),
        repository_id: None,
        url: "https://hooks.example.com/x".into(),
        topics: vec![Topic::Ready, Topic::Failed],
        format: Format::StandardWebhooks,
        secret: new_secret(),
        created_by: "admin".into(),
        created_at: Utc::now(),
        deliveries: vec![],
    };
    stores.metadata.create_subscription(&sub).await.unwrap();
    assert!(matches!(
        stores.metadata.create_subscription(&sub).await,
        Err(StoreError::Conflict(_))
    ));
    sub.record(DeliveryAttempt {
        message_id: "msg_1".into(),
        topic: Topic::Ready,
        environment_id: "pr-1-shop".into(),
        at: Utc::now(),
        attempt: 1,
        status: Some(204),
        error: None,
        delivered: true,
        last: true,
    });
    stores.metadata.update_subscription(&sub).await.unwrap();
    let read = stores
        .metadata
        .get_subscription(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.deliveries.len(), 1);
    assert_eq!(read.secret, sub.secret);
    assert!(
        stores
            .metadata
            .list_subscriptions()
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == id)
    );
    stores.metadata.delete_subscription(&id).await.unwrap();
    assert!(
        stores
            .metadata
            .get_subscription(&id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        stores.metadata.delete_subscription(&id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        stores.metadata.update_subscription(&sub).await,
        Err(StoreError::NotFound(_))
    ));
}

contract!(
    subscriptions,
    subscriptions_round_trip_with_their_delivery_log
);

async fn the_audit_log_lists_newest_first(stores: Stores) {
    let entry = AuditEntry {
        at: Utc::now(),
        actor: "alice".into(),
        action: "repository.delete".into(),
        target: "r1".into(),
        detail: String::new(),
    };
    stores.metadata.append_audit(&entry).await.unwrap();
    assert_eq!(
        stores.metadata.list_audit(10).await.unwrap()[0].actor,
        "alice"
    );
}

contract!(audit, the_audit_log_lists_newest_first);

/// Tokens: created once, found by their hash, replaced (revoked) but never conjured.
async fn tokens_are_found_by_hash_and_replaced_in_place(stores: Stores) {
    let tokens = &stores.metadata;
    let id = emulators::unique("tok");
    let token = ApiToken {
        id: id.clone(),
        name: "ci".into(),
        role: Role::Developer,
        hash: format!("{:0>64}", id.len()),
        owner: "alice".into(),
        created_at: Utc::now(),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    };
    tokens.create_token(&token).await.unwrap();
    assert!(matches!(
        tokens.create_token(&token).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        tokens.find_token_by_hash(&token.hash).await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(
        tokens.find_token_by_hash(&"f".repeat(64)).await.unwrap(),
        None
    );
    let mut revoked = token.clone();
    revoked.revoked_at = Some(Utc::now());
    tokens.update_token(&revoked).await.unwrap();
    assert_eq!(tokens.get_token(&id).await.unwrap(), Some(revoked));
    assert_eq!(
        tokens.list_tokens().await.unwrap().len(),
        1,
        "a replace adds nothing"
    );
    let mut stranger = token.clone();
    stranger.id = emulators::unique("tok");
    assert!(matches!(
        tokens.update_token(&stranger).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(tokens.get_token(&stranger.id).await.unwrap(), None);
}

contract!(tokens, tokens_are_found_by_hash_and_replaced_in_place);
