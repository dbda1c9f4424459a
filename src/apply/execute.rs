//! One unit of changes -> one transaction over one connection, under pgroster's advisory lock.

use super::prepare::Unit;
use crate::connection::{describe_error, Connection};
use crate::render::ddl;

/// Statements per round trip: large enough that 10,000 roles take a handful of round trips.
pub(crate) const BATCH: usize = 500;

/// Why a unit's transaction was rolled back.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ExecuteError {
    /// The change that failed, when it could be pinned down.
    pub failed_index: Option<usize>,
    pub message: String,
}

/// Runs a unit's changes in one transaction, under pgroster's advisory lock. A server error or
/// WARNING rolls it back; the changes are then replayed one by one in a second transaction, also
/// rolled back, to name the statement at fault.
pub(crate) fn execute(connection: &mut Connection, unit: &Unit<'_>) -> Result<(), ExecuteError> {
    if unit.changes.is_empty() {
        return Ok(());
    }
    let lock = ddl::begin();
    connection.take_warnings();
    let run = |connection: &mut Connection| -> Result<(), String> {
        connection
            .batch_execute(lock)
            .map_err(|e| describe_error(&e))?;
        for chunk in unit.changes.chunks(BATCH) {
            let mut sql = String::new();
            for change in chunk {
                sql.push_str(change.statement().sql());
                sql.push_str(";\n");
            }
            connection
                .batch_execute(&sql)
                .map_err(|e| describe_error(&e))?;
            refuse_warnings(connection)?;
        }
        connection
            .batch_execute(ddl::COMMIT)
            .map_err(|e| describe_error(&e))
    };
    let Err(message) = run(connection) else {
        return Ok(());
    };
    let _ = connection.batch_execute(ddl::ROLLBACK);
    Err(ExecuteError {
        failed_index: locate_failure(connection, unit, lock),
        message,
    })
}

fn refuse_warnings(connection: &Connection) -> Result<(), String> {
    let warnings = connection.take_warnings();
    if warnings.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "PostgreSQL did not carry it out: WARNING: {}",
            warnings.join("; ")
        ))
    }
}

fn locate_failure(connection: &mut Connection, unit: &Unit<'_>, lock: &str) -> Option<usize> {
    connection.batch_execute(lock).ok()?;
    connection.take_warnings();
    let failed = unit.changes.iter().position(|c| {
        connection.batch_execute(c.statement().sql()).is_err()
            || refuse_warnings(connection).is_err()
    });
    let _ = connection.batch_execute(ddl::ROLLBACK);
    failed
}
