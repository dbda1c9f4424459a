//! `pgroster audit`: read the audit log back; with `--run ID`, tell what became of one run,
//! asking the clusters about the transactions an interrupted run left unanswered.

use crate::cli::args::{AuditArgs, AuditFormat};
use crate::cli::context;
use crate::cli::output::Output;
use crate::cli::EXIT_OK;
use anyhow::Result;
use pgroster::audit::resolve::{Verdict, XactOracle, XactStatusError};
use pgroster::audit::{self, AuditFilter};
use pgroster::catalog::xact::{xact_status, XactStatus};
use pgroster::connection::Connector;
use pgroster::model::ClusterKey;
use pgroster::render::table::escape_controls;
use std::path::Path;

pub fn run(config: &Path, args: &AuditArgs, output: &Output) -> Result<i32> {
    if let Some(run) = &args.run {
        return run_outcome(config, run, output);
    }
    // The audit log is read even when the rest of the config no longer validates.
    let config = pgroster::config::load(config)?;
    let since = args
        .since
        .as_deref()
        .map(audit::validate_since)
        .transpose()?;
    let mut log = context::AuditLogAt::new(&config)?.open()?;
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

/// The clusters, asked with the admin credentials and TLS settings `plan` uses.
struct Clusters<'c>(&'c Connector);

impl XactOracle for Clusters<'_> {
    fn status(
        &mut self,
        host: &str,
        port: u16,
        database: &str,
        xid: &str,
    ) -> Result<XactStatus, XactStatusError> {
        let cluster = ClusterKey {
            host: host.to_string(),
            port,
        };
        let mut connection = self.0.connect(&cluster, database)?;
        Ok(xact_status(&mut connection, xid)?)
    }
}

fn run_outcome(config: &Path, run: &str, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let mut log = ctx.audit_log.open()?;
    let transactions = log.resolve_run(run, &mut Clusters(&ctx.connector))?;
    let mut text = format!("Run {run}:\n");
    if transactions.is_empty() {
        text.push_str("  no changes were recorded\n");
    }
    for t in &transactions {
        let transaction = match &t.xid {
            Some(xid) => format!("transaction {xid}"),
            None => "no transaction".to_string(),
        };
        let verdict = match &t.verdict {
            Verdict::Committed => "committed".to_string(),
            Verdict::RolledBack(why) => format!("rolled back ({why})"),
            Verdict::Unknown(why) => format!("unknown ({why})"),
        };
        text.push_str(&format!(
            "  {}:{} {transaction}, {} change(s): {}\n",
            t.host,
            t.port,
            t.changes,
            escape_controls(&verdict)
        ));
    }
    output.print(&text);
    Ok(EXIT_OK)
}
