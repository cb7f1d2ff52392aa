//! The SQLite file: one writer thread that group-commits, and a pool of read-only connections.
//!
//! Every write is a closure run on the writer's connection inside its own savepoint; the writer
//! takes as many writes as are waiting (up to [`MAX_BATCH`]) into one transaction and one
//! commit, and answers each caller only after that commit (group commit: a burst of webhook
//! deliveries costs one commit, not one each). A write that fails rolls back its savepoint and
//! nothing else. Reads run on their own connections in parallel (WAL), never waiting for the
//! writer; a read that starts after a write returned sees it.
//!
//! Checkpoints (copying committed pages from the WAL into the database file, with an fsync) run
//! on a thread of their own, not inside a commit as SQLite's automatic checkpoint does: a
//! checkpoint in the writer held up every write waiting behind it. Under steady writes the
//! checkpointer never reaches the WAL's end, though, and SQLite starts the WAL over from its
//! beginning only when a transaction begins with every frame copied: a webhook storm grew it
//! by 37 MB/s, without bound. So once the WAL is past [`WAL_RESTART_FRAMES`], the checkpointer
//! asks the writer to copy the little it has not between two transactions; the next one then
//! starts the WAL over, and `journal_size_limit` gives the disk back.

use std::{
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{RecvTimeoutError, Sender},
    },
    time::Duration,
};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

use super::schema;
use crate::ports::store::{StoreError, StoreResult};

/// Most writes one transaction takes.
const MAX_BATCH: usize = 512;
/// Read-only connections.
const READERS: usize = 4;
/// How often the checkpointer looks for new commits to copy into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// WAL frames (a page each, 4 KB) past which the WAL is started over (32 MB).
const WAL_RESTART_FRAMES: i64 = 8192;

/// What the writer tells a write after the commit: `Ok` when it is durable.
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A write: run on the writer's connection (inside a savepoint), or on none when no
/// transaction could be started; whether it succeeded, and how to answer once the commit is
/// known.
type WriteOp = Box<dyn FnOnce(Option<&Connection>) -> (bool, Finish) + Send>;

struct Inner {
    writer: mpsc::Sender<WriteOp>,
    readers: Mutex<Vec<Connection>>,
    available: Semaphore,
    /// Woken after a commit that added jobs (by the queue or by a store write).
    jobs_added: Notify,
    /// Dropped with the database, which stops the checkpointer.
    _checkpointer: Sender<()>,
}

/// The SQLite file. Cloning shares it.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Plans do not depend on bound values. Otherwise SQLite plans some statements for the
    // values bound first and prepares them again whenever those change, and a cached
    // statement's values are cleared after every use: the environment list was prepared
    // again on every request (12 % of its CPU).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

/// SQLite allocates through the C library's `malloc`. glibc hands the top of a thread's heap
/// back to the kernel whenever a `free` leaves more than 128 KB there, and the writer frees a
/// page-sized buffer after every statement: under load that was a `madvise` and a TLB
/// shootdown on every CPU per statement (15 % of the CPU of webhook ingest). Freed memory up to
/// 64 MB stays in the heap instead.
///
/// Reads run on whichever blocking thread is free, and glibc gives each new thread an arena of
/// its own (up to eight per CPU), each keeping what it once held: at 10,000 environments twelve
/// arenas held 2 MB each. Two arenas are enough for one writer and four readers.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: `mallopt` only sets tuning parameters of the C allocator; it is called
        // once, before this module's connections allocate.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
            libc::mallopt(libc::M_ARENA_MAX, 2);
        });
    }
}

impl Db {
    /// Opens (creating if needed) the database at `path`, migrates it, and starts its writer.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_with(path, WAL_RESTART_FRAMES)
    }

    /// [`Db::open`], the WAL started over past `wal_restart_frames`.
    fn open_with(path: &Path, wal_restart_frames: i64) -> anyhow::Result<Self> {
        keep_freed_memory();
        let mut conn = Connection::open(path)
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A commit survives the process being killed; checkpoints are what fsync.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // The checkpointer's thread checkpoints, never a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // A WAL started over is cut back to twice the size it is started over at: it only
        // outgrows that in a burst, and cutting it on every start over cost the writer 2 ms.
        conn.pragma_update(None, "journal_size_limit", 2 * wal_restart_frames * 4096)?;
        configure(&conn)?;
        schema::migrate(&mut conn).context("migrating the SQLite schema")?;
        let checkpoints = Connection::open(path)
            .with_context(|| format!("opening SQLite database {} to checkpoint", path.display()))?;
        configure(&checkpoints)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .with_context(|| format!("opening SQLite database {} to read", path.display()))?;
            configure(&r)?;
            readers.push(r);
        }
        let (tx, rx) = mpsc::channel::<WriteOp>(4 * MAX_BATCH);
        let wal = Arc::new(WalState {
            restart_frames: wal_restart_frames,
            ..WalState::default()
        });
        let writer_wal = wal.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(conn, rx, &writer_wal))
            .context("starting the SQLite writer")?;
        let (checkpointer, stop) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoints, &wal, &stop))
            .context("starting the SQLite checkpointer")?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer: tx,
                readers: Mutex::new(readers),
                available: Semaphore::new(READERS),
                jobs_added: Notify::new(),
                _checkpointer: checkpointer,
            }),
        })
    }

    pub(crate) fn jobs_added(&self) -> &Notify {
        &self.inner.jobs_added
    }

    /// Runs `f` on a read-only connection.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _permit = self
            .inner
            .available
            .acquire()
            .await
            .map_err(|e| StoreError::Unavailable(anyhow::anyhow!("SQLite readers: {e}")))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop()
                .expect("a permit means a free reader");
            let result = f(&conn);
            inner
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(anyhow::anyhow!("SQLite read task failed: {e}")))?
    }

    /// Runs `f` on the writer's connection, inside a transaction it shares with the writes
    /// waiting beside it; returns once that transaction committed.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let op: WriteOp = Box::new(move |conn| {
            let result = match conn {
                Some(c) => f(c),
                None => Err(StoreError::Unavailable(anyhow::anyhow!(
                    "SQLite could not start a transaction"
                ))),
            };
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |committed| {
                let answer = match (result, committed) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(why)) => Err(StoreError::Unavailable(anyhow::anyhow!(
                        "SQLite commit failed: {why}"
                    ))),
                };
                let _ = tx.send(answer);
            });
            (ok, finish)
        });
        // The channel is bounded: when the writer is behind, callers wait here.
        self.inner
            .writer
            .send(op)
            .await
            .map_err(|_| StoreError::Unavailable(anyhow::anyhow!("the SQLite writer stopped")))?;
        rx.await
            .map_err(|_| StoreError::Unavailable(anyhow::anyhow!("the SQLite writer stopped")))?
    }
}

/// Runs one statement, prepared once per connection (parsing SQL costs more than running it).
fn statement(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

/// What the writer and the checkpointer tell each other.
#[derive(Default)]
struct WalState {
    /// Transactions committed.
    commits: AtomicU64,
    /// WAL frames past which it is started over.
    restart_frames: i64,
    /// The WAL is past `restart_frames`: the writer copies the rest before its next
    /// transaction, which then starts the WAL over.
    restart: AtomicBool,
}

/// Copies what the WAL holds into the database file. PASSIVE: it waits for no reader and no
/// writer, so commits go on meanwhile. Returns the WAL's length in frames.
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

/// Every [`CHECKPOINT_EVERY`] after new commits, checkpoints; asks the writer to start a long
/// WAL over. Ends when the database is dropped.
fn checkpoint_loop(conn: Connection, wal: &WalState, stop: &std::sync::mpsc::Receiver<()>) {
    let mut seen = 0;
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let now = wal.commits.load(Ordering::Relaxed);
        if now == seen {
            continue;
        }
        seen = now;
        match checkpoint(&conn) {
            Ok(frames) if frames >= wal.restart_frames => {
                wal.restart.store(true, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed; the next one retries"),
        }
    }
}

/// Takes writes as they come; each batch is one transaction and one commit.
fn write_loop(conn: Connection, mut rx: mpsc::Receiver<WriteOp>, wal: &WalState) {
    while let Some(first) = rx.blocking_recv() {
        // Just after the checkpointer's pass, so only the last few commits are left to copy.
        // If a reader still holds an old snapshot the WAL is not started over; the
        // checkpointer asks again after its next pass.
        if wal.restart.swap(false, Ordering::Relaxed)
            && let Err(e) = checkpoint(&conn)
        {
            tracing::warn!(error = %e, "SQLite checkpoint before starting the WAL over failed");
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut finishes = Vec::with_capacity(batch.len());
        if let Err(e) = statement(&conn, "BEGIN IMMEDIATE") {
            let why = e.to_string();
            for op in batch {
                // Not run: each is told why.
                finishes.push(op(None).1);
            }
            for f in finishes {
                f(Err(why.clone()));
            }
            continue;
        }
        for op in batch {
            let saved = statement(&conn, "SAVEPOINT op");
            let (ok, finish) = op(Some(&conn));
            if saved.is_ok() {
                let ended = if ok {
                    statement(&conn, "RELEASE op")
                } else {
                    statement(&conn, "ROLLBACK TO op").and_then(|_| statement(&conn, "RELEASE op"))
                };
                if let Err(e) = ended {
                    tracing::error!(error = %e, "SQLite savepoint failed");
                }
            }
            finishes.push(finish);
        }
        let committed = statement(&conn, "COMMIT").map(|_| ()).map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            e.to_string()
        });
        if committed.is_ok() {
            wal.commits.fetch_add(1, Ordering::Relaxed);
        }
        for f in finishes {
            f(committed.clone());
        }
    }
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
