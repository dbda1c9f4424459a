//! The audit log: every change pgroster executes, written to SQLite before and after it runs,
//! and read back for `pgroster audit`. Its public API and errors live here.
//!
//! The log stores exactly what callers hand it and nothing else: it never sees a password unless a
//! caller passes one, so `ChangeRecord::detail` and failure texts must be redacted by the caller.

pub mod export;
mod schema;
mod since;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};
use serde::Serialize;

pub use since::{validate_since, InvalidSince};

/// Long enough to outlast another pgroster's write to the same file (a few milliseconds even for
/// 10,000 changes), short enough that a wedged process is reported rather than waited on forever.
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
/// the file (the `runs` primary key enforces it).
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
        // timeout. `synchronous` stays at its default, FULL: a `started` row must survive a power
        // cut that comes after PostgreSQL committed.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(&sqlite)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(AuditError::NotWal {
                path: path.to_path_buf(),
                mode,
            });
        }
        conn.pragma_update(None, "foreign_keys", true)
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
        let tx = begin_write(&mut self.conn).map_err(&sqlite)?;
        let now = now(&tx).map_err(&sqlite)?;
        let mut collisions = 0;
        let run = loop {
            let run = RunId::random();
            let inserted = tx.execute(
                "INSERT INTO runs (run_id, started_at, actor, command, status)
                 VALUES (?1, ?2, ?3, ?4, 'started')",
                params![run.as_str(), now, actor, command],
            );
            match inserted {
                Ok(_) => break run,
                // 64 random bits collide with negligible odds; retrying a few times makes a
                // collision harmless without risking an endless loop.
                Err(e) if is_primary_key_violation(&e) && collisions < 3 => collisions += 1,
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
        let tx = begin_write(&mut self.conn).map_err(&sqlite)?;
        ensure_running(&tx, &self.path, run)?;
        // One time for the whole batch: these changes are about to run together.
        let now = now(&tx).map_err(&sqlite)?;
        let mut ids = Vec::with_capacity(changes.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO changes
                     (run_id, time, env, dbname, host, port, role, action, detail, outcome)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'started')",
                )
                .map_err(&sqlite)?;
            for c in changes {
                let id = insert
                    .insert(params![
                        run.as_str(),
                        now,
                        c.env,
                        c.database,
                        c.host,
                        c.port,
                        c.role,
                        c.action,
                        c.detail
                    ])
                    .map_err(&sqlite)?;
                ids.push(id);
            }
        }
        tx.commit().map_err(&sqlite)?;
        Ok(ids)
    }

    /// Sets the outcomes of changes recorded by `record_started`, in one transaction. A change
    /// gets one outcome: a second, or an unknown id, is an error and nothing is written.
    pub fn record_outcomes(&mut self, outcomes: &[(i64, Outcome)]) -> Result<(), AuditError> {
        let sqlite = sqlite_error(&self.path);
        let tx = begin_write(&mut self.conn).map_err(&sqlite)?;
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE changes SET outcome = ?2 WHERE id = ?1 AND outcome = 'started'",
                )
                .map_err(&sqlite)?;
            for (id, outcome) in outcomes {
                if update
                    .execute(params![id, outcome.to_string()])
                    .map_err(&sqlite)?
                    == 0
                {
                    let current: Option<String> = tx
                        .query_row("SELECT outcome FROM changes WHERE id = ?1", [id], |row| {
                            row.get(0)
                        })
                        .optional()
                        .map_err(&sqlite)?;
                    return Err(match current {
                        None => AuditError::UnknownChange {
                            path: self.path.clone(),
                            id: *id,
                        },
                        Some(outcome) => AuditError::ChangeFinished {
                            path: self.path.clone(),
                            id: *id,
                            outcome,
                        },
                    });
                }
            }
        }
        tx.commit().map_err(&sqlite)
    }

    /// Closes a run as `ok` or `failed`. Changes still `started` keep that outcome: they are the
    /// evidence of what was attempted without an answer.
    pub fn finish_run(&mut self, run: &RunId, ok: bool) -> Result<(), AuditError> {
        let sqlite = sqlite_error(&self.path);
        let tx = begin_write(&mut self.conn).map_err(&sqlite)?;
        ensure_running(&tx, &self.path, run)?;
        let now = now(&tx).map_err(&sqlite)?;
        tx.execute(
            "UPDATE runs SET status = ?2, finished_at = ?3 WHERE run_id = ?1",
            params![run.as_str(), if ok { "ok" } else { "failed" }, now],
        )
        .map_err(&sqlite)?;
        tx.commit().map_err(&sqlite)
    }

    /// The recorded changes that match `filter`, oldest first (by time, then by recording order).
    pub fn query(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AuditError> {
        let sqlite = sqlite_error(&self.path);
        let mut sql = String::from(
            "SELECT c.run_id, c.time, r.actor, r.command, c.env, c.dbname, c.host, c.port,
                    c.role, c.action, c.detail, c.outcome
             FROM changes c JOIN runs r ON r.run_id = c.run_id",
        );
        // Conditions appear only when set, rather than as `?1 IS NULL OR ...`, so that SQLite can
        // use the time, role or env index. Only these fixed fragments are spliced in; values are
        // bound.
        let mut conditions: Vec<&str> = Vec::new();
        let mut values: Vec<String> = Vec::new();
        if let Some(since) = &filter.since {
            let since = validate_since(since).map_err(|error| AuditError::InvalidSince {
                path: self.path.clone(),
                error,
            })?;
            conditions.push("c.time >= ?");
            values.push(since);
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

fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> AuditError + '_ {
    move |error| AuditError::Sqlite {
        path: path.to_path_buf(),
        error,
    }
}

/// Every write takes the write lock up front. A deferred transaction that reads and then writes
/// gets SQLITE_BUSY at the upgrade without waiting on the busy timeout, which is the classic
/// source of "database is locked" under concurrency.
fn begin_write(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
}

fn now(tx: &Transaction<'_>) -> rusqlite::Result<String> {
    tx.query_row(NOW, [], |row| row.get(0))
}

fn ensure_running(tx: &Transaction<'_>, path: &Path, run: &RunId) -> Result<(), AuditError> {
    let status: Option<String> = tx
        .query_row(
            "SELECT status FROM runs WHERE run_id = ?1",
            [run.as_str()],
            |row| row.get(0),
        )
        .optional()
        .map_err(sqlite_error(path))?;
    match status {
        Some(status) if status == "started" => Ok(()),
        Some(status) => Err(AuditError::RunFinished {
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

fn is_primary_key_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(failure, _)
        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    fn change(env: &str, role: &str, action: &str) -> ChangeRecord {
        ChangeRecord {
            env: env.to_string(),
            database: format!("app_{env}_main"),
            host: format!("pg-{env}-01.internal"),
            port: 5432,
            role: role.to_string(),
            action: action.to_string(),
            detail: "login: false -> true".to_string(),
        }
    }

    fn temp_log() -> (tempfile::TempDir, AuditLog) {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(&dir.path().join("pgroster-audit.db")).unwrap();
        (dir, log)
    }

    fn all(log: &AuditLog) -> Vec<AuditEntry> {
        log.query(&AuditFilter::default()).unwrap()
    }

    #[test]
    fn round_trip() {
        let (dir, mut log) = temp_log();
        let run = log.start_run("alice", "apply").unwrap();
        assert_eq!(run.as_str().len(), 16);
        assert!(run.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        let mut hostile = change("prod", "'; drop role x; --", "update");
        hostile.port = 6543;
        hostile.detail = "connection_limit: 20 -> 200, comment: \"x\"".to_string();
        let ids = log
            .record_started(&run, &[change("dev", "jsmith", "create"), hostile.clone()])
            .unwrap();
        assert_eq!(ids.len(), 2);
        log.record_outcomes(&[(ids[0], Outcome::Ok), (ids[1], Outcome::Ok)])
            .unwrap();
        log.finish_run(&run, true).unwrap();
        drop(log);

        let log = AuditLog::open(&dir.path().join("pgroster-audit.db")).unwrap();
        let entries = all(&log);
        assert_eq!(entries.len(), 2);
        let e = &entries[1];
        assert_eq!(e.run_id, run.to_string());
        assert_eq!(
            validate_since(&e.time).unwrap(),
            e.time,
            "time is RFC 3339 UTC"
        );
        assert_eq!(
            (e.actor.as_str(), e.command.as_str(), e.env.as_str()),
            ("alice", "apply", "prod")
        );
        assert_eq!(
            (e.database.as_str(), e.host.as_str()),
            ("app_prod_main", "pg-prod-01.internal")
        );
        assert_eq!(
            (e.port, e.role.as_str(), e.action.as_str()),
            (6543, hostile.role.as_str(), "update")
        );
        assert_eq!(
            (e.detail.as_str(), e.outcome.as_str()),
            (hostile.detail.as_str(), "ok")
        );
        assert_eq!(entries[0].role, "jsmith");

        let (status, finished): (String, Option<String>) = log
            .conn
            .query_row(
                "SELECT status, finished_at FROM runs WHERE run_id = ?1",
                [run.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(status, "ok");
        assert!(finished.is_some());
    }

    #[test]
    fn opens_in_wal_mode_at_the_current_schema() {
        let (_dir, log) = temp_log();
        let mode: String = log
            .conn
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let version: i64 = log
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, schema::CURRENT_VERSION);
    }

    #[test]
    fn open_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("audit.db");
        let e = AuditLog::open(&path).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "audit log {}: directory {} does not exist",
                path.display(),
                dir.path().join("missing").display()
            )
        );

        let path = dir.path().join("future.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let e = AuditLog::open(&path).unwrap_err();
        assert!(
            matches!(e, AuditError::UnknownSchema { found: 99, .. }),
            "{e}"
        );
        assert!(e
            .to_string()
            .starts_with(&format!("audit log {}: ", path.display())));
    }

    #[test]
    fn a_busy_database_says_which_file() {
        // A real SQLITE_BUSY, from a connection that does not wait, wrapped as the API wraps it.
        let (dir, mut log) = temp_log();
        let _held = begin_write(&mut log.conn).unwrap();
        let impatient = Connection::open(dir.path().join("pgroster-audit.db")).unwrap();
        impatient.busy_timeout(Duration::ZERO).unwrap();
        let error = impatient.execute_batch("BEGIN IMMEDIATE").unwrap_err();
        let e = sqlite_error(Path::new("pgroster-audit.db"))(error);
        assert_eq!(
            e.to_string(),
            "audit log pgroster-audit.db: database is locked"
        );
    }

    #[test]
    fn filters_by_since_role_and_env() {
        let (_dir, mut log) = temp_log();
        let run = log.start_run("ci", "apply").unwrap();
        let ids = log
            .record_started(
                &run,
                &[
                    change("dev", "jsmith", "create"),
                    change("prod", "jsmith", "update"),
                    change("dev", "web01_8080", "create"),
                    change("prod", "analyst01", "create"),
                ],
            )
            .unwrap();
        // Times out of id order, to check the ordering is by time first.
        let times = [
            "2026-01-10T08:00:00Z",
            "2026-01-09T23:59:59Z",
            "2026-01-10T00:00:00Z",
            "2026-02-01T12:30:00Z",
        ];
        for (id, time) in ids.iter().zip(times) {
            log.conn
                .execute(
                    "UPDATE changes SET time = ?1 WHERE id = ?2",
                    params![time, id],
                )
                .unwrap();
        }
        let roles = |filter: AuditFilter| -> Vec<(String, String)> {
            log.query(&filter)
                .unwrap()
                .into_iter()
                .map(|e| (e.env, e.role))
                .collect()
        };
        let pair = |env: &str, role: &str| (env.to_string(), role.to_string());
        assert_eq!(
            roles(AuditFilter::default()),
            [
                pair("prod", "jsmith"),
                pair("dev", "web01_8080"),
                pair("dev", "jsmith"),
                pair("prod", "analyst01")
            ]
        );
        let since = |s: &str| AuditFilter {
            since: Some(s.to_string()),
            ..AuditFilter::default()
        };
        assert_eq!(
            roles(since("2026-01-10")),
            [
                pair("dev", "web01_8080"),
                pair("dev", "jsmith"),
                pair("prod", "analyst01")
            ]
        );
        assert_eq!(
            roles(since("2026-01-10T08:00:00Z")),
            [pair("dev", "jsmith"), pair("prod", "analyst01")]
        );
        assert_eq!(roles(since("2026-02-02")), []);
        let role = AuditFilter {
            role: Some("jsmith".to_string()),
            ..AuditFilter::default()
        };
        assert_eq!(
            roles(role.clone()),
            [pair("prod", "jsmith"), pair("dev", "jsmith")]
        );
        // Role names are case-sensitive, as in PostgreSQL.
        let upper = AuditFilter {
            role: Some("JSmith".to_string()),
            ..AuditFilter::default()
        };
        assert_eq!(roles(upper), []);
        let env = AuditFilter {
            env: Some("dev".to_string()),
            ..AuditFilter::default()
        };
        assert_eq!(
            roles(env),
            [pair("dev", "web01_8080"), pair("dev", "jsmith")]
        );
        let all_three = AuditFilter {
            since: Some("2026-01-10".to_string()),
            env: Some("dev".to_string()),
            ..role
        };
        assert_eq!(roles(all_three), [pair("dev", "jsmith")]);
    }

    #[test]
    fn a_bad_since_is_refused_with_the_file_named() {
        let (_dir, log) = temp_log();
        let e = log
            .query(&AuditFilter {
                since: Some("last week".to_string()),
                ..AuditFilter::default()
            })
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "audit log {}: invalid since date `last week`: not in either form; \
                 expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)",
                log.path().display()
            )
        );
    }

    #[test]
    fn outcomes_update_started_rows_once() {
        let (_dir, mut log) = temp_log();
        let run = log.start_run("alice", "apply").unwrap();
        let changes = [
            change("dev", "a", "create"),
            change("dev", "b", "update"),
            change("qa", "c", "create"),
            change("qa", "d", "create"),
        ];
        let ids = log.record_started(&run, &changes).unwrap();
        let outcomes =
            |log: &AuditLog| -> Vec<String> { all(log).into_iter().map(|e| e.outcome).collect() };
        assert_eq!(outcomes(&log), ["started"; 4]);

        log.record_outcomes(&[
            (ids[0], Outcome::Ok),
            (
                ids[1],
                Outcome::Failed("permission denied to alter role".to_string()),
            ),
            (
                ids[2],
                Outcome::RolledBack("another change on pg-qa-01:5432 failed".to_string()),
            ),
        ])
        .unwrap();
        // d never got an answer, as after a crash: it stays `started`.
        log.finish_run(&run, false).unwrap();
        assert_eq!(
            outcomes(&log),
            [
                "ok",
                "failed: permission denied to alter role",
                "rolled back: another change on pg-qa-01:5432 failed",
                "started"
            ]
        );

        // A second outcome, or an unknown id, fails the whole batch: d is not written either.
        let e = log
            .record_outcomes(&[(ids[3], Outcome::Ok), (ids[0], Outcome::Ok)])
            .unwrap_err();
        assert!(
            matches!(e, AuditError::ChangeFinished { id, .. } if id == ids[0]),
            "{e}"
        );
        let e = log
            .record_outcomes(&[(ids[3], Outcome::Ok), (9999, Outcome::Ok)])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("audit log {}: no change #9999", log.path().display())
        );
        assert_eq!(outcomes(&log)[3], "started");
        assert_eq!(
            log.record_started(&run, &[]).unwrap_err().to_string(),
            format!(
                "audit log {}: run `{run}` already finished as `failed`",
                log.path().display()
            )
        );
    }

    #[test]
    fn runs_must_exist_and_be_open() {
        let (_dir, mut log) = temp_log();
        let ghost = RunId("0000000000000000".to_string());
        assert!(matches!(
            log.record_started(&ghost, &[change("dev", "a", "create")]),
            Err(AuditError::UnknownRun { .. })
        ));
        assert!(matches!(
            log.finish_run(&ghost, true),
            Err(AuditError::UnknownRun { .. })
        ));
        let run = log.start_run("alice", "reset").unwrap();
        assert_eq!(log.record_started(&run, &[]).unwrap(), Vec::<i64>::new());
        log.finish_run(&run, true).unwrap();
        assert!(matches!(
            log.finish_run(&run, true),
            Err(AuditError::RunFinished { .. })
        ));
        assert!(all(&log).is_empty());
    }

    #[test]
    fn run_ids_are_distinct() {
        let (_dir, mut log) = temp_log();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            assert!(seen.insert(log.start_run("alice", "apply").unwrap()));
        }
    }

    #[test]
    fn readers_are_not_blocked_and_writers_wait() {
        let (dir, mut log) = temp_log();
        let path = dir.path().join("pgroster-audit.db");
        let run = log.start_run("alice", "apply").unwrap();
        log.record_started(&run, &[change("dev", "a", "create")])
            .unwrap();

        let (locked_tx, locked) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let mut other = Connection::open(&path).unwrap();
            let tx = other
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            tx.execute("UPDATE runs SET command = 'held'", []).unwrap();
            locked_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            tx.commit().unwrap();
        });
        locked.recv().unwrap();
        // WAL: a reader sees the last commit while another connection holds the write lock.
        assert_eq!(all(&log)[0].command, "apply");
        // This write must wait for the holder's commit instead of failing with "locked".
        let waited = std::time::Instant::now();
        log.finish_run(&run, true).unwrap();
        assert!(waited.elapsed() >= Duration::from_millis(200));
        holder.join().unwrap();
        assert_eq!(all(&log)[0].command, "held");
    }

    #[test]
    fn concurrent_writers_never_fail_with_locked() {
        const THREADS: usize = 4;
        const RUNS: usize = 200;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgroster-audit.db");
        // All threads open the new file at once, so they also race on WAL and the migration.
        let start = Arc::new(Barrier::new(THREADS));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let path = path.clone();
                let start = Arc::clone(&start);
                std::thread::spawn(move || -> Result<(), AuditError> {
                    start.wait();
                    let mut log = AuditLog::open(&path)?;
                    for i in 0..RUNS {
                        let run = log.start_run(&format!("worker{t}"), "apply")?;
                        let changes = [
                            change("dev", &format!("r{t}_{i}_a"), "create"),
                            change("prod", &format!("r{t}_{i}_b"), "update"),
                            change("qa", &format!("r{t}_{i}_c"), "create"),
                        ];
                        let ids = log.record_started(&run, &changes)?;
                        let outcomes: Vec<_> =
                            ids.into_iter().map(|id| (id, Outcome::Ok)).collect();
                        log.record_outcomes(&outcomes)?;
                        log.finish_run(&run, true)?;
                        if i % 50 == 0 {
                            log.query(&AuditFilter {
                                env: Some("prod".to_string()),
                                ..AuditFilter::default()
                            })?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap().unwrap();
        }
        let log = AuditLog::open(&path).unwrap();
        let entries = all(&log);
        assert_eq!(entries.len(), THREADS * RUNS * 3);
        assert!(entries.iter().all(|e| e.outcome == "ok"));
        let finished: i64 = log
            .conn
            .query_row("SELECT count(*) FROM runs WHERE status = 'ok'", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(finished, (THREADS * RUNS) as i64);
    }
}
