//! Runs one cluster's changes in one transaction, under an advisory lock.
//!
//! `prepare` turns a cluster's plan into statements in phase order and obtains the passwords
//! (generated here with the OS CSPRNG, or read from the declared environment variables), sent
//! only as SCRAM-SHA-256 verifiers. `execute` runs them; a failure rolls the whole cluster back.

mod password;

pub use password::{generate_password, scram_verifier, scram_verifiers};

use crate::connection::{describe_error, Connection};
use crate::model::{ClusterKey, RoleName, Secret, TargetName};
use crate::plan::{phase, Change, ClusterPlan, PasswordSource, Phase, RolePlan};
use crate::render::ddl::{self, Statement};

/// One change ready to run: the plan's change, where it runs, and its verifier. The statement
/// and the audit detail are written when they are needed, not held: at 10,000 roles holding
/// them for every change took ~12 MB.
#[derive(Debug)]
pub struct PreparedChange<'p> {
    /// Where in its transaction the change runs (see `plan::order`).
    pub phase: Phase,
    pub role: &'p RolePlan,
    pub change: &'p Change,
    /// The SCRAM verifier of a change that sets a password.
    verifier: Option<Secret>,
}

impl<'p> PreparedChange<'p> {
    /// `verifier`: the SCRAM verifier when `change` sets a password.
    pub fn new(role: &'p RolePlan, change: &'p Change, verifier: Option<Secret>) -> Self {
        PreparedChange {
            phase: phase(change),
            role,
            change,
            verifier,
        }
    }

    pub fn statement(&self) -> Statement {
        ddl::statement(&self.role.role, self.change, self.verifier.as_ref())
    }

    pub fn action(&self) -> &'static str {
        self.change.action_name()
    }

    /// What the audit log says about the change; never a secret.
    pub fn detail(&self) -> String {
        crate::render::text::change_detail(self.change)
    }

    /// The target an audit row names: the database a setting is scoped to, else the role's
    /// first.
    pub fn target(&self) -> Option<&TargetName> {
        let targets = &self.role.targets;
        let database = match self.change {
            Change::SetSetting { scope, .. } | Change::ResetSetting { scope, .. } => match scope {
                crate::model::SettingScope::Database(db) => Some(db.as_str()),
                crate::model::SettingScope::AllDatabases => None,
            },
            other => other.database(),
        };
        database
            .and_then(|db| targets.iter().find(|t| t.database == db))
            .or_else(|| targets.first())
    }
}

/// A password generated during this apply, to be delivered once.
#[derive(Debug)]
pub struct GeneratedCredential {
    pub role: RoleName,
    pub targets: Vec<TargetName>,
    pub cluster: ClusterKey,
    pub password: Secret,
}

/// Changes that run in one transaction over one connection.
#[derive(Debug)]
pub struct Unit<'p> {
    pub kind: UnitKind,
    pub changes: Vec<PreparedChange<'p>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitKind {
    /// Every role change of the cluster but the markers, over the role connection.
    Roles,
    /// A batch of marker comments, after the roles committed, over the role connection.
    Markers,
    /// Privilege changes, over that database's connection.
    Privileges(String),
}

impl UnitKind {
    /// The database whose connection runs the unit; `None`: the cluster's role connection.
    pub fn database(&self) -> Option<&str> {
        match self {
            UnitKind::Privileges(database) => Some(database),
            UnitKind::Roles | UnitKind::Markers => None,
        }
    }
}

/// Markers per transaction. COMMENT ON ROLE locks the role until commit, and one transaction
/// marking 100,000 roles exhausts the lock table ("out of shared memory"; its default size is
/// 64 locks x 100 connections). The first markers commit with the role changes, so a typical
/// apply marks its roles atomically; the rest follow in batches right after. A marker is
/// idempotent state, so the batches lose nothing: a role left unmarked by an interrupted run is
/// shown as adopt and marked by the next apply.
const MARKERS_PER_TRANSACTION: usize = 2000;

#[derive(Debug)]
pub struct PreparedCluster<'p> {
    pub cluster: ClusterKey,
    /// Role changes first, then one unit per database with privilege changes.
    pub units: Vec<Unit<'p>>,
    pub credentials: Vec<GeneratedCredential>,
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("role \"{role}\" on {cluster}: the password variable {var} is not set or empty")]
    MissingPasswordVar {
        role: RoleName,
        cluster: ClusterKey,
        var: String,
    },
}

/// Why a cluster's transaction was rolled back.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ExecuteError {
    /// The change that failed, when it could be pinned down.
    pub failed_index: Option<usize>,
    pub message: String,
}

pub fn prepare<'p>(
    plan: &'p ClusterPlan,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PreparedCluster<'p>, PrepareError> {
    // First the passwords each change sets, then their verifiers all at once: each verifier
    // costs 4096 PBKDF2 rounds, so they are computed on every core.
    let mut passwords: Vec<Option<Secret>> = Vec::new();
    let mut credentials = Vec::new();
    for role in &plan.roles {
        for change in &role.changes {
            let source = match change {
                Change::CreateRole { password, .. } => password.as_ref(),
                Change::ResetPassword { password, .. } => Some(password),
                _ => None,
            };
            passwords.push(match source {
                None => None,
                Some(PasswordSource::Generated) => {
                    let password = generate_password();
                    credentials.push(GeneratedCredential {
                        role: role.role.clone(),
                        targets: role.targets.clone(),
                        cluster: plan.cluster.clone(),
                        password: password.clone(),
                    });
                    Some(password)
                }
                Some(PasswordSource::Env { var }) => {
                    let value = env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                        PrepareError::MissingPasswordVar {
                            role: role.role.clone(),
                            cluster: plan.cluster.clone(),
                            var: var.clone(),
                        }
                    })?;
                    Some(Secret::new(value))
                }
            });
        }
    }
    let mut verifiers = scram_verifiers(&passwords).into_iter();
    drop(passwords);
    // Each change goes straight into its unit, sized up front.
    let role_level = plan
        .roles
        .iter()
        .flat_map(|r| &r.changes)
        .filter(|c| c.database().is_none())
        .count();
    let mut roles = Unit {
        kind: UnitKind::Roles,
        changes: Vec::with_capacity(role_level),
    };
    let mut privileges: Vec<Unit> = Vec::new();
    for role in &plan.roles {
        for change in &role.changes {
            let verifier = verifiers.next().flatten();
            let prepared = PreparedChange::new(role, change, verifier);
            match change.database() {
                None => roles.changes.push(prepared),
                Some(database) => {
                    match privileges
                        .iter_mut()
                        .find(|u| u.kind.database() == Some(database))
                    {
                        Some(unit) => unit.changes.push(prepared),
                        None => privileges.push(Unit {
                            kind: UnitKind::Privileges(database.to_string()),
                            changes: vec![prepared],
                        }),
                    }
                }
            }
        }
    }
    // A stable sort: within a phase, changes keep the plan's (sorted) order.
    roles.changes.sort_by_key(|c| c.phase);
    for unit in &mut privileges {
        unit.changes.sort_by_key(|c| c.phase);
    }
    // Markers sort last; those past the first MARKERS_PER_TRANSACTION get transactions of
    // their own.
    let first_marker = roles.changes.partition_point(|c| c.phase < Phase::Mark);
    let batched = roles
        .changes
        .split_off((first_marker + MARKERS_PER_TRANSACTION).min(roles.changes.len()));
    let mut units = vec![roles];
    let mut batched = batched.into_iter().peekable();
    while batched.peek().is_some() {
        units.push(Unit {
            kind: UnitKind::Markers,
            changes: batched.by_ref().take(MARKERS_PER_TRANSACTION).collect(),
        });
    }
    units.extend(privileges);
    Ok(PreparedCluster {
        cluster: plan.cluster.clone(),
        units,
        credentials,
    })
}

/// Statements per round trip: large enough that 10,000 roles take a handful of round trips,
/// small enough that a failing batch is quick to narrow down. Also the audit log's unit of
/// write-ahead: a batch is sent once its rows are recorded.
pub const BATCH: usize = 500;

/// Runs a unit's changes in one transaction. A server error or WARNING rolls it back; the
/// changes are then replayed one by one in a second transaction, also rolled back, to name the
/// statement at fault.
pub fn execute(connection: &mut Connection, unit: &Unit<'_>) -> Result<(), ExecuteError> {
    execute_recorded(connection, unit, |_| true)
}

/// `execute`, sending no statement before `recorded(n)` has confirmed that the first `n`
/// changes are in the audit log, so that recording the next batch overlaps with running this
/// one. `recorded` returning false (the log failed) rolls the unit back.
pub fn execute_recorded(
    connection: &mut Connection,
    unit: &Unit<'_>,
    mut recorded: impl FnMut(usize) -> bool,
) -> Result<(), ExecuteError> {
    if unit.changes.is_empty() {
        return Ok(());
    }
    let lock = ddl::begin_locked();
    connection.take_warnings();
    let mut sent = 0;
    let mut run = |connection: &mut Connection| -> Result<(), String> {
        connection
            .batch_execute(lock)
            .map_err(|e| describe_error(&e))?;
        for chunk in unit.changes.chunks(BATCH) {
            sent += chunk.len();
            if !recorded(sent) {
                return Err("the audit log could not record the changes".into());
            }
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
    // Replaying sends every statement again, so only what the log holds is replayed.
    let failed_index = if recorded(unit.changes.len()) {
        locate_failure(connection, unit, lock)
    } else {
        None
    };
    Err(ExecuteError {
        failed_index,
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
