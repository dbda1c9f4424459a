//! The audit log: every change pgroster executes, written to SQLite before and after it runs,
//! and read back for `pgroster audit`. Its public API and errors live here.
//!
//! The log stores exactly what callers hand it and nothing else: it never sees a password unless a
//! caller passes one, so `ChangeRecord::detail` and failure texts must be redacted by the caller.

pub mod export;
pub mod resolve;
mod schema;
mod since;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::Rng;
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};
use serde::Serialize;

pub use since::{validate_since, InvalidSince};

/// Long enough to outlast other pgroster processes' writes to the same file (tens of milliseconds
/// even for 10,000 changes), short enough that a wedged process is reported, not waited on forever.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Times come from SQLite's clock, in one fixed-width UTC form, so that callers need no clock and
/// comparing the stored strings compares the times.
const NOW: &str = "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

/// Each variant names the audit file, because a CLI error is often all the user sees.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {}: directory {} does not exist", path.display(), dir.display())]
    MissingDirectory { path: PathBuf, dir: PathBuf },
    // The SQLite message is part of ours rather than a `source`, so that error chains printed by
    // the CLI do not repeat it.
    #[error("audit log {}: {error}", path.display())]
    Sqlite {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error(
        "audit log {}: SQLite cannot use write-ahead logging there (journal mode stays `{mode}`), \
         which concurrent applies need; network filesystems do not support it",
        path.display()
    )]
    NotWal { path: PathBuf, mode: String },
    #[error(
        "audit log {}: schema version {found} is unknown to this pgroster, which writes version \
         {supported}; was it written by a newer pgroster?",
        path.display()
    )]
    UnknownSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("audit log {}: no run `{run}`", path.display())]
    UnknownRun { path: PathBuf, run: String },
    #[error("audit log {}: run `{run}` already finished as `{status}`", path.display())]
    RunFinished {
        path: PathBuf,
        run: String,
        status: String,
    },
    #[error("audit log {}: no change #{id}", path.display())]
    UnknownChange { path: PathBuf, id: i64 },
    #[error("audit log {}: change #{id} already has the outcome `{outcome}`", path.display())]
    ChangeFinished {
        path: PathBuf,
        id: i64,
        outcome: String,
    },
    #[error("audit log {}: {error}", path.display())]
    InvalidSince { path: PathBuf, error: InvalidSince },
}

/// The id shared by every change of one apply: 64 random bits as 16 hex characters, unique in
/// the file (a UNIQUE constraint enforces it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    fn random() -> RunId {
        RunId(format!("{:016x}", rand::random::<u64>()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One change about to be executed on one target. Stored as given: `detail` must already be
/// redacted (attribute changes, never a password or verifier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub env: String,
    pub database: String,
    pub host: String,
    pub port: u16,
    pub role: String,
    pub action: String,
    pub detail: String,
}

/// Outcomes set by one range UPDATE.
const OUTCOMES_PER_UPDATE: usize = 1000;

/// What became of a recorded change. The texts must be redacted by the caller, like `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed(String),
    RolledBack(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Failed(error) => write!(f, "failed: {error}"),
            Outcome::RolledBack(why) => write!(f, "rolled back: {why}"),
        }
    }
}

/// Narrows `AuditLog::query`; `None` matches everything. `since` takes what `validate_since`
/// accepts, and is inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub since: Option<String>,
    pub role: Option<String>,
    pub env: Option<String>,
}

/// One change as read back: its record, its run's actor and command, and its outcome
/// (`started` while no outcome was recorded, e.g. after a crash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub run_id: String,
    /// UTC, RFC 3339 with `Z`, e.g. `2026-03-31T12:00:00Z`.
    pub time: String,
    pub actor: String,
    pub command: String,
    pub env: String,
    pub database: String,
    pub host: String,
    pub port: u16,
    pub role: String,
    pub action: String,
    pub detail: String,
    pub outcome: String,
}

/// An open audit file. Each process (or thread) opens its own; SQLite arbitrates between them.
#[derive(Debug)]
pub struct AuditLog {
    conn: Connection,
    path: PathBuf,
}

impl AuditLog {
    /// Opens the file, creating it (but not its directory) and bringing its schema up to date.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        // SQLite's own message for a missing directory, "unable to open database file", does not
        // say which part is missing.
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(AuditError::MissingDirectory {
                    path: path.to_path_buf(),
                    dir: dir.to_path_buf(),
                });
            }
        }
        let sqlite = sqlite_error(path);
        // Without SQLITE_OPEN_URI, so that a path is always a path, even one starting `file:`.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(&sqlite)?;
        // First, because switching to WAL and migrating both take locks another pgroster may hold.
        conn.busy_timeout(BUSY_TIMEOUT).map_err(&sqlite)?;
        // WAL lets `pgroster audit` read while an apply writes, and writers queue on the busy
        // timeout. How each commit reaches the disk is chosen per write (see `Durability`).
        let mode = enable_wal(&conn).map_err(&sqlite)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(AuditError::NotWal {
                path: path.to_path_buf(),
                mode,
            });
        }
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(&sqlite)?;
        // A multi-row UPDATE keeps a statement journal; in a temp file it costs an open and
        // a delete per outcome write.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(&sqlite)?;
        schema::migrate(&mut conn).map_err(|e| match e {
            schema::MigrateError::Sqlite(error) => sqlite(error),
            schema::MigrateError::Unknown(found) => AuditError::UnknownSchema {
                path: path.to_path_buf(),
                found,
                supported: schema::CURRENT_VERSION,
            },
        })?;
        Ok(AuditLog {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a run (one apply or reset), in status `started` until `finish_run`.
    pub fn start_run(&mut self, actor: &str, command: &str) -> Result<RunId, AuditError> {
        let sqlite = sqlite_error(&self.path);
        let tx = begin_write(&mut self.conn, Durability::Relaxed).map_err(&sqlite)?;
        let now = now(&tx).map_err(&sqlite)?;
        let mut collisions = 0;
        let run = loop {
            let run = RunId::random();
            let inserted = tx.execute(
                "INSERT INTO runs (run_id, started_at, actor, command, status, records_xid)
                 VALUES (?1, ?2, ?3, ?4, 'started', 1)",
                params![run.as_str(), now, actor, command],
            );
            match inserted {
                Ok(_) => break run,
                // 64 random bits collide with negligible odds; retrying a few times makes a
                // collision harmless without risking an endless loop.
                Err(e) if is_unique_violation(&e) && collisions < 3 => collisions += 1,
                Err(e) => return Err(sqlite(e)),
            }
        };
        tx.commit().map_err(&sqlite)?;
        Ok(run)
    }

    /// Records changes as `started`, before they are executed, in one transaction; returns their
    /// ids in the same order, for `record_outcomes`.
    pub fn record_started(
        &mut self,
        run: &RunId,
        changes: &[ChangeRecord],
    ) -> Result<Vec<i64>, AuditError> {
        let sqlite = sqlite_error(&self.path);
        let tx = begin_write(&mut self.conn, Durability::Synced).map_err(&sqlite)?;
        let run_key = ensure_running(&tx, &self.path, run)?;
        // One time for the whole batch: these changes are about to run together.
        let now = now(&tx).map_err(&sqlite)?;
        let mut ids = Vec::with_capacity(changes.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO changes
                     (run, time, env, dbname, host, port, role, action, detail, outcome)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'started')",
                )
                .map_err(&sqlite)?;
            for c in changes {
                let id = insert
                    .insert(params![
                        run_key, now, c.env, c.database, c.host, c.port, c.role, c.action, c.detail
                    ])
                    .map_err(&sqlite)?;
                ids.push(id);
            }
        }
        tx.commit().map_err(&sqlite)?;
        Ok(ids)
    }

    /// Records the PostgreSQL transaction that runs changes recorded by `record_started`,
    /// synced, before that transaction commits: a change left `started` can then be resolved
    /// by asking the server (see `resolve`).
    pub fn record_xid(&mut self, ids: &[i64], xid: &str) -> Result<(), AuditError> {
        let sqlite = sqlite_error(&self.path);
        let tx = begin_write(&mut self.conn, Durability::Synced).map_err(&sqlite)?;
        {
            let mut update = tx
                .prepare_cached("UPDATE changes SET xid = ?2 WHERE id = ?1 AND outcome = 'started'")
                .map_err(&sqlite)?;
            for id in ids {
                if update.execute(params![id, xid]).map_err(&sqlite)? != 1 {
                    return Err(not_started(&self.path, &tx, &[(*id, Outcome::Ok)]));
                }
            }
        }
        tx.commit().map_err(&sqlite)
    }

    /// Sets the outcomes of changes recorded by `record_started`, in one transaction. A change
    /// gets one outcome: a second, or an unknown id, is an error and nothing is written.
    /// Consecutive ids with one outcome (a unit that committed) take one UPDATE.
    pub fn record_outcomes(&mut self, outcomes: &[(i64, Outcome)]) -> Result<(), AuditError> {
        let sqlite = sqlite_error(&self.path);
        let tx = begin_write(&mut self.conn, Durability::Relaxed).map_err(&sqlite)?;
        {
            let mut count_started = tx
                .prepare_cached(
                    "SELECT count(*) FROM changes
                      WHERE id BETWEEN ?1 AND ?2 AND outcome = 'started'",
                )
                .map_err(&sqlite)?;
            let mut update_range = tx
                .prepare_cached(
                    "UPDATE changes SET outcome = ?3
                      WHERE id BETWEEN ?1 AND ?2 AND outcome = 'started'",
                )
                .map_err(&sqlite)?;
            let mut rest = outcomes;
            while let Some(((first, outcome), _)) = rest.split_first() {
                // Capped, because SQLite journals the rows a statement changes in memory.
                let run = rest
                    .iter()
                    .take(OUTCOMES_PER_UPDATE)
                    .enumerate()
                    .take_while(|(i, (id, o))| *id == first + *i as i64 && o == outcome)
                    .count();
                let (range, after) = rest.split_at(run);
                let last = first + run as i64 - 1;
                let started: usize = count_started
                    .query_row(params![first, last], |row| row.get(0))
                    .map_err(&sqlite)?;
                if started != run {
                    return Err(not_started(&self.path, &tx, range));
                }
                update_range
                    .execute(params![first, last, outcome.to_string()])
                    .map_err(&sqlite)?;
                rest = after;
            }
        }
        tx.commit().map_err(&sqlite)
    }

    /// Closes a run as `ok` or `failed`. Changes still `started` keep that outcome: they are the
    /// evidence of what was attempted without an answer.
    pub fn finish_run(&mut self, run: &RunId, ok: bool) -> Result<(), AuditError> {
        let sqlite = sqlite_error(&self.path);
        let tx = begin_write(&mut self.conn, Durability::Relaxed).map_err(&sqlite)?;
        let run_key = ensure_running(&tx, &self.path, run)?;
        let now = now(&tx).map_err(&sqlite)?;
        tx.execute(
            "UPDATE runs SET status = ?2, finished_at = ?3 WHERE id = ?1",
            params![run_key, if ok { "ok" } else { "failed" }, now],
        )
        .map_err(&sqlite)?;
        tx.commit().map_err(&sqlite)
    }

    /// The recorded changes that match `filter`, oldest first (by time, then by recording order).
    pub fn query(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AuditError> {
        let sqlite = sqlite_error(&self.path);
        let (sql, values) = select(filter).map_err(|error| AuditError::InvalidSince {
            path: self.path.clone(),
            error,
        })?;
        let mut statement = self.conn.prepare(&sql).map_err(&sqlite)?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(&values), |row| {
                Ok(AuditEntry {
                    run_id: row.get(0)?,
                    time: row.get(1)?,
                    actor: row.get(2)?,
                    command: row.get(3)?,
                    env: row.get(4)?,
                    database: row.get(5)?,
                    host: row.get(6)?,
                    port: row.get(7)?,
                    role: row.get(8)?,
                    action: row.get(9)?,
                    detail: row.get(10)?,
                    outcome: row.get(11)?,
                })
            })
            .map_err(&sqlite)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&sqlite)
    }
}

/// The query for `filter` and its bound values.
fn select(filter: &AuditFilter) -> Result<(String, Vec<String>), InvalidSince> {
    let mut sql = String::from(
        "SELECT r.run_id, c.time, r.actor, r.command, c.env, c.dbname, c.host, c.port,
                c.role, c.action, c.detail, c.outcome
         FROM changes c JOIN runs r ON r.id = c.run",
    );
    // Conditions appear only when set, rather than as `?1 IS NULL OR ...`, so that SQLite can
    // use the time, role or env index. Only these fixed fragments are spliced in; values are
    // bound.
    let mut conditions: Vec<&str> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    if let Some(since) = &filter.since {
        conditions.push("c.time >= ?");
        values.push(validate_since(since)?);
    }
    if let Some(role) = &filter.role {
        conditions.push("c.role = ?");
        values.push(role.clone());
    }
    if let Some(env) = &filter.env {
        conditions.push("c.env = ?");
        values.push(env.clone());
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY c.time, c.id");
    Ok((sql, values))
}

/// Switches the file to WAL and returns the journal mode it ends in. While several processes set
/// up a new file at once, SQLite can refuse the switch with SQLITE_BUSY at once, without calling
/// the busy handler, so this waits and retries itself, up to the same timeout. Once the file is
/// in WAL mode (which persists), the switch is a no-op and this never waits.
fn enable_wal(conn: &Connection) -> rusqlite::Result<String> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                // Jittered, so that processes which collided once do not retry in lockstep.
                std::thread::sleep(Duration::from_millis(rand::thread_rng().gen_range(1..=10)));
            }
            result => return result,
        }
    }
}

/// Why some change of `range` cannot take an outcome: unknown, or finished already.
fn not_started(path: &Path, tx: &Transaction<'_>, range: &[(i64, Outcome)]) -> AuditError {
    for (id, _) in range {
        let current: rusqlite::Result<Option<String>> = tx
            .query_row("SELECT outcome FROM changes WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional();
        match current {
            Err(e) => return sqlite_error(path)(e),
            Ok(None) => {
                return AuditError::UnknownChange {
                    path: path.to_path_buf(),
                    id: *id,
                }
            }
            Ok(Some(outcome)) if outcome != "started" => {
                return AuditError::ChangeFinished {
                    path: path.to_path_buf(),
                    id: *id,
                    outcome,
                }
            }
            Ok(Some(_)) => {}
        }
    }
    AuditError::UnknownChange {
        path: path.to_path_buf(),
        id: range.first().map_or(0, |(id, _)| *id),
    }
}

fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> AuditError + '_ {
    move |error| AuditError::Sqlite {
        path: path.to_path_buf(),
        error,
    }
}

/// Whether a commit waits for the disk. A run commits several times, so only the commits the
/// evidence depends on pay for an fsync.
#[derive(Clone, Copy)]
enum Durability {
    /// `synchronous = FULL`: the `started` rows must survive even a power cut, because the
    /// PostgreSQL transaction that follows cannot be taken back. Syncing the WAL also makes every
    /// earlier relaxed commit durable.
    Synced,
    /// `synchronous = NORMAL`: in WAL mode this survives a crash of pgroster; a power cut may lose
    /// the latest such commits, which leaves changes `started`: evidence still, never a false `ok`.
    Relaxed,
}

/// Every write takes the write lock up front. A deferred transaction that reads and then writes
/// gets SQLITE_BUSY at the upgrade without waiting on the busy timeout, which is the classic
/// source of "database is locked" under concurrency.
fn begin_write(conn: &mut Connection, durability: Durability) -> rusqlite::Result<Transaction<'_>> {
    // SQLite refuses to change this inside a transaction, so each write sets it before it begins.
    let level = match durability {
        Durability::Synced => "FULL",
        Durability::Relaxed => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", level)?;
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
}

fn now(tx: &Transaction<'_>) -> rusqlite::Result<String> {
    tx.query_row(NOW, [], |row| row.get(0))
}

/// The run's integer key, if the run exists and is not finished.
fn ensure_running(tx: &Transaction<'_>, path: &Path, run: &RunId) -> Result<i64, AuditError> {
    let found: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, status FROM runs WHERE run_id = ?1",
            [run.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(sqlite_error(path))?;
    match found {
        Some((key, status)) if status == "started" => Ok(key),
        Some((_, status)) => Err(AuditError::RunFinished {
            path: path.to_path_buf(),
            run: run.to_string(),
            status,
        }),
        None => Err(AuditError::UnknownRun {
            path: path.to_path_buf(),
            run: run.to_string(),
        }),
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
