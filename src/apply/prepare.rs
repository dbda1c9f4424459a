//! A plan -> units of statements ready to run, and the passwords they set.
//!
//! Passwords are generated here with the OS CSPRNG, or read from the declared environment
//! variables, and sent only as SCRAM-SHA-256 verifiers.

use super::password::{generate_password, scram_verifiers};
use crate::audit::ChangeRecord;
use crate::model::{ClusterKey, RoleName, Secret, TargetName};
use crate::plan::{phase, Change, ClusterPlan, PasswordSource, Phase, Plan, RolePlan};
use crate::render::ddl::{self, Statement};

/// Whose privileges a change is about.
#[derive(Debug, Clone, Copy)]
pub enum Grantee<'p> {
    Role(&'p RolePlan),
    /// PUBLIC under `public_privileges`, with the cluster's targets (for the audit log).
    Public(&'p [TargetName]),
}

impl Grantee<'_> {
    /// The name the audit log and failures give.
    pub fn name(&self) -> String {
        match self {
            Grantee::Role(role) => role.role.to_string(),
            Grantee::Public(_) => "PUBLIC".to_string(),
        }
    }

    fn targets(&self) -> &[TargetName] {
        match self {
            Grantee::Role(role) => &role.targets,
            Grantee::Public(targets) => targets,
        }
    }
}

/// One change ready to run: the plan's change, where it runs, and its verifier. The statement
/// and the audit detail are written when they are needed rather than held for every change.
#[derive(Debug)]
pub struct PreparedChange<'p> {
    /// Where in its transaction the change runs (see `plan::order`).
    pub phase: Phase,
    pub grantee: Grantee<'p>,
    pub change: &'p Change,
    /// The SCRAM verifier of a change that sets a password.
    verifier: Option<Secret>,
}

impl PreparedChange<'_> {
    /// Whether the change's statement carries a password verifier.
    pub(crate) fn sets_password(&self) -> bool {
        self.verifier.is_some()
    }

    pub(crate) fn statement(&self) -> Statement {
        match self.grantee {
            Grantee::Role(role) => ddl::statement(&role.role, self.change, self.verifier.as_ref()),
            Grantee::Public(_) => ddl::public_statement(self.change),
        }
    }

    /// What the audit log says about the change; never a secret.
    pub(crate) fn audit_record(&self, cluster: &ClusterKey) -> ChangeRecord {
        let target = self.target();
        ChangeRecord {
            env: target.map(|t| t.env.clone()).unwrap_or_default(),
            database: target.map(|t| t.database.clone()).unwrap_or_default(),
            host: cluster.host.clone(),
            port: cluster.port,
            role: self.grantee.name(),
            action: self.change.action_name().to_string(),
            detail: crate::render::text::change_detail(self.change),
        }
    }

    /// The target an audit row names: the database a setting is scoped to, else the role's
    /// first.
    fn target(&self) -> Option<&TargetName> {
        let targets = self.grantee.targets();
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
    /// Ending the sessions of roles being dropped, once their NOLOGIN committed.
    Sessions,
    /// DROP ROLE, over the role connection, after every database was cleaned.
    Drops,
}

impl UnitKind {
    /// The database whose connection runs the unit; `None`: the cluster's role connection.
    pub fn database(&self) -> Option<&str> {
        match self {
            UnitKind::Privileges(database) => Some(database),
            UnitKind::Roles | UnitKind::Markers | UnitKind::Sessions | UnitKind::Drops => None,
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
    /// The plan's roles, whose changes the units hold.
    pub roles: &'p [RolePlan],
    /// Role changes first (markers past the first batch after them), the sessions of roles
    /// being dropped, one unit per database with privilege changes, then the drops.
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

/// Every cluster of a plan that can run, prepared; the clusters with plan errors are not run.
#[derive(Debug)]
pub struct Prepared<'p> {
    pub clusters: Vec<PreparedCluster<'p>>,
    /// Clusters whose plan has errors: nothing of theirs runs, and the run counts them failed.
    pub not_run: Vec<ClusterKey>,
}

impl Prepared<'_> {
    /// How many passwords this apply generates, to be delivered.
    pub fn generated_passwords(&self) -> usize {
        self.clusters.iter().map(|c| c.credentials.len()).sum()
    }
}

/// Prepares every cluster of `plan` that has changes and no errors. Fails, before anything
/// runs, when a declared password's variable is missing.
pub fn prepare<'p>(
    plan: &'p Plan,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Prepared<'p>, PrepareError> {
    let clusters = plan
        .clusters
        .iter()
        .filter(|c| c.errors.is_empty() && (!c.roles.is_empty() || !c.public.is_empty()))
        .map(|c| prepare_cluster(c, env))
        .collect::<Result<_, _>>()?;
    let not_run = plan
        .clusters
        .iter()
        .filter(|c| !c.errors.is_empty())
        .map(|c| c.cluster.clone())
        .collect();
    Ok(Prepared { clusters, not_run })
}

fn prepare_cluster<'p>(
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
    let role_changes = plan.roles.iter().flat_map(|role| {
        role.changes
            .iter()
            .map(move |change| (Grantee::Role(role), change))
    });
    let public_changes = plan
        .public
        .iter()
        .map(|change| (Grantee::Public(&plan.targets), change));
    for (grantee, change) in role_changes.chain(public_changes) {
        let verifier = match grantee {
            Grantee::Role(_) => verifiers.next().flatten(),
            Grantee::Public(_) => None,
        };
        let prepared = PreparedChange {
            phase: phase(change),
            grantee,
            change,
            verifier,
        };
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
    // A stable sort: within a phase, changes keep the plan's (sorted) order.
    roles.changes.sort_by_key(|c| c.phase);
    // A drop's later steps run in transactions of their own (see `plan::order`).
    let after_roles = roles.changes.partition_point(|c| c.phase <= Phase::Mark);
    let (sessions, drops): (Vec<_>, Vec<_>) = roles
        .changes
        .split_off(after_roles)
        .into_iter()
        .partition(|c| c.phase == Phase::EndSessions);
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
    units.push(Unit {
        kind: UnitKind::Sessions,
        changes: sessions,
    });
    units.extend(privileges);
    units.push(Unit {
        kind: UnitKind::Drops,
        changes: drops,
    });
    units.retain(|u| u.kind == UnitKind::Roles || !u.changes.is_empty());
    Ok(PreparedCluster {
        cluster: plan.cluster.clone(),
        roles: &plan.roles,
        units,
        credentials,
    })
}
