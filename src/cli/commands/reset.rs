//! `pgroster reset ROLE --target env/db`: an immediate, audited password reset.

use crate::cli::args::ResetArgs;
use crate::cli::credentials;
use crate::cli::output::Output;
use crate::cli::{context, EXIT_ERROR, EXIT_OK};
use anyhow::{bail, Context as _, Result};
use pgroster::apply::{self, Prepared};
use pgroster::audit::AuditLog;
use pgroster::catalog;
use pgroster::fleet::ClusterConnections;
use pgroster::model::RoleName;
use pgroster::plan::{Change, ClusterPlan, PasswordSource, RoleAction, RolePlan};
use pgroster::registry::parse_target;
use std::collections::BTreeMap;
use std::path::Path;

pub fn run(config: &Path, args: &ResetArgs, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let target = parse_target(&args.target)?;
    let entry = ctx
        .lowered
        .registry
        .find(&target)
        .with_context(|| format!("target {target} is not in the registry"))?;
    if !entry.active {
        bail!("target {target} is inactive in the registry");
    }
    let role = RoleName::existing(args.role.clone());
    if let Some(glob) = ctx
        .lowered
        .ignore_roles
        .iter()
        .find(|g| g.matches(role.as_str()))
    {
        bail!(
            "role \"{role}\" matches ignore_roles pattern `{}`; pgroster never touches it",
            glob.text
        );
    }
    let mut client = ctx.connector.connect(&entry.cluster, &target.database)?;
    let current =
        catalog::read_cluster(&mut client).with_context(|| format!("reading {}", entry.cluster))?;
    let Some(existing) = current.roles.get(&role) else {
        bail!(
            "role \"{role}\" does not exist on {} (target {target})",
            entry.cluster
        );
    };
    let declared = ctx
        .lowered
        .desired
        .get(&entry.cluster)
        .is_some_and(|c| c.roles.contains_key(&role));
    if existing.marker().is_none() && !declared {
        bail!(
            "role \"{role}\" on {} is not managed by pgroster; declare it first",
            entry.cluster
        );
    }
    if !existing.attributes.login {
        bail!("role \"{role}\" cannot log in (NOLOGIN); it has no use for a password");
    }
    if !args.auto_approve {
        if !output.stdin_is_terminal {
            bail!("reset needs --auto-approve when stdin is not a terminal (nothing was changed)");
        }
        if !output.confirm(&format!(
            "Reset the password of \"{role}\" on {}?",
            entry.cluster
        )) {
            output.print("Reset cancelled; nothing was changed.");
            return Ok(EXIT_ERROR);
        }
    }
    // A plan of one change, run as any planned password reset is: audited, under the lock.
    let plan = ClusterPlan {
        cluster: entry.cluster.clone(),
        targets: vec![target.clone()],
        server_version_num: None,
        roles: vec![RolePlan {
            role: role.clone(),
            action: RoleAction::Update,
            profile: None,
            targets: vec![target.clone()],
            changes: vec![Change::ResetPassword {
                password: PasswordSource::Generated,
                from_rotation: None,
                to_rotation: None,
            }],
        }],
        notes: Vec::new(),
        errors: Vec::new(),
    };
    let prepared = Prepared {
        clusters: vec![apply::prepare_cluster(&plan, &context::lookup_env)?],
        not_run: Vec::new(),
    };
    let delivery = credentials::prepare(
        prepared.generated_passwords(),
        args.credentials_out.as_deref(),
        output.stdout_is_terminal,
    )?;
    let mut connections = BTreeMap::from([(
        entry.cluster.clone(),
        ClusterConnections {
            by_database: BTreeMap::from([(target.database.clone(), client)]),
            role_database: target.database.clone(),
        },
    )]);
    let mut audit = AuditLog::open(&ctx.audit_log)?;
    let report = apply::run(
        &prepared,
        &mut connections,
        &mut audit,
        &context::actor(),
        "reset",
    )?;
    if let Some(failure) = report.clusters.iter().flat_map(|c| &c.failures).next() {
        bail!(
            "resetting the password of \"{role}\" on {} failed: {}",
            entry.cluster,
            failure.message
        );
    }
    let delivered = credentials::deliver(
        delivery,
        prepared.clusters.iter().flat_map(|c| &c.credentials),
    )?;
    output.print(&format!(
        "Password of \"{role}\" on {} reset. Audit run {}.",
        entry.cluster, report.run
    ));
    output.print(&delivered);
    Ok(EXIT_OK)
}
