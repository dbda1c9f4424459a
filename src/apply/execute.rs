//! One unit of changes -> one transaction over one connection, under pgroster's advisory lock:
//! its id handed to the audit log before any change runs, and password statements kept out of
//! the server's statement log when the admin may.

use super::fault;
use super::prepare::Unit;
use crate::catalog::statement_log;
use crate::catalog::xact::current_xact_id;
use crate::catalog::CatalogError;
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
    /// The COMMIT was sent and no answer came back (the connection broke): the transaction
    /// may have committed.
    pub commit_unknown: bool,
    pub message: String,
}

/// Why a unit's transaction stopped, before `ExecuteError` says which change and whether the
/// COMMIT may have gone through. The unit's cluster and database are named by the caller.
#[derive(Debug, thiserror::Error)]
enum TransactionError {
    /// The server's message, as `connection::describe_error` gives it.
    #[error("{0}")]
    Server(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("the audit log could not record the transaction")]
    XidNotRecorded,
    #[error("PostgreSQL did not carry it out: WARNING: {}", .0.join("; "))]
    Warnings(Vec<String>),
}

impl From<postgres::Error> for TransactionError {
    fn from(error: postgres::Error) -> Self {
        TransactionError::Server(describe_error(&error))
    }
}

/// Runs a unit's changes in one transaction, under pgroster's advisory lock, once `opened` has
/// taken the transaction's id. A server error or WARNING rolls it back; the changes are then
/// replayed one by one in a second transaction, also rolled back, to name the statement at
/// fault.
pub(crate) fn execute(
    connection: &mut Connection,
    unit: &Unit<'_>,
    opened: &mut dyn FnMut(&str) -> Result<(), ()>,
) -> Result<(), ExecuteError> {
    if unit.changes.is_empty() {
        return Ok(());
    }
    let lock = ddl::begin();
    connection.take_warnings();
    let mut commit_unknown = false;
    let mut run = |connection: &mut Connection| -> Result<(), TransactionError> {
        connection.batch_execute(lock)?;
        let xid = current_xact_id(connection)?;
        opened(&xid).map_err(|()| TransactionError::XidNotRecorded)?;
        silence_statement_log(connection, unit)?;
        for chunk in unit.changes.chunks(BATCH) {
            fault::point("statement batch");
            let mut sql = String::new();
            for change in chunk {
                sql.push_str(change.statement().sql());
                sql.push_str(";\n");
            }
            connection.batch_execute(&sql)?;
            refuse_warnings(connection)?;
        }
        fault::point("before commit");
        connection.batch_execute(ddl::COMMIT).map_err(|e| {
            // A server's refusal is an answer (the transaction rolled back); a broken
            // connection is none.
            commit_unknown = e.as_db_error().is_none();
            TransactionError::from(e)
        })?;
        fault::point("after commit");
        Ok(())
    };
    let Err(error) = run(connection) else {
        return Ok(());
    };
    let message = error.to_string();
    if commit_unknown {
        return Err(ExecuteError {
            failed_index: None,
            commit_unknown,
            message: format!("{message}; the COMMIT got no answer, so it may have committed"),
        });
    }
    let _ = connection.batch_execute(ddl::ROLLBACK);
    Err(ExecuteError {
        failed_index: locate_failure(connection, unit, lock),
        commit_unknown,
        message,
    })
}

/// Keeps password verifiers out of the server's statement log when the admin may: for the whole
/// unit, because its batches mix password statements with others and SET LOCAL ends with the
/// transaction; the audit log holds every statement the unit runs. When the admin may not, the
/// plan said so (a note on the cluster).
fn silence_statement_log(
    connection: &mut Connection,
    unit: &Unit<'_>,
) -> Result<(), TransactionError> {
    if !unit.changes.iter().any(|c| c.sets_password()) {
        return Ok(());
    }
    let log = statement_log::server_version_num(connection)
        .and_then(|version| statement_log::read(connection, version))?;
    if log.logs_statements && log.admin_may_silence {
        connection.batch_execute(ddl::SILENCE_STATEMENT_LOG)?;
    }
    Ok(())
}

fn refuse_warnings(connection: &Connection) -> Result<(), TransactionError> {
    let warnings = connection.take_warnings();
    if warnings.is_empty() {
        Ok(())
    } else {
        Err(TransactionError::Warnings(warnings))
    }
}

fn locate_failure(connection: &mut Connection, unit: &Unit<'_>, lock: &str) -> Option<usize> {
    connection.batch_execute(lock).ok()?;
    // The replay sends the password statements again.
    if silence_statement_log(connection, unit).is_err() {
        let _ = connection.batch_execute(ddl::ROLLBACK);
        return None;
    }
    connection.take_warnings();
    let failed = unit.changes.iter().position(|c| {
        connection.batch_execute(c.statement().sql()).is_err()
            || refuse_warnings(connection).is_err()
    });
    let _ = connection.batch_execute(ddl::ROLLBACK);
    failed
}
