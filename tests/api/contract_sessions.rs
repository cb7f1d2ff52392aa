//! The Sessions contract, against every adapter: SQLite and Firestore (emulator).

use std::sync::Arc;

use blueberry::{
    adapters::{
        firestore::FirestoreStore,
        sqlite::{Db, SqliteSessions},
    },
    domain::auth::LoginCode,
    ports::Sessions,
};
use chrono::{Duration, Utc};

use crate::emulators;

async fn contract(sessions: Arc<dyn Sessions>) {
    let now = Utc::now();
    let code = LoginCode {
        hash: "a1".repeat(32),
        token_id: "token-1".into(),
        expires_at: now + Duration::minutes(15),
    };
    sessions.put_login_code(&code).await.unwrap();
    assert_eq!(
        sessions
            .take_login_code(&"ff".repeat(32), now)
            .await
            .unwrap(),
        None,
        "an unknown code"
    );
    let taken = sessions.take_login_code(&code.hash, now).await.unwrap();
    assert_eq!(taken.as_ref().map(|c| c.token_id.as_str()), Some("token-1"));
    assert_eq!(
        sessions.take_login_code(&code.hash, now).await.unwrap(),
        None,
        "taken once"
    );

    let stale = LoginCode {
        hash: "b2".repeat(32),
        ..code.clone()
    };
    sessions.put_login_code(&stale).await.unwrap();
    let later = now + Duration::minutes(16);
    assert_eq!(
        sessions.take_login_code(&stale.hash, later).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        sessions.take_login_code(&stale.hash, now).await.unwrap(),
        None,
        "an expired code presented is gone too"
    );

    // Several takers of one code: one wins.
    let raced = LoginCode {
        hash: "c3".repeat(32),
        ..code.clone()
    };
    sessions.put_login_code(&raced).await.unwrap();
    let takers = (0..6).map(|_| sessions.take_login_code(&raced.hash, now));
    let wins = futures::future::join_all(takers)
        .await
        .into_iter()
        .filter(|t| matches!(t, Ok(Some(_))))
        .count();
    assert_eq!(wins, 1);

    let user = "alice@example.com/ops";
    assert_eq!(sessions.sessions_ended(user).await.unwrap(), None);
    sessions.end_sessions(user, now).await.unwrap();
    let ended = sessions.sessions_ended(user).await.unwrap().unwrap();
    assert!(
        (ended - now).num_milliseconds().abs() <= 1,
        "{ended} vs {now}"
    );
    sessions
        .end_sessions(user, now + Duration::minutes(1))
        .await
        .unwrap();
    assert!(sessions.sessions_ended(user).await.unwrap().unwrap() > ended);
    assert_eq!(sessions.sessions_ended("bob").await.unwrap(), None);
}

#[tokio::test]
async fn sqlite_sessions_keep_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("db.sqlite3")).unwrap();
    contract(Arc::new(SqliteSessions::new(db))).await;
}

#[tokio::test]
async fn firestore_sessions_keep_the_contract() {
    let store = FirestoreStore::connect(
        &emulators::unique("sessions"),
        "(default)",
        Some(emulators::firestore()),
    )
    .await
    .unwrap();
    contract(Arc::new(store.sessions())).await;
}
