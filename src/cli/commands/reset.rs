//! `pgroster reset ROLE --target env/db`: lock and read the target -> reset plan -> confirm -> run
//! (delivering the password before it commits) -> settle, through the same apply stage as any
//! plan.

use crate::cli::args::ResetArgs;
use crate::cli::credentials;
use crate::cli::output::Output;
use crate::cli::{context, EXIT_ERROR, EXIT_OK};
use anyhow::{bail, Result};
use pgroster::apply;
use pgroster::fleet::ClusterConnections;
use pgroster::model::RoleName;
use pgroster::plan::reset;
use pgroster::progress::Silent;
use std::collections::BTreeMap;
use std::path::Path;

pub fn run(config: &Path, args: &ResetArgs, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let (target, entry) = ctx.find_target(&args.target)?;
    if !entry.active {
        bail!("target {target} is inactive in the registry");
    }
    let role = RoleName::existing(args.role.clone());
    reset::refuse_ignored(&role, &ctx.lowered.ignore_roles)?;
    let lock = ctx.lock_cluster(&entry.cluster, output)?;
    let (connection, current) = ctx.read_target(&target, entry)?;
    let declared = ctx
        .lowered
        .desired
        .get(&entry.cluster)
        .is_some_and(|c| c.roles.contains_key(&role));
    let plan = reset::reset_plan(
        &role,
        &target,
        &entry.cluster,
        &entry.cluster_name,
        &current,
        declared,
    )?;
    let on: Vec<String> = plan.clusters.iter().map(|c| c.label()).collect();
    let question = format!("Reset the password of \"{role}\" on {}?", on.join(", "));
    let prepared = apply::prepare(&plan, &context::env_var)?;
    let mut delivery = credentials::prepare(
        prepared.generated_passwords(),
        args.credentials_out.as_deref(),
        ctx.lowered.deliver_command.as_ref(),
        output,
    )?;
    if !output.approve(args.auto_approve, "reset", &question)? {
        return Ok(EXIT_ERROR);
    }
    let mut connections = BTreeMap::from([(
        entry.cluster.clone(),
        ClusterConnections {
            by_database: BTreeMap::from([(target.database.clone(), connection)]),
            role_database: target.database.clone(),
            lock: Some(lock),
            unreachable: BTreeMap::new(),
        },
    )]);
    let mut audit = ctx.audit_log.open()?;
    let result = apply::run(
        &prepared,
        &mut connections,
        &mut audit,
        &mut delivery,
        &apply::RunAs {
            actor: &context::actor(),
            command: "reset",
            parallelism: 1,
            progress: &Silent,
        },
    );
    let (report, delivered) = credentials::settle_run(delivery, &prepared, result)?;
    if let Some(failure) = report.clusters.iter().flat_map(|c| &c.failures).next() {
        bail!(
            "resetting the password of \"{role}\" on {} failed: {}\n{}",
            entry.cluster,
            failure.message,
            delivered.trim_end()
        );
    }
    output.print(&format!(
        "Password of \"{role}\" on {} reset. Audit run {}.",
        entry.cluster, report.run
    ));
    output.print(&delivered);
    Ok(EXIT_OK)
}
