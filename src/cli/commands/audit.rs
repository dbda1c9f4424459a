//! `pgroster audit`: read the audit log back.

use crate::cli::args::{AuditArgs, AuditFormat};
use crate::cli::output::Output;
use crate::cli::EXIT_OK;
use anyhow::Result;
use pgroster::audit::{self, AuditFilter, AuditLog};
use std::path::Path;

pub fn run(config: &Path, args: &AuditArgs, output: &Output) -> Result<i32> {
    // The audit log is read even when the rest of the config no longer validates.
    let config = pgroster::config::load(config)?;
    let since = args
        .since
        .as_deref()
        .map(audit::validate_since)
        .transpose()?;
    let log = AuditLog::open(&config.audit_log_path())?;
    let entries = log.query(&AuditFilter {
        since,
        role: args.role.clone(),
        env: args.env.clone(),
    })?;
    output.print(&match args.format {
        AuditFormat::Table => audit::export::to_table(&entries),
        AuditFormat::Json => audit::export::to_json(&entries),
        AuditFormat::Csv => audit::export::to_csv(&entries),
    });
    Ok(EXIT_OK)
}
