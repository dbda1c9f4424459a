//! Runs a prepared plan, cluster after cluster, unit after unit, with its audit trail.
//!
//! `prepare` turns the plan into units (see `prepare.rs`); `run` executes them. For each unit,
//! in this order: its changes are recorded as `started` (committed to the audit log), the unit
//! runs in one transaction, and its outcomes are recorded. So no statement reaches a server
//! before the audit log holds it, and a crash leaves `started` rows as evidence.
//!
//! A cluster's role changes run first, in one unit; once they fail, the cluster's later units
//! (markers, each database's privileges) are recorded as not run.

mod execute;
mod password;
mod prepare;

use execute::execute;
pub use execute::ExecuteError;
pub use prepare::{
    prepare, GeneratedCredential, PrepareError, Prepared, PreparedChange, PreparedCluster, Unit,
    UnitKind,
};

use crate::audit::{AuditError, AuditLog, ChangeRecord, Outcome, RunId};
use crate::fleet::ClusterConnections;
use crate::model::ClusterKey;
use std::collections::BTreeMap;
use std::fmt;

/// Runs one unit in one transaction on its cluster. The real one is a fleet's connections;
/// tests may record instead.
pub trait Executor {
    fn execute(&mut self, cluster: &ClusterKey, unit: &Unit<'_>) -> Result<(), ExecuteError>;
}

impl Executor for BTreeMap<ClusterKey, ClusterConnections> {
    fn execute(&mut self, cluster: &ClusterKey, unit: &Unit<'_>) -> Result<(), ExecuteError> {
        let no_connection = |what: String| ExecuteError {
            failed_index: None,
            message: format!("no connection to {what}"),
        };
        let connections = self
            .get_mut(cluster)
            .ok_or_else(|| no_connection("the cluster".into()))?;
        let database = unit
            .kind
            .database()
            .unwrap_or(&connections.role_database)
            .to_string();
        let connection = connections
            .by_database
            .get_mut(&database)
            .ok_or_else(|| no_connection(format!("database {database}")))?;
        execute(connection, unit)
    }
}

/// What an apply did, cluster by cluster.
#[derive(Debug)]
pub struct ApplyReport {
    pub run: RunId,
    pub clusters: Vec<ClusterReport>,
    /// Clusters with plan errors, which were not run.
    pub not_run: Vec<ClusterKey>,
}

impl ApplyReport {
    /// Clusters that failed or were not run.
    pub fn failed_clusters(&self) -> usize {
        self.not_run.len() + self.clusters.iter().filter(|c| !c.succeeded()).count()
    }

    /// Roles created and roles changed, over the clusters whose role changes committed.
    pub fn roles_added_and_changed(&self) -> (usize, usize) {
        self.clusters
            .iter()
            .fold((0, 0), |(a, c), r| (a + r.added, c + r.changed))
    }

    /// The generated passwords that are now live: role changes commit first, so a cluster's
    /// passwords are live once its role changes committed, even when a database's grants
    /// failed afterwards. `prepared` is what this report's run executed.
    pub fn live_credentials<'a>(
        &'a self,
        prepared: &'a Prepared<'_>,
    ) -> impl Iterator<Item = &'a GeneratedCredential> {
        prepared
            .clusters
            .iter()
            .zip(&self.clusters)
            .filter(|(_, outcome)| outcome.roles_committed)
            .flat_map(|(cluster, _)| &cluster.credentials)
    }
}

#[derive(Debug)]
pub struct ClusterReport {
    pub cluster: ClusterKey,
    /// Whether the role changes committed: passwords set there are live.
    pub roles_committed: bool,
    /// Roles created and roles changed, counted when the role changes committed.
    pub added: usize,
    pub changed: usize,
    pub failures: Vec<UnitFailure>,
}

impl ClusterReport {
    pub(crate) fn succeeded(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A unit that was rolled back: what failed, and which changes went with it.
#[derive(Debug, Clone)]
pub struct UnitFailure {
    pub cluster: ClusterKey,
    pub kind: UnitKind,
    /// The failing statement (redacted) and its role, when it could be pinned down.
    pub statement: Option<(String, String)>,
    pub message: String,
}

impl fmt::Display for UnitFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.cluster, self.message)?;
        if let Some((statement, role)) = &self.statement {
            write!(f, " while running `{statement}` for role \"{role}\"")?;
        }
        match &self.kind {
            UnitKind::Roles => f.write_str("; its role changes were rolled back"),
            UnitKind::Markers => f.write_str(
                "; its markers (the next apply adopts and marks those roles again) were rolled back",
            ),
            UnitKind::Privileges(db) => {
                write!(f, "; its privilege changes in database {db} were rolled back")
            }
        }
    }
}

/// Runs every prepared cluster, recording each change before it runs and its outcome after,
/// as one audit run by `actor` for `command`. An audit log error stops the run at once: no
/// statement runs that the log does not hold.
pub fn run(
    prepared: &Prepared<'_>,
    executor: &mut impl Executor,
    audit: &mut AuditLog,
    actor: &str,
    command: &str,
) -> Result<ApplyReport, AuditError> {
    let run = audit.start_run(actor, command)?;
    let clusters = prepared
        .clusters
        .iter()
        .map(|cluster| run_cluster(cluster, executor, audit, &run))
        .collect::<Result<Vec<_>, _>>()?;
    let report = ApplyReport {
        run,
        clusters,
        not_run: prepared.not_run.clone(),
    };
    audit.finish_run(&report.run, report.failed_clusters() == 0)?;
    Ok(report)
}

fn run_cluster(
    cluster: &PreparedCluster<'_>,
    executor: &mut impl Executor,
    audit: &mut AuditLog,
    run: &RunId,
) -> Result<ClusterReport, AuditError> {
    let mut report = ClusterReport {
        cluster: cluster.cluster.clone(),
        roles_committed: false,
        added: 0,
        changed: 0,
        failures: Vec::new(),
    };
    let mut roles_failed = false;
    for unit in cluster.units.iter().filter(|u| !u.changes.is_empty()) {
        let records: Vec<ChangeRecord> = unit
            .changes
            .iter()
            .map(|change| change.audit_record(&cluster.cluster))
            .collect();
        let ids = audit.record_started(run, &records)?;
        drop(records);
        let outcomes: Vec<(i64, Outcome)> = if roles_failed {
            let not_run = Outcome::RolledBack("not run: the cluster's role changes failed".into());
            ids.iter().map(|id| (*id, not_run.clone())).collect()
        } else {
            let result = executor.execute(&cluster.cluster, unit);
            let outcomes = outcomes(&cluster.cluster, &ids, &result);
            if let Err(error) = result {
                roles_failed |= unit.kind == UnitKind::Roles;
                report.failures.push(failure(&cluster.cluster, unit, error));
            }
            outcomes
        };
        audit.record_outcomes(&outcomes)?;
    }
    report.roles_committed = !roles_failed;
    if report.roles_committed {
        for role in cluster.roles {
            match role.action {
                crate::plan::RoleAction::Create => report.added += 1,
                _ => report.changed += 1,
            }
        }
    }
    Ok(report)
}

/// Each change's outcome once its unit gave `result`: the failing change failed, the others
/// of the unit were rolled back with it.
fn outcomes(
    cluster: &ClusterKey,
    ids: &[i64],
    result: &Result<(), ExecuteError>,
) -> Vec<(i64, Outcome)> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let outcome = match result {
                Ok(()) => Outcome::Ok,
                Err(e) if e.failed_index == Some(i) || (e.failed_index.is_none() && i == 0) => {
                    Outcome::Failed(e.message.clone())
                }
                Err(_) => Outcome::RolledBack(format!("another change on {cluster} failed")),
            };
            (*id, outcome)
        })
        .collect()
}

fn failure(cluster: &ClusterKey, unit: &Unit<'_>, error: ExecuteError) -> UnitFailure {
    UnitFailure {
        cluster: cluster.clone(),
        kind: unit.kind.clone(),
        statement: error
            .failed_index
            .and_then(|i| unit.changes.get(i))
            .map(|c| (c.statement().to_string(), c.role.role.to_string())),
        message: error.message,
    }
}

#[cfg(test)]
mod tests;
