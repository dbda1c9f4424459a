//! The audit log: every change pgroster executes, written before and after it runs, and read back
//! for `pgroster audit`. Its public API and errors live here; the log is a SQLite file
//! (`sqlite`) or a PostgreSQL database many runners share (`postgres`), with the same rows, the
//! same `started` -> outcome protocol and the same queries on both.
//!
//! The log stores exactly what callers hand it and nothing else: it never sees a password unless a
//! caller passes one, so `ChangeRecord::detail` and failure texts must be redacted by the caller.

pub mod export;
mod postgres;
mod postgres_schema;
pub mod resolve;
mod since;
pub mod sink;
mod sqlite;
mod sqlite_schema;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::connection::{ConnectError, Connector};
pub use since::{validate_since, InvalidSince};
pub use sink::{AuditSink, PgSink, SinkError};

/// Each variant names the audit log (its file, or its URL, which holds no password), because a
/// CLI error is often all the user sees.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {}: directory {} does not exist", path.display(), dir.display())]
    MissingDirectory { path: PathBuf, dir: PathBuf },
    // The SQLite message is part of ours rather than a `source`, so that error chains printed by
    // the CLI do not repeat it.
    #[error("audit log {log}: {error}")]
    Sqlite { log: String, error: rusqlite::Error },
    /// The server's message, as `connection::describe_error` gives it.
    #[error("audit log {log}: {error}")]
    Postgres { log: String, error: String },
    #[error("audit log {log}: {error}")]
    Connect {
        log: String,
        error: Box<ConnectError>,
    },
    #[error(
        "audit log {log}: SQLite cannot use write-ahead logging there (journal mode stays \
         `{mode}`), which concurrent applies need; network filesystems do not support it"
    )]
    NotWal { log: String, mode: String },
    #[error(
        "audit log {log}: schema version {found} is unknown to this pgroster, which writes version \
         {supported}; was it written by a newer pgroster?"
    )]
    UnknownSchema {
        log: String,
        found: i64,
        supported: i64,
    },
    #[error("audit log {log}: no run `{run}`")]
    UnknownRun { log: String, run: String },
    #[error("audit log {log}: run `{run}` already finished as `{status}`")]
    RunFinished {
        log: String,
        run: String,
        status: String,
    },
    #[error("audit log {log}: no change #{id}")]
    UnknownChange { log: String, id: i64 },
    #[error("audit log {log}: change #{id} already has the outcome `{outcome}`")]
    ChangeFinished {
        log: String,
        id: i64,
        outcome: String,
    },
    #[error("audit log {log}: {error}")]
    InvalidSince { log: String, error: InvalidSince },
}

/// The id shared by every change of one apply: 64 random bits as 16 hex characters, unique in
/// the log (a UNIQUE constraint enforces it).
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

/// 64 random bits collide with negligible odds; retrying a few times makes a collision
/// harmless without risking an endless loop.
const RUN_ID_ATTEMPTS: usize = 4;

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

/// A column an `AuditFilter` narrows, and the value it must have (the normal form of `since`).
/// Each backend writes its own condition for it; values are always bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Narrow {
    Since,
    Role,
    Env,
}

impl AuditFilter {
    /// The conditions that are set, in a fixed order. Only set ones become SQL, rather than
    /// `? IS NULL OR ...`, so that the time, role or env index is used.
    fn conditions(&self) -> Result<Vec<(Narrow, String)>, InvalidSince> {
        let mut conditions = Vec::new();
        if let Some(since) = &self.since {
            conditions.push((Narrow::Since, validate_since(since)?));
        }
        if let Some(role) = &self.role {
            conditions.push((Narrow::Role, role.clone()));
        }
        if let Some(env) = &self.env {
            conditions.push((Narrow::Env, env.clone()));
        }
        Ok(conditions)
    }
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

/// An open audit log. Each process (or thread) opens its own; SQLite's locks or the PostgreSQL
/// server arbitrate between them.
pub struct AuditLog {
    backend: Backend,
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(Box<postgres::Postgres>),
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("log", &self.name())
            .finish()
    }
}

/// Calls the same method on whichever backend the log is.
macro_rules! backend {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &mut $self.backend {
            Backend::Sqlite(db) => db.$method($($arg),*),
            Backend::Postgres(db) => db.$method($($arg),*),
        }
    };
}

impl AuditLog {
    /// Opens the SQLite file, creating it (but not its directory) and bringing its schema up
    /// to date.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        Ok(AuditLog {
            backend: Backend::Sqlite(sqlite::Sqlite::open(path)?),
        })
    }

    /// Connects to the PostgreSQL sink through `connector` (its credentials and TLS), creating
    /// its schema if missing and bringing it up to date.
    pub fn connect(sink: &PgSink, connector: &Connector) -> Result<AuditLog, AuditError> {
        Ok(AuditLog {
            backend: Backend::Postgres(Box::new(postgres::Postgres::connect(sink, connector)?)),
        })
    }

    /// The file's path or the sink's URL, as errors name it.
    pub fn name(&self) -> &str {
        match &self.backend {
            Backend::Sqlite(db) => &db.log,
            Backend::Postgres(db) => &db.log,
        }
    }

    /// Starts a run (one apply or reset), in status `started` until `finish_run`.
    pub fn start_run(&mut self, actor: &str, command: &str) -> Result<RunId, AuditError> {
        backend!(self.start_run(actor, command))
    }

    /// Records changes as `started`, before they are executed, in one transaction committed
    /// durably before this returns; returns their ids in the same order, for `record_outcomes`.
    pub fn record_started(
        &mut self,
        run: &RunId,
        changes: &[ChangeRecord],
    ) -> Result<Vec<i64>, AuditError> {
        backend!(self.record_started(run, changes))
    }

    /// Records the PostgreSQL transaction that runs changes recorded by `record_started`,
    /// durably, before that transaction commits: a change left `started` can then be resolved
    /// by asking the server (see `resolve`).
    pub fn record_xid(&mut self, ids: &[i64], xid: &str) -> Result<(), AuditError> {
        backend!(self.record_xid(ids, xid))
    }

    /// Sets the outcomes of changes recorded by `record_started`, in one transaction. A change
    /// gets one outcome: a second, or an unknown id, is an error and nothing is written.
    pub fn record_outcomes(&mut self, outcomes: &[(i64, Outcome)]) -> Result<(), AuditError> {
        backend!(self.record_outcomes(outcomes))
    }

    /// Closes a run as `ok` or `failed`. Changes still `started` keep that outcome: they are the
    /// evidence of what was attempted without an answer.
    pub fn finish_run(&mut self, run: &RunId, ok: bool) -> Result<(), AuditError> {
        backend!(self.finish_run(run, ok))
    }

    /// The recorded changes that match `filter`, oldest first (by time, then by recording order).
    pub fn query(&mut self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AuditError> {
        let conditions = filter
            .conditions()
            .map_err(|error| AuditError::InvalidSince {
                log: self.name().to_string(),
                error,
            })?;
        backend!(self.query(&conditions))
    }
}

/// A run's key from its row (`key`, `status`), if it exists and is not finished.
fn running_key(log: &str, run: &RunId, found: Option<(i64, String)>) -> Result<i64, AuditError> {
    match found {
        Some((key, status)) if status == "started" => Ok(key),
        Some((_, status)) => Err(AuditError::RunFinished {
            log: log.to_string(),
            run: run.to_string(),
            status,
        }),
        None => Err(AuditError::UnknownRun {
            log: log.to_string(),
            run: run.to_string(),
        }),
    }
}

/// Why some change of `ids` cannot take an outcome or a transaction id: the first, in order,
/// that is unknown (`outcome_of` gives `None`) or no longer `started`.
fn not_started<E>(
    log: &str,
    ids: impl IntoIterator<Item = i64>,
    mut outcome_of: impl FnMut(i64) -> Result<Option<String>, E>,
    error: impl Fn(E) -> AuditError,
) -> AuditError {
    let mut first = None;
    for id in ids {
        first.get_or_insert(id);
        match outcome_of(id) {
            Err(e) => return error(e),
            Ok(None) => {
                return AuditError::UnknownChange {
                    log: log.to_string(),
                    id,
                }
            }
            Ok(Some(outcome)) if outcome != "started" => {
                return AuditError::ChangeFinished {
                    log: log.to_string(),
                    id,
                    outcome,
                }
            }
            Ok(Some(_)) => {}
        }
    }
    AuditError::UnknownChange {
        log: log.to_string(),
        id: first.unwrap_or(0),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
