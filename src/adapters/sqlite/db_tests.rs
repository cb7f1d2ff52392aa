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

/// Writes that never pause (a webhook storm) used to keep the checkpointer from ever reaching
/// the WAL's end, so SQLite never started it over: it grew by every write, 750 MB in 20 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_while_writes_never_pause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blueberry.db");
    // Started over past 1,024 frames (4 MB).
    let db = Db::open_with(&path, 1024).unwrap();
    db.write(|c| {
        c.execute_batch("CREATE TABLE filler (x BLOB)")
            .map_err(|e| StoreError::Unavailable(e.into()))
    })
    .await
    .unwrap();
    let wal = path.with_extension("db-wal");
    const TOTAL: u64 = 64 << 20;
    let written = Arc::new(AtomicU64::new(0));
    // Four writers, 16 KB every 2 ms each (about 30 MB/s): there is always a write waiting.
    let writers = (0..4).map(|_| {
        let (db, written) = (db.clone(), written.clone());
        tokio::spawn(async move {
            while written.fetch_add(16384, Ordering::Relaxed) < TOTAL {
                db.write(|c| {
                    c.execute("INSERT INTO filler VALUES (zeroblob(16384))", [])
                        .map_err(|e| StoreError::Unavailable(e.into()))
                })
                .await
                .unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    });
    let writing = futures::future::join_all(writers);
    tokio::pin!(writing);
    let mut largest = 0;
    loop {
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        tokio::select! {
            done = &mut writing => {
                done.into_iter().for_each(Result::unwrap);
                break;
            }
            () = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
    }
    // 4 MB, what the writes of a checkpointer's interval add, and room for a slow machine.
    assert!(
        largest < 24 << 20,
        "the WAL grew to {largest} bytes while {TOTAL} bytes were written"
    );
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
