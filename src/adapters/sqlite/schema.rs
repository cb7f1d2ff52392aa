//! Schema migrations, applied in order and recorded in `PRAGMA user_version`.

use rusqlite::Connection;

/// Each entry moves the schema one version up. Never edit a released entry; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: the store.
    r#"
    CREATE TABLE environments (
        id            TEXT PRIMARY KEY,
        repository_id TEXT NOT NULL,
        name          TEXT NOT NULL,
        status        TEXT NOT NULL,
        config_set_id TEXT,
        created_at    TEXT NOT NULL,
        expires_at    TEXT NOT NULL,
        version       INTEGER NOT NULL,
        doc           TEXT NOT NULL
    );
    CREATE INDEX environments_by_created ON environments (created_at DESC, id DESC);
    CREATE INDEX environments_by_repository ON environments (repository_id, name);
    CREATE INDEX environments_by_expiry ON environments (status, expires_at);
    CREATE TABLE environment_events (
        environment_id TEXT NOT NULL,
        seq            INTEGER NOT NULL,
        at             TEXT NOT NULL,
        kind           TEXT NOT NULL,
        actor          TEXT NOT NULL,
        message        TEXT NOT NULL,
        PRIMARY KEY (environment_id, seq)
    );
    CREATE TABLE environment_changes (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        environment_id TEXT NOT NULL,
        at             TEXT NOT NULL,
        doc            TEXT NOT NULL
    );
    CREATE TABLE repositories (
        id                TEXT PRIMARY KEY,
        name              TEXT NOT NULL UNIQUE,
        gitlab_project_id INTEGER NOT NULL UNIQUE,
        config_set_id     TEXT,
        doc               TEXT NOT NULL
    );
    CREATE TABLE config_sets (
        id   TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        doc  TEXT NOT NULL
    );
    CREATE TABLE audit_events (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     TEXT NOT NULL,
        actor  TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        key        TEXT PRIMARY KEY,
        expires_at TEXT NOT NULL
    );
    "#,
    // 2: the durable job queue.
    r#"
    CREATE TABLE jobs (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        ordering_key     TEXT NOT NULL,
        payload          TEXT NOT NULL,
        not_before       TEXT NOT NULL,
        state            TEXT NOT NULL DEFAULT 'queued',
        deliveries       INTEGER NOT NULL DEFAULT 0,
        lease_token      TEXT,
        lease_expires_at TEXT,
        last_error       TEXT,
        created_at       TEXT NOT NULL
    );
    CREATE INDEX jobs_by_key ON jobs (ordering_key, state, id);
    CREATE INDEX jobs_by_state ON jobs (state, not_before);
    "#,
    // 3: API tokens (hashes only).
    r#"
    CREATE TABLE api_tokens (
        id   TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        doc  TEXT NOT NULL
    );
    "#,
    // 4: coalescing jobs (a reason to look again waits once), and the newest event of each
    // merge request (older deliveries are stale).
    r#"
    ALTER TABLE jobs ADD COLUMN coalesce_key TEXT;
    CREATE INDEX jobs_by_coalesce ON jobs (coalesce_key, state) WHERE coalesce_key IS NOT NULL;
    CREATE TABLE merge_request_events (
        key   TEXT PRIMARY KEY,
        ord   TEXT NOT NULL,
        event TEXT NOT NULL
    );
    "#,
    // 5: one-time login links (hashes only) and ended sessions.
    r#"
    CREATE TABLE login_codes (
        hash       TEXT PRIMARY KEY,
        token_id   TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE TABLE session_ends (
        user TEXT PRIMARY KEY,
        at   TEXT NOT NULL
    );
    "#,
    // 6: notification subscriptions (the record, with its delivery log, in `doc`).
    r#"
    CREATE TABLE subscriptions (
        id  TEXT PRIMARY KEY,
        doc TEXT NOT NULL
    );
    "#,
    // 7: state every replica shares (the teardown brake), versioned for compare-and-swap.
    r#"
    CREATE TABLE shared_state (
        name    TEXT PRIMARY KEY,
        body    TEXT NOT NULL,
        version INTEGER NOT NULL
    );
    "#,
    // 8: delivery ids by expiry, so that forgetting the expired ones reads only those (it
    // read every id, inside the writer's transaction, every 1,024 deliveries).
    r#"
    CREATE INDEX webhook_deliveries_by_expiry ON webhook_deliveries (expires_at);
    "#,
];

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_harmless() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
    }
}
