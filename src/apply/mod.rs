//! Runs a prepared plan, cluster after cluster, unit after unit, with its audit trail.
//!
//! `prepare` turns the plan into units (see `prepare.rs`); `run` executes them. A run starts
//! in the audit log, then delivers every password it generates (through the caller's
//! `Deliver`, each entry carrying the run id), and only then runs units: a password reaches
//! its destination before the transaction that sets it commits, so no crash can leave a live
//! password nowhere (issue 9). For each unit, in this order: its changes are recorded as
//! `started` (committed to the audit log), its transaction opens and its id is recorded on
//! those changes (synced), the changes run and commit, and the outcomes are recorded. So no
//! statement reaches a server before the audit log holds it, and a change a crash leaves
//! `started` can be resolved from the server by its transaction id (`audit::resolve`).
//!
//! A cluster's role changes run first, in one unit; once they fail, the cluster's later units
//! (markers, each database's privileges) are recorded as not run.
//!
//! `fault.rs` holds the test-only fault points (`PGROSTER_FAULT_ABORT_AT`).

mod execute;
pub(crate) mod fault;
mod password;
mod prepare;

use execute::execute;
pub use execute::ExecuteError;
pub use prepare::{
    prepare, GeneratedCredential, Grantee, PrepareError, Prepared, PreparedChange, PreparedCluster,
    Unit, UnitKind,
};

use crate::audit::{AuditError, AuditLog, ChangeRecord, Outcome, RunId};
use crate::fleet::{in_parallel, ClusterConnections};
use crate::model::ClusterKey;
use crate::progress::Progress;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// Runs one unit in one transaction on its cluster, handing the transaction's id to `opened`
/// before any change runs; when `opened` fails, the transaction is rolled back. The real one
/// is a cluster's connections; tests may record instead.
pub trait Executor {
    fn execute(
        &mut self,
        cluster: &ClusterKey,
        unit: &Unit<'_>,
        opened: &mut dyn FnMut(&str) -> Result<(), ()>,
    ) -> Result<(), ExecuteError>;
}

impl<E: Executor + ?Sized> Executor for &mut E {
    fn execute(
        &mut self,
        cluster: &ClusterKey,
        unit: &Unit<'_>,
        opened: &mut dyn FnMut(&str) -> Result<(), ()>,
    ) -> Result<(), ExecuteError> {
        (**self).execute(cluster, unit, opened)
    }
}

impl Executor for ClusterConnections {
    fn execute(
        &mut self,
        _: &ClusterKey,
        unit: &Unit<'_>,
        opened: &mut dyn FnMut(&str) -> Result<(), ()>,
    ) -> Result<(), ExecuteError> {
        let no_connection = |what: String| ExecuteError {
            failed_index: None,
            commit_unknown: false,
            message: format!("no connection to {what}"),
        };
        let connections = self;
        let database = unit
            .kind
            .database()
            .unwrap_or(&connections.role_database)
            .to_string();
        let connection = connections.by_database.get_mut(&database).ok_or_else(|| {
            no_connection(match connections.unreachable.get(&database) {
                Some(reason) => format!("database {database}: {reason}"),
                None => format!("database {database}"),
            })
        })?;
        execute(connection, unit, opened)
    }
}

/// Where a run's generated passwords go, provided by the caller (the CLI writes a file or the
/// terminal). `run` calls it once, after the run starts and before any unit runs.
pub trait Deliver {
    /// Delivers every credential durably (a file written and synced), each with `run`'s id, or
    /// says why not; then nothing runs.
    fn deliver(
        &mut self,
        run: &RunId,
        credentials: &[&GeneratedCredential],
    ) -> Result<(), DeliveryError>;
    /// Where the passwords went, for messages: "credentials file x.json", "the terminal".
    fn destination(&self) -> String;
}

/// Why the generated passwords did not all reach their destination. The cause names the part
/// at fault (the file, the role whose delivery the command refused) and never a password; it
/// is shown with its own causes, so that an I/O error is not lost behind its context.
#[derive(Debug, thiserror::Error)]
#[error("{}", with_sources(.cause.as_ref()))]
pub struct DeliveryError {
    /// Where they were going, as `Deliver::destination` says it.
    pub destination: String,
    pub cause: Box<dyn std::error::Error + Send + Sync>,
}

fn with_sources(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Audit(AuditError),
    #[error(
        "delivering the generated passwords failed, so nothing was changed (audit run {run}): \
         {error}"
    )]
    Delivery { run: RunId, error: DeliveryError },
    /// The audit log failed once something had committed: the report says what did.
    #[error("{}", after_commit(.error, .report, .destination.as_deref()))]
    AuditAfterCommit {
        error: AuditError,
        report: Box<ApplyReport>,
        /// Where the generated passwords were delivered, if the run generated any.
        destination: Option<String>,
    },
}

fn after_commit(error: &AuditError, report: &ApplyReport, destination: Option<&str>) -> String {
    let committed: Vec<String> = report
        .clusters
        .iter()
        .filter(|c| c.committed || c.roles_unknown)
        .map(|c| match c.committed {
            true => c.cluster.to_string(),
            false => format!("{} (perhaps: its COMMIT got no answer)", c.cluster),
        })
        .collect();
    let mut text = format!(
        "{error}; the run stopped after changes committed on {} (audit run {}: `pgroster audit \
         --run {}` tells what committed)",
        committed.join(", "),
        report.run,
        report.run
    );
    if let Some(destination) = destination {
        text.push_str(&format!(
            "; the generated passwords of those clusters are live and were delivered to \
             {destination} before the commit"
        ));
    }
    text
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

    /// Roles created, changed (PUBLIC among them) and dropped, over the clusters whose
    /// changes committed.
    pub fn role_counts(&self) -> (usize, usize, usize) {
        self.clusters.iter().fold((0, 0, 0), |(a, c, d), r| {
            (a + r.added, c + r.changed, d + r.destroyed)
        })
    }

    /// The generated passwords that are now live: role changes commit first, so a cluster's
    /// passwords are live once its role changes committed, even when a database's grants
    /// failed afterwards. `prepared` is what this report's run executed.
    /// A cluster whose role transaction's fate is unknown (its COMMIT got no answer) counts as
    /// live: its passwords must not be withdrawn on a guess (`audit --run` resolves it).
    pub fn live_credentials<'a>(
        &'a self,
        prepared: &'a Prepared<'_>,
    ) -> impl Iterator<Item = &'a GeneratedCredential> {
        prepared
            .clusters
            .iter()
            .zip(&self.clusters)
            .filter(|(_, outcome)| outcome.roles_committed || outcome.roles_unknown)
            .flat_map(|(cluster, _)| &cluster.credentials)
    }
}

#[derive(Debug)]
pub struct ClusterReport {
    pub cluster: ClusterKey,
    /// Whether the role changes committed: passwords set there are live.
    pub roles_committed: bool,
    /// Whether the role transaction's COMMIT got no answer, so it may have committed.
    pub roles_unknown: bool,
    /// Whether any of the cluster's transactions committed.
    pub committed: bool,
    /// Roles created and roles changed, counted when the role changes committed; PUBLIC counts
    /// as changed once per database whose changes to it committed.
    pub added: usize,
    pub changed: usize,
    /// Roles dropped: counted when the drops committed.
    pub destroyed: usize,
    pub failures: Vec<UnitFailure>,
}

impl ClusterReport {
    fn new(cluster: ClusterKey) -> ClusterReport {
        ClusterReport {
            cluster,
            roles_committed: false,
            roles_unknown: false,
            committed: false,
            added: 0,
            changed: 0,
            destroyed: 0,
            failures: Vec::new(),
        }
    }

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
    /// The COMMIT got no answer: the unit may have committed.
    pub commit_unknown: bool,
    pub message: String,
}

impl fmt::Display for UnitFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.cluster, self.message)?;
        if self.commit_unknown {
            return f.write_str(
                "; whether its changes committed is unknown: `pgroster audit --run` asks the \
                 server, and its generated passwords were kept",
            );
        }
        match &self.statement {
            Some((statement, role)) => {
                write!(f, " while running `{statement}` for role \"{role}\"")?;
            }
            None => f.write_str(" (the failing statement could not be identified)")?,
        }
        match &self.kind {
            UnitKind::Roles => f.write_str("; its role changes were rolled back"),
            UnitKind::Markers => f.write_str(
                "; its markers (the next apply adopts and marks those roles again) were rolled back",
            ),
            UnitKind::Privileges(db) => {
                write!(f, "; its privilege changes in database {db} were rolled back")
            }
            UnitKind::Sessions => f.write_str(
                "; the sessions of the roles being dropped were not all ended (they can no \
                 longer log in; the next apply ends them and finishes the drop)",
            ),
            UnitKind::Drops => f.write_str(
                "; the roles stay, unable to log in, until the next apply finishes the drop",
            ),
        }
    }
}

/// Who runs an apply and how: what the audit log records, how many clusters at once, and whom
/// to tell as changes run.
pub struct RunAs<'a> {
    pub actor: &'a str,
    pub command: &'a str,
    pub parallelism: usize,
    pub progress: &'a dyn Progress,
}

/// Runs every prepared cluster as one audit run by `actor` for `command`: starts the run,
/// delivers its generated passwords through `deliver`, then runs the clusters, up to
/// `parallelism` at once (each is network round trips; a fleet over a WAN waits mostly on
/// them), recording each change before it runs and its outcome after. A failing cluster does
/// not stop the others. An audit log error stops the run at once: no statement runs that the
/// log does not hold. The report lists the clusters in the plan's order, whichever finished
/// first.
pub fn run<E: Executor + Send>(
    prepared: &Prepared<'_>,
    executors: &mut BTreeMap<ClusterKey, E>,
    audit: &mut AuditLog,
    deliver: &mut dyn Deliver,
    how: &RunAs<'_>,
) -> Result<ApplyReport, ApplyError> {
    let run = audit
        .start_run(how.actor, how.command)
        .map_err(ApplyError::Audit)?;
    fault::point("run started");
    let credentials: Vec<&GeneratedCredential> = prepared
        .clusters
        .iter()
        .flat_map(|c| &c.credentials)
        .collect();
    let destination = (!credentials.is_empty()).then(|| deliver.destination());
    if !credentials.is_empty() {
        if let Err(error) = deliver.deliver(&run, &credentials) {
            // The delivery error is the one to report; the run's status is a courtesy.
            let _ = audit.finish_run(&run, false);
            return Err(ApplyError::Delivery { run, error });
        }
        fault::point("delivered");
    }
    let audit = Mutex::new(audit);
    how.progress.applying(
        prepared
            .clusters
            .iter()
            .flat_map(|c| &c.units)
            .map(|u| u.changes.len())
            .sum(),
    );
    let (clusters, audit_error) = run_clusters(prepared, executors, &audit, &run, how);
    let report = ApplyReport {
        run,
        clusters,
        not_run: prepared.not_run.clone(),
    };
    let audit = audit.into_inner().unwrap_or_else(PoisonError::into_inner);
    let stopped = |error: AuditError, report: ApplyReport| {
        if report
            .clusters
            .iter()
            .any(|c| c.committed || c.roles_unknown)
        {
            ApplyError::AuditAfterCommit {
                error,
                report: Box::new(report),
                destination: destination.clone(),
            }
        } else {
            ApplyError::Audit(error)
        }
    };
    if let Some(error) = audit_error {
        return Err(stopped(error, report));
    }
    let ok = report.failed_clusters() == 0;
    if let Err(error) = audit.finish_run(&report.run, ok) {
        return Err(stopped(error, report));
    }
    fault::point("run finished");
    Ok(report)
}

/// Every prepared cluster run by up to `parallelism` workers (`fleet::in_parallel`, as the
/// reads); the reports in plan order, and the first audit error, after which no worker starts
/// another cluster or unit.
fn run_clusters<E: Executor + Send>(
    prepared: &Prepared<'_>,
    executors: &mut BTreeMap<ClusterKey, E>,
    audit: &Mutex<&mut AuditLog>,
    run: &RunId,
    how: &RunAs<'_>,
) -> (Vec<ClusterReport>, Option<AuditError>) {
    let mut by_key: BTreeMap<&ClusterKey, &mut E> = executors.iter_mut().collect();
    let jobs: Vec<(&ClusterKey, (&PreparedCluster, Option<&mut E>))> = prepared
        .clusters
        .iter()
        .map(|cluster| {
            let executor = by_key.remove(&cluster.cluster);
            (&cluster.cluster, (cluster, executor))
        })
        .collect();
    let first_error: Mutex<Option<AuditError>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let failed = |cluster: &ClusterKey, message: &str| {
        let mut report = ClusterReport::new(cluster.clone());
        report.failures.push(UnitFailure {
            cluster: cluster.clone(),
            kind: UnitKind::Roles,
            statement: None,
            commit_unknown: false,
            message: message.into(),
        });
        Some(report)
    };
    let mut reports = in_parallel(
        jobs,
        how.parallelism,
        |key, (cluster, executor)| {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            let Some(executor) = executor else {
                return failed(key, "no connection to the cluster");
            };
            let mut report = ClusterReport::new(key.clone());
            let outcome = run_cluster(
                cluster,
                executor,
                audit,
                run,
                &mut report,
                &stop,
                how.progress,
            );
            if let Err(error) = outcome {
                stop.store(true, Ordering::SeqCst);
                first_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(error);
            }
            Some(report)
        },
        |key| failed(key, "applying this cluster panicked"),
    );
    let reports = prepared
        .clusters
        .iter()
        .filter_map(|c| reports.remove(&c.cluster).flatten())
        .collect();
    (
        reports,
        first_error
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner),
    )
}

fn run_cluster(
    cluster: &PreparedCluster<'_>,
    executor: &mut impl Executor,
    audit: &Mutex<&mut AuditLog>,
    run: &RunId,
    report: &mut ClusterReport,
    stop: &AtomicBool,
    progress: &dyn Progress,
) -> Result<(), AuditError> {
    // One writer at a time: the log is one connection (a SQLite file or the sink's session).
    let log = || audit.lock().unwrap_or_else(PoisonError::into_inner);
    let mut roles_failed = false;
    for unit in &cluster.units {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        if unit.changes.is_empty() {
            report.roles_committed |= unit.kind == UnitKind::Roles;
            continue;
        }
        let records: Vec<ChangeRecord> = unit
            .changes
            .iter()
            .map(|change| change.audit_record(&cluster.cluster))
            .collect();
        let ids = log().record_started(run, &records)?;
        drop(records);
        fault::point("changes recorded");
        let outcomes: Vec<(i64, Outcome)> = if roles_failed {
            let not_run = Outcome::RolledBack("not run: the cluster's role changes failed".into());
            ids.iter().map(|id| (*id, not_run.clone())).collect()
        } else {
            let mut audit_error = None;
            let result = {
                let mut opened = |xid: &str| {
                    log().record_xid(&ids, xid).map_err(|e| {
                        audit_error = Some(e);
                    })?;
                    fault::point("transaction id recorded");
                    Ok(())
                };
                executor.execute(&cluster.cluster, unit, &mut opened)
            };
            if let Some(error) = audit_error {
                return Err(error);
            }
            let is_roles = unit.kind == UnitKind::Roles;
            match &result {
                Ok(()) => {
                    report.committed = true;
                    report.roles_committed |= is_roles;
                    // PUBLIC counts once per database whose changes committed, as in the plan.
                    let public = |c: &PreparedChange| matches!(c.grantee, Grantee::Public(_));
                    if unit.changes.iter().any(public) {
                        report.changed += 1;
                    }
                    if unit.kind == UnitKind::Drops {
                        report.destroyed += unit.changes.len();
                    }
                }
                Err(error) => {
                    roles_failed |= is_roles;
                    report.roles_unknown |= is_roles && error.commit_unknown;
                }
            }
            let outcomes = outcomes(&cluster.cluster, &ids, &result);
            if let Err(error) = result {
                report.failures.push(failure(&cluster.cluster, unit, error));
            }
            outcomes
        };
        log().record_outcomes(&outcomes)?;
        fault::point("outcomes recorded");
        progress.applied(unit.changes.len());
    }
    if report.roles_committed {
        for role in cluster.roles {
            match role.action {
                crate::plan::RoleAction::Create => report.added += 1,
                crate::plan::RoleAction::Destroy => {}
                _ => report.changed += 1,
            }
        }
    }
    Ok(())
}

/// Each change's outcome once its unit gave `result`: the failing change failed, the others
/// of the unit were rolled back with it. When the failing change is not known, every change
/// is rolled back with the real message, none blamed. When the COMMIT got no answer, nothing
/// is recorded: the changes stay `started` with their transaction id, for `audit --run`.
fn outcomes(
    cluster: &ClusterKey,
    ids: &[i64],
    result: &Result<(), ExecuteError>,
) -> Vec<(i64, Outcome)> {
    if matches!(result, Err(e) if e.commit_unknown) {
        return Vec::new();
    }
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            let outcome = match result {
                Ok(()) => Outcome::Ok,
                Err(e) if e.failed_index == Some(i) => Outcome::Failed(e.message.clone()),
                Err(e) if e.failed_index.is_none() => Outcome::RolledBack(format!(
                    "{} (the failing statement could not be identified)",
                    e.message
                )),
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
            .map(|c| (c.statement().to_string(), c.grantee.name())),
        commit_unknown: error.commit_unknown,
        message: error.message,
    }
}

#[cfg(test)]
mod tests;
