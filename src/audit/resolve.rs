//! What became of one run, transaction by transaction, for `pgroster audit --run`: read from the
//! log, and for changes a crash left `started`, asked of the server by the transaction id the
//! run recorded before it committed. Resolved outcomes are written back, so the next reader
//! need not ask again.

use super::{AuditError, AuditLog, Backend, Outcome};
use crate::catalog::xact::XactStatus;
use crate::catalog::CatalogError;
use crate::connection::ConnectError;

/// What became of one transaction of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Committed,
    RolledBack(String),
    /// Neither the log nor the server can tell, and why.
    Unknown(String),
}

/// The changes of a run that ran in one transaction on one cluster. Changes recorded without
/// a transaction id (they never reached a transaction, or an older pgroster wrote them) form
/// one group per cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTransaction {
    pub host: String,
    pub port: u16,
    pub xid: Option<String>,
    pub changes: usize,
    pub verdict: Verdict,
}

/// One change of a run as the backends read it for resolving, in recording order.
pub(super) struct RunRow {
    pub(super) id: i64,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) database: String,
    pub(super) xid: Option<String>,
    pub(super) outcome: String,
}

/// A run's changes, and whether its pgroster recorded transaction ids.
pub(super) struct RunRows {
    pub(super) records_xid: bool,
    pub(super) rows: Vec<RunRow>,
}

/// Asks a cluster (`host`, `port`, through `database`) what became of transaction `xid`.
pub trait XactOracle {
    fn status(
        &mut self,
        host: &str,
        port: u16,
        database: &str,
        xid: &str,
    ) -> Result<XactStatus, XactStatusError>;
}

/// Why a cluster could not say what became of a transaction; the verdict it becomes is shown
/// beside the cluster and the transaction id.
#[derive(Debug, Clone, thiserror::Error)]
pub enum XactStatusError {
    #[error("cannot ask the server: {0}")]
    Connect(#[from] ConnectError),
    #[error("cannot ask the server: {0}")]
    Catalog(#[from] CatalogError),
}

impl AuditLog {
    /// Every transaction of run `run`, in the order it ran, with what became of it; changes
    /// left `started` are resolved through `oracle` and their outcomes recorded.
    pub fn resolve_run(
        &mut self,
        run: &str,
        oracle: &mut dyn XactOracle,
    ) -> Result<Vec<RunTransaction>, AuditError> {
        let found = match &mut self.backend {
            Backend::Sqlite(db) => db.run_rows(run)?,
            Backend::Postgres(db) => db.run_rows(run)?,
        };
        let RunRows { records_xid, rows } = found.ok_or_else(|| AuditError::UnknownRun {
            log: self.name().to_string(),
            run: run.to_string(),
        })?;
        let mut groups: Vec<Vec<&RunRow>> = Vec::new();
        for row in &rows {
            match groups
                .iter_mut()
                .find(|g| g[0].host == row.host && g[0].port == row.port && g[0].xid == row.xid)
            {
                Some(group) => group.push(row),
                None => groups.push(vec![row]),
            }
        }
        let mut resolved: Vec<(i64, Outcome)> = Vec::new();
        let transactions = groups
            .iter()
            .map(|group| {
                let first = group[0];
                let started: Vec<i64> = group
                    .iter()
                    .filter(|r| r.outcome == "started")
                    .map(|r| r.id)
                    .collect();
                let verdict = if started.is_empty() {
                    recorded_verdict(group)
                } else {
                    let (verdict, outcome) = ask(oracle, first, records_xid);
                    if let Some(outcome) = outcome {
                        resolved.extend(started.iter().map(|id| (*id, outcome.clone())));
                    }
                    verdict
                };
                RunTransaction {
                    host: first.host.clone(),
                    port: first.port,
                    xid: first.xid.clone(),
                    changes: group.len(),
                    verdict,
                }
            })
            .collect();
        self.record_outcomes(&resolved)?;
        Ok(transactions)
    }
}

/// The verdict of a group whose every change has an outcome.
fn recorded_verdict(group: &[&RunRow]) -> Verdict {
    // The change that failed says why; the others only that they went with it.
    let failed = group.iter().find(|r| r.outcome.starts_with("failed"));
    match failed.or_else(|| group.iter().find(|r| r.outcome != "ok")) {
        None => Verdict::Committed,
        Some(row) => Verdict::RolledBack(
            row.outcome
                .strip_prefix("rolled back: ")
                .unwrap_or(&row.outcome)
                .to_string(),
        ),
    }
}

/// The verdict of a group with `started` changes, and the outcome to record for them, if known.
fn ask(oracle: &mut dyn XactOracle, row: &RunRow, records_xid: bool) -> (Verdict, Option<Outcome>) {
    let Some(xid) = &row.xid else {
        return if records_xid {
            // The id is recorded before the transaction runs any change: without one, the
            // run stopped before anything was sent.
            let why = "interrupted before its transaction ran any change".to_string();
            (
                Verdict::RolledBack(why.clone()),
                Some(Outcome::RolledBack(why)),
            )
        } else {
            (
                Verdict::Unknown(
                    "recorded by an older pgroster, which did not record transaction ids".into(),
                ),
                None,
            )
        };
    };
    match oracle.status(&row.host, row.port, &row.database, xid) {
        Ok(XactStatus::Committed) => (Verdict::Committed, Some(Outcome::Ok)),
        Ok(XactStatus::Aborted) => {
            let why = format!("interrupted; the server says transaction {xid} did not commit");
            (
                Verdict::RolledBack(why.clone()),
                Some(Outcome::RolledBack(why)),
            )
        }
        Ok(XactStatus::InProgress) => (
            Verdict::Unknown(format!("transaction {xid} is still running")),
            None,
        ),
        Ok(XactStatus::Forgotten) => (
            Verdict::Unknown(format!(
                "the server no longer keeps the status of transaction {xid}"
            )),
            None,
        ),
        Err(why) => (Verdict::Unknown(why.to_string()), None),
    }
}
