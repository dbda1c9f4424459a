//! `pgroster reset ROLE --target env/db`: an immediate, audited password reset.

use crate::cli::args::ResetArgs;
use crate::cli::credentials;
use crate::cli::output::Output;
use crate::cli::{context, EXIT_ERROR, EXIT_OK};
use anyhow::{bail, Context as _, Result};
use pgroster::apply::{
    self, generate_password, scram_verifier, GeneratedCredential, PreparedChange, Unit, UnitKind,
};
use pgroster::audit::{AuditLog, ChangeRecord, Outcome};
use pgroster::catalog;
use pgroster::model::RoleName;
use pgroster::plan::{Change, PasswordSource, RoleAction, RolePlan};
use pgroster::registry::parse_target;
use std::path::Path;

pub fn run(config: &Path, args: &ResetArgs, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let target = parse_target(&args.target).map_err(anyhow::Error::msg)?;
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
    let delivery = credentials::prepare(
        1,
        args.credentials_out.as_deref(),
        output.stdout_is_terminal,
    )?;
    let mut audit = AuditLog::open(&ctx.config.audit_log_path())?;
    let run = audit.start_run(&context::actor(), "reset")?;
    let detail = "~ password = (sensitive, generated; immediate reset)".to_string();
    let ids = audit.record_started(
        &run,
        &[ChangeRecord {
            env: target.env.clone(),
            database: target.database.clone(),
            host: entry.cluster.host.clone(),
            port: entry.cluster.port,
            role: role.to_string(),
            action: "reset_password".into(),
            detail,
        }],
    )?;
    let password = generate_password();
    // Through apply's executor: the same advisory lock, transaction and WARNING check as a plan.
    // A plan of one change, so that it runs as any planned password reset does.
    let reset = RolePlan {
        role: role.clone(),
        action: RoleAction::Update,
        profile: None,
        targets: vec![target.clone()],
        changes: vec![Change::ResetPassword {
            password: PasswordSource::Generated,
            from_rotation: None,
            to_rotation: None,
        }],
    };
    let verifier = scram_verifier(&password);
    let unit = Unit {
        kind: UnitKind::Roles,
        changes: reset
            .changes
            .iter()
            .map(|change| PreparedChange::new(&reset, change, Some(verifier.clone())))
            .collect(),
    };
    let result = apply::execute(&mut client, &unit).map_err(|e| e.message);
    let outcome = match &result {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Failed(e.clone()),
    };
    audit.record_outcomes(
        &ids.iter()
            .map(|id| (*id, outcome.clone()))
            .collect::<Vec<_>>(),
    )?;
    audit.finish_run(&run, result.is_ok())?;
    if let Err(e) = result {
        bail!(
            "resetting the password of \"{role}\" on {} failed: {e}",
            entry.cluster
        );
    }
    let delivered = credentials::deliver(
        delivery,
        &[GeneratedCredential {
            role: role.clone(),
            targets: vec![target.clone()],
            cluster: entry.cluster.clone(),
            password,
        }],
    )?;
    output.print(&format!(
        "Password of \"{role}\" on {} reset. Audit run {run}.",
        entry.cluster
    ));
    output.print(&delivered);
    Ok(EXIT_OK)
}
