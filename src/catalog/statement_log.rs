//! Whether the server writes statements to its log, and whether the admin may stop that for its
//! own transaction. A password statement carries a SCRAM verifier, which the log would keep and
//! which allows offline guessing of a human-chosen password (issue 9). The settings involved are
//! superuser-only; PostgreSQL 15+ can grant them (`GRANT SET ON PARAMETER`).

use super::{each_row, get, CatalogError};
use crate::model::StatementLog;

/// Every setting `render::ddl::SILENCE_STATEMENT_LOG` sets, for the privilege check.
const LOGS: &str = "current_setting('log_statement') IN ('ddl', 'mod', 'all')
       OR current_setting('log_min_duration_statement') <> '-1'";

/// The server's version, for [`read`] where the caller has not read it already.
pub fn server_version_num(client: &mut postgres::Client) -> Result<i32, CatalogError> {
    let mut version = 0;
    each_row(
        client,
        "SELECT current_setting('server_version_num')::int",
        |row| {
            version = get(row, 0)?;
            Ok(())
        },
    )?;
    Ok(version)
}

/// Reads the server's statement logging and the admin's right to silence it, on a server of
/// `version` (`server_version_num`).
pub fn read(client: &mut postgres::Client, version: i32) -> Result<StatementLog, CatalogError> {
    // has_parameter_privilege is new in 15; before, only a superuser may.
    let granted = if version >= 150000 {
        "has_parameter_privilege('log_statement', 'SET')
         AND has_parameter_privilege('log_min_duration_statement', 'SET')
         AND has_parameter_privilege('log_min_error_statement', 'SET')"
    } else {
        "false"
    };
    let sql = format!(
        "SELECT {LOGS}, r.rolsuper OR ({granted}) FROM pg_roles r WHERE r.rolname = current_user"
    );
    let mut log = StatementLog::default();
    each_row(client, &sql, |row| {
        log = StatementLog {
            logs_statements: get(row, 0)?,
            admin_may_silence: get(row, 1)?,
        };
        Ok(())
    })?;
    Ok(log)
}
