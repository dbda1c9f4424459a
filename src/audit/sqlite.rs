//! The audit log in a SQLite file: one file per config (or shared by the processes of one
//! machine), in WAL mode so that readers never wait and writers queue on a busy timeout.

use std::path::Path;
use std::time::{Duration, Instant};

use rand::Rng;
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

use super::resolve::{RunRow, RunRows};
use super::sqlite_schema as schema;
use super::{AuditEntry, AuditError, ChangeRecord, Narrow, Outcome, RunId, RUN_ID_ATTEMPTS};

/// Long enough to outlast other pgroster processes' writes to the same file (tens of milliseconds
/// even for 10,000 changes), short enough that a wedged process is reported, not waited on forever.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Times come from SQLite's clock, in one fixed-width UTC form, so that callers need no clock and
/// comparing the stored strings compares the times.
const NOW: &str = "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

/// Outcomes set by one range UPDATE.
const OUTCOMES_PER_UPDATE: usize = 1000;

pub(super) struct Sqlite {
    pub(super) conn: Connection,
    /// The path, as errors name it.
    pub(super) log: String,
}

impl Sqlite {
    pub(super) fn open(path: &Path) -> Result<Sqlite, AuditError> {
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
        let log = path.display().to_string();
        let sqlite = sqlite_error(&log);
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
                log: log.clone(),
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
                log: log.clone(),
                found,
                supported: schema::CURRENT_VERSION,
            },
        })?;
        Ok(Sqlite {
            conn,
            log: log.clone(),
        })
    }

    pub(super) fn start_run(&mut self, actor: &str, command: &str) -> Result<RunId, AuditError> {
        let sqlite = sqlite_error(&self.log);
        let tx = begin_write(&mut self.conn, Durability::Relaxed).map_err(&sqlite)?;
        let now = now(&tx).map_err(&sqlite)?;
        let mut attempts = 0;
        let run = loop {
            attempts += 1;
            let run = RunId::random();
            let inserted = tx.execute(
                "INSERT INTO runs (run_id, started_at, actor, command, status, records_xid)
                 VALUES (?1, ?2, ?3, ?4, 'started', 1)",
                params![run.as_str(), now, actor, command],
            );
            match inserted {
                Ok(_) => break run,
                Err(e) if is_unique_violation(&e) && attempts < RUN_ID_ATTEMPTS => {}
                Err(e) => return Err(sqlite(e)),
            }
        };
        tx.commit().map_err(&sqlite)?;
        Ok(run)
    }

    pub(super) fn record_started(
        &mut self,
        run: &RunId,
        changes: &[ChangeRecord],
    ) -> Result<Vec<i64>, AuditError> {
        let sqlite = sqlite_error(&self.log);
        let tx = begin_write(&mut self.conn, Durability::Synced).map_err(&sqlite)?;
        let run_key = ensure_running(&tx, &self.log, run)?;
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

    /// Synced, like `record_started`: the transaction it names is about to commit.
    pub(super) fn record_xid(&mut self, ids: &[i64], xid: &str) -> Result<(), AuditError> {
        let sqlite = sqlite_error(&self.log);
        let tx = begin_write(&mut self.conn, Durability::Synced).map_err(&sqlite)?;
        {
            let mut update = tx
                .prepare_cached("UPDATE changes SET xid = ?2 WHERE id = ?1 AND outcome = 'started'")
                .map_err(&sqlite)?;
            for id in ids {
                if update.execute(params![id, xid]).map_err(&sqlite)? != 1 {
                    return Err(not_started(&self.log, &tx, &[(*id, Outcome::Ok)]));
                }
            }
        }
        tx.commit().map_err(&sqlite)
    }

    /// Consecutive ids with one outcome (a unit that committed) take one UPDATE.
    pub(super) fn record_outcomes(
        &mut self,
        outcomes: &[(i64, Outcome)],
    ) -> Result<(), AuditError> {
        let sqlite = sqlite_error(&self.log);
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
                    return Err(not_started(&self.log, &tx, range));
                }
                update_range
                    .execute(params![first, last, outcome.to_string()])
                    .map_err(&sqlite)?;
                rest = after;
            }
        }
        tx.commit().map_err(&sqlite)
    }

    pub(super) fn finish_run(&mut self, run: &RunId, ok: bool) -> Result<(), AuditError> {
        let sqlite = sqlite_error(&self.log);
        let tx = begin_write(&mut self.conn, Durability::Relaxed).map_err(&sqlite)?;
        let run_key = ensure_running(&tx, &self.log, run)?;
        let now = now(&tx).map_err(&sqlite)?;
        tx.execute(
            "UPDATE runs SET status = ?2, finished_at = ?3 WHERE id = ?1",
            params![run_key, if ok { "ok" } else { "failed" }, now],
        )
        .map_err(&sqlite)?;
        tx.commit().map_err(&sqlite)
    }

    pub(super) fn query(
        &mut self,
        conditions: &[(Narrow, String)],
    ) -> Result<Vec<AuditEntry>, AuditError> {
        let sqlite = sqlite_error(&self.log);
        let sql = select(conditions);
        let values = conditions.iter().map(|(_, value)| value);
        let mut statement = self.conn.prepare(&sql).map_err(&sqlite)?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(values), |row| {
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

    pub(super) fn run_rows(&mut self, run: &str) -> Result<Option<RunRows>, AuditError> {
        let sqlite = sqlite_error(&self.log);
        let records_xid: Option<i64> = self
            .conn
            .query_row(
                "SELECT records_xid FROM runs WHERE run_id = ?1",
                [run],
                |row| row.get(0),
            )
            .optional()
            .map_err(&sqlite)?;
        let Some(records_xid) = records_xid else {
            return Ok(None);
        };
        let mut select = self
            .conn
            .prepare(
                "SELECT c.id, c.host, c.port, c.dbname, c.xid, c.outcome
                   FROM changes c JOIN runs r ON r.id = c.run
                  WHERE r.run_id = ?1 ORDER BY c.id",
            )
            .map_err(&sqlite)?;
        let rows = select
            .query_map(params![run], |row| {
                Ok(RunRow {
                    id: row.get(0)?,
                    host: row.get(1)?,
                    port: row.get(2)?,
                    database: row.get(3)?,
                    xid: row.get(4)?,
                    outcome: row.get(5)?,
                })
            })
            .map_err(&sqlite)?;
        Ok(Some(RunRows {
            records_xid: records_xid != 0,
            rows: rows.collect::<Result<_, _>>().map_err(&sqlite)?,
        }))
    }
}

/// The query for `conditions`, whose values are bound in the same order.
pub(super) fn select(conditions: &[(Narrow, String)]) -> String {
    let mut sql = String::from(
        "SELECT r.run_id, c.time, r.actor, r.command, c.env, c.dbname, c.host, c.port,
                c.role, c.action, c.detail, c.outcome
         FROM changes c JOIN runs r ON r.id = c.run",
    );
    let conditions: Vec<&str> = conditions
        .iter()
        .map(|(narrow, _)| match narrow {
            Narrow::Since => "c.time >= ?",
            Narrow::Role => "c.role = ?",
            Narrow::Env => "c.env = ?",
        })
        .collect();
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(" ORDER BY c.time, c.id");
    sql
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
fn not_started(log: &str, tx: &Transaction<'_>, range: &[(i64, Outcome)]) -> AuditError {
    let outcome_of = |id: i64| {
        tx.query_row("SELECT outcome FROM changes WHERE id = ?1", [id], |row| {
            row.get(0)
        })
        .optional()
    };
    super::not_started(
        log,
        range.iter().map(|(id, _)| *id),
        outcome_of,
        sqlite_error(log),
    )
}

pub(super) fn sqlite_error(log: &str) -> impl Fn(rusqlite::Error) -> AuditError + '_ {
    move |error| AuditError::Sqlite {
        log: log.to_string(),
        error,
    }
}

/// Whether a commit waits for the disk. A run commits several times, so only the commits the
/// evidence depends on pay for an fsync.
#[derive(Clone, Copy)]
pub(super) enum Durability {
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
pub(super) fn begin_write(
    conn: &mut Connection,
    durability: Durability,
) -> rusqlite::Result<Transaction<'_>> {
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
fn ensure_running(tx: &Transaction<'_>, log: &str, run: &RunId) -> Result<i64, AuditError> {
    let found = tx
        .query_row(
            "SELECT id, status FROM runs WHERE run_id = ?1",
            [run.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(sqlite_error(log))?;
    super::running_key(log, run, found)
}

pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}
