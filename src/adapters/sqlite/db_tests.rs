//! The SQLite file's writer, checkpointer and statement planning.

use super::*;

#[tokio::test]
async fn the_checkpointer_copies_commits_into_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blueberry.db");
    let db = Db::open(&path).unwrap();
    db.write(|c| {
        c.execute_batch(
            "CREATE TABLE filler (x BLOB);
             INSERT INTO filler SELECT zeroblob(1024) FROM
               (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4096)
                SELECT i FROM n);",
        )
        .map_err(|e| StoreError::Unavailable(e.into()))
    })
    .await
    .unwrap();
    // The commit only appended to the WAL; the copy into the file is the checkpointer's.
    let file_len = || std::fs::metadata(&path).unwrap().len();
    for _ in 0..50 {
        if file_len() > 4 << 20 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the database file is still {} bytes", file_len());
}

/// A connection configured as the store's are, on a migrated database (kept while the
/// directory lives).
fn migrated_connection() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blueberry.db");
    drop(Db::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    configure(&conn).unwrap();
    (dir, conn)
}

/// A statement prepared once runs as prepared, whatever values are bound (see
/// `configure`).
#[test]
fn statements_are_not_prepared_again_when_their_values_change() {
    let (_dir, conn) = migrated_connection();
    let mut list = conn.prepare(super::super::environments::LIST).unwrap();
    for (status, repository, name) in [
        (None, None, None),
        (Some("ready"), None, None),
        (None, Some("r1"), Some("e-9")),
        (Some("failed"), Some("r2"), None),
    ] {
        let mut rows = list
            .query(rusqlite::params![
                status,
                repository,
                name,
                None::<String>,
                None::<String>,
                26,
                None::<bool>,
                None::<String>,
                None::<bool>
            ])
            .unwrap();
        while rows.next().unwrap().is_some() {}
    }
    assert_eq!(
        list.get_status(rusqlite::StatementStatus::RePrepare),
        0,
        "the list statement was prepared again"
    );
}

/// Planning without the bound values still uses the partial index of waiting jobs by
/// coalescing key (`coalesce_key = ?` implies it is not NULL, whatever is bound).
#[test]
fn coalescing_still_finds_its_job_by_index() {
    let (_dir, conn) = migrated_connection();
    let plan: Vec<String> = conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            super::super::queue::COALESCE
        ))
        .unwrap()
        .query_map(rusqlite::params!["key", "2026-01-01"], |r| r.get(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(plan[0].contains("USING INDEX jobs_by_coalesce"), "{plan:?}");
}
