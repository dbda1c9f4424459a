//! Transaction ids, so that an interrupted apply can be resolved afterwards: each unit records
//! its transaction's id in the audit log before it commits, and `pgroster audit --run` asks the
//! server what became of it (docs: "Transaction ID and Snapshot Information Functions").

use super::CatalogError;
use crate::connection::describe_error;

/// What the server says of a transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XactStatus {
    Committed,
    Aborted,
    InProgress,
    /// Older than the server keeps commit status for (`pg_xact_status` gives NULL).
    Forgotten,
}

/// The id of the transaction open on `client`, assigning one if it has none yet.
pub(crate) fn current_xact_id(client: &mut postgres::Client) -> Result<String, CatalogError> {
    let row = client
        .query_one("SELECT pg_current_xact_id()::text", &[])
        .map_err(|e| CatalogError::Query(describe_error(&e)))?;
    row.try_get(0)
        .map_err(|e| CatalogError::Shape(format!("pg_current_xact_id: {e}")))
}

/// What became of transaction `xid` (as `current_xact_id` gave it).
pub fn xact_status(client: &mut postgres::Client, xid: &str) -> Result<XactStatus, CatalogError> {
    let row = client
        .query_one("SELECT pg_xact_status($1::text::xid8)", &[&xid])
        .map_err(|e| CatalogError::Query(describe_error(&e)))?;
    let status: Option<String> = row
        .try_get(0)
        .map_err(|e| CatalogError::Shape(format!("pg_xact_status: {e}")))?;
    match status.as_deref() {
        Some("committed") => Ok(XactStatus::Committed),
        Some("aborted") => Ok(XactStatus::Aborted),
        Some("in progress") => Ok(XactStatus::InProgress),
        None => Ok(XactStatus::Forgotten),
        Some(other) => Err(CatalogError::Shape(format!(
            "pg_xact_status gave `{other}`"
        ))),
    }
}
