//! `pgroster apply`: load -> lock and plan -> render -> confirm -> run (which delivers the generated
//! passwords before anything commits) -> settle the delivered passwords -> report (the plan and
//! the outcome also appended to a GitHub job summary). `apply FILE`
//! runs a saved plan instead, after the same lock and read, once `saved` finds the config and
//! every cluster it covers unchanged. Last, `[[notify]]` entries get the run's events.

use crate::cli::args::ApplyArgs;
use crate::cli::credentials;
use crate::cli::notifications;
use crate::cli::output::Output;
use crate::cli::progress;
use crate::cli::{context, step_summary, EXIT_ERROR, EXIT_OK};
use anyhow::{Context as _, Result};
use pgroster::apply::{self, RunAs};
use pgroster::fleet::{open_databases, plan_fleet, ClusterConnections, Fingerprints, Fleet};
use pgroster::model::policy::Mode;
use pgroster::model::ClusterKey;
use pgroster::plan::Plan;
use pgroster::registry::TargetGlob;
use pgroster::render;
use pgroster::render::text::Detail;
use pgroster::saved::{ReadNow, SavedPlan};
use std::collections::BTreeMap;
use std::path::Path;

pub fn run(config: &Path, args: &ApplyArgs, output: &Output) -> Result<i32> {
    if let Some(path) = &args.saved_plan {
        return run_saved(config, path, args, output);
    }
    let mut ctx = context::load(config)?;
    ctx.override_mode(args.mode);
    ctx.override_parallelism(args.parallelism);
    let selection = ctx.selection(&args.selection.targets)?;
    let mut fleet = read_locked(&mut ctx, &selection, Fingerprints::Skip, output);
    let plan = &fleet.plan;
    output.print_streamed(|out| render::text::write_plan(out, plan, output.color));
    step_summary::append(|| render::markdown::plan(plan, Detail::Full), output);
    super::report_plan_errors(plan, output);
    execute(&ctx, plan, &mut fleet.connections, args, output)
}

/// `apply FILE`: refused, before any cluster is contacted, for a plan with errors or a changed
/// config; then every cluster is locked and read as `apply` does, and refused unless each
/// reads as it did at plan time. Only then does the saved plan run.
fn run_saved(config: &Path, path: &Path, args: &ApplyArgs, output: &Output) -> Result<i32> {
    let refused = "apply refused, nothing was changed";
    let saved = SavedPlan::read(path).context(refused)?;
    saved.check_runnable().context(refused)?;
    let mut ctx = context::load(config)?;
    ctx.override_parallelism(args.parallelism);
    // The plan is made again under the lock in the mode it was saved in.
    ctx.lowered.policy.mode = saved.plan.mode;
    saved.check_config(&ctx.config_digest).context(refused)?;
    let selection = ctx.selection(&saved.selection)?;
    let mut fleet = read_locked(&mut ctx, &selection, Fingerprints::Take, output);
    saved
        .check(&ReadNow {
            config: &ctx.config_digest,
            plan: &fleet.plan,
            fingerprints: &fleet.fingerprints,
        })
        .context(refused)?;
    output.notice(&format!(
        "{}: made {}; the config and its {} cluster(s) read as they did then",
        path.display(),
        saved.made_at,
        saved.clusters.len()
    ));
    let plan = &saved.plan;
    output.print_streamed(|out| render::text::write_plan(out, plan, output.color));
    step_summary::append(|| render::markdown::plan(plan, Detail::Full), output);
    execute(&ctx, plan, &mut fleet.connections, args, output)
}

/// Every selected cluster locked, read and planned, telling `output` which one is waited for.
/// The desired roles are then freed: the run works from the plan alone, and at thousands of
/// roles both together are most of the process's memory.
fn read_locked(
    ctx: &mut context::Context,
    selection: &[TargetGlob],
    fingerprints: Fingerprints,
    output: &Output,
) -> Fleet {
    let on_wait = |message: &str| output.notice(message);
    let progress = progress::for_output(output);
    let fleet = plan_fleet(
        &ctx.lowered,
        &ctx.connector,
        selection,
        ctx.locking(&on_wait),
        fingerprints,
        progress.as_ref(),
    );
    ctx.lowered.desired.clear();
    fleet
}

/// Confirms and runs `plan` over the connections (and locks) of the clusters that were read.
fn execute(
    ctx: &context::Context,
    plan: &Plan,
    connections: &mut BTreeMap<ClusterKey, ClusterConnections>,
    args: &ApplyArgs,
    output: &Output,
) -> Result<i32> {
    if !plan.has_changes() {
        return Ok(if plan.has_errors() {
            EXIT_ERROR
        } else {
            EXIT_OK
        });
    }
    // Everything that can fail without touching a cluster happens before the question.
    let max_destroy = ctx.lowered.drops.max_destroy;
    let beyond = plan.destroys_beyond(max_destroy);
    if !beyond.is_empty() && !args.allow_destroy {
        let clusters: Vec<String> = beyond
            .iter()
            .map(|(cluster, drops)| format!("{drops} on {cluster}"))
            .collect();
        output.error(&format!(
            "the plan drops more roles than max_destroy ({max_destroy}) allows on one cluster: \
             {}; nothing was changed. Check that no config file was renamed or deleted by \
             mistake, then apply with --allow-destroy (or raise max_destroy)",
            clusters.join(", ")
        ));
        return Ok(EXIT_ERROR);
    }
    let prepared = apply::prepare(plan, &context::env_var)?;
    let mut delivery = credentials::prepare(
        prepared.generated_passwords(),
        args.credentials_out.as_deref(),
        ctx.lowered.deliver_command.as_ref(),
        output,
    )?;
    if !output.approve(
        args.auto_approve,
        "apply",
        "Do you want to perform these actions?",
    )? {
        return Ok(EXIT_ERROR);
    }
    let mut audit = ctx.audit_log.open()?;
    open_databases(plan, connections, &ctx.connector, ctx.lowered.parallelism);
    let actor = context::actor();
    let command = match plan.mode {
        Mode::Authoritative => "apply",
        Mode::Additive => "apply --mode additive",
    };
    let progress = progress::for_output(output);
    let result = apply::run(
        &prepared,
        connections,
        &mut audit,
        &mut delivery,
        &RunAs {
            actor: &actor,
            command,
            parallelism: ctx.lowered.parallelism,
            progress: progress.as_ref(),
        },
    );
    drop(progress);
    let (report, delivered) = credentials::settle_run(delivery, &prepared, result)?;
    for failure in report.clusters.iter().flat_map(|c| &c.failures) {
        output.error(&failure.to_string());
    }
    let (added, changed, destroyed) = report.role_counts();
    let failed = report.failed_clusters();
    let outcome = format!(
        "Apply {}! Roles: {added} added, {changed} changed, {destroyed} destroyed. Audit run {}.{}",
        if failed == 0 {
            "complete"
        } else {
            "finished with errors"
        },
        report.run,
        if failed > 0 {
            format!(" {failed} cluster(s) failed or were not run; see the errors.")
        } else {
            String::new()
        }
    );
    output.print(&outcome);
    step_summary::append(|| format!("**{outcome}**\n"), output);
    if !delivered.is_empty() {
        output.print(&delivered);
    }
    let notify = &ctx.lowered.notify;
    notifications::after_apply(notify, &report, &prepared, &actor, command, output);
    Ok(if failed > 0 { EXIT_ERROR } else { EXIT_OK })
}
