//! Which server a connection reached, and which session holds pgroster's lock on it: read
//! before the catalogs, so that one server registered under two addresses, or a busy lock, is
//! known before anything is planned.

use super::{each_row, get, CatalogError};

/// What tells two servers apart. The system identifier alone does not: every copy of one data
/// directory (a streaming replica, a restored base backup) has the same one. Its postmaster's
/// start time and its port do.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerIdentity {
    /// `pg_control_system()`'s, when the admin may call it (not granted to PUBLIC everywhere).
    pub system_identifier: Option<String>,
    /// `pg_postmaster_start_time()` as seconds since the epoch, to the microsecond.
    pub started: String,
    pub port: String,
}

const IDENTITY_QUERY: &str = "
SELECT has_function_privilege('pg_control_system()', 'EXECUTE'),
       extract(epoch FROM pg_postmaster_start_time())::text,
       current_setting('port')";

/// Asked only when permitted: the privilege check runs when a query starts, even for a call
/// that a CASE would never reach.
const SYSTEM_IDENTIFIER_QUERY: &str = "SELECT system_identifier::text FROM pg_control_system()";

/// The pid and application name of the session holding the advisory lock `$1` (bigint) in the
/// current database. A bigint key is stored as its high half in `classid`, its low half in
/// `objid`, with `objsubid` 1 (docs: pg_locks).
const LOCK_HOLDER_QUERY: &str = "
SELECT l.pid, coalesce(a.application_name, '')
  FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
 LIMIT 1";

pub fn read_identity(client: &mut postgres::Client) -> Result<ServerIdentity, CatalogError> {
    let mut found = None;
    each_row(client, IDENTITY_QUERY, |row| {
        found = Some((
            get::<bool>(row, 0)?,
            get::<String>(row, 1)?,
            get::<String>(row, 2)?,
        ));
        Ok(())
    })?;
    let (may_read_control, started, port) =
        found.ok_or_else(|| CatalogError::Shape("no server identity".into()))?;
    let mut system_identifier = None;
    if may_read_control {
        each_row(client, SYSTEM_IDENTIFIER_QUERY, |row| {
            system_identifier = Some(get::<String>(row, 0)?);
            Ok(())
        })?;
    }
    Ok(ServerIdentity {
        system_identifier,
        started,
        port,
    })
}

/// Another session holding an advisory lock: its pid and `application_name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: i32,
    pub application_name: String,
}

/// The session holding advisory lock `key` in the connection's database, if any.
pub fn lock_holder(
    client: &mut postgres::Client,
    key: i64,
) -> Result<Option<LockHolder>, CatalogError> {
    let rows = client
        .query(LOCK_HOLDER_QUERY, &[&key])
        .map_err(|e| CatalogError::Query(crate::connection::describe_error(&e)))?;
    rows.first()
        .map(|row| {
            Ok(LockHolder {
                pid: get(row, 0)?,
                application_name: get(row, 1)?,
            })
        })
        .transpose()
}
