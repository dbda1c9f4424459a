//! `pgroster apply`: load -> lock and plan -> render -> confirm -> run (which delivers the generated
//! passwords before anything commits) -> settle the delivered passwords -> report.

use crate::cli::args::ApplyArgs;
use crate::cli::credentials;
use crate::cli::output::Output;
use crate::cli::{context, EXIT_ERROR, EXIT_OK};
use anyhow::Result;
use pgroster::apply;
use pgroster::audit::AuditLog;
use pgroster::fleet::{open_databases, plan_fleet};
use pgroster::render;
use std::path::Path;

pub fn run(config: &Path, args: &ApplyArgs, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let selection = ctx.selection(&args.selection.targets)?;
    let on_wait = |message: &str| output.notice(message);
    let mut fleet = plan_fleet(
        &ctx.lowered,
        &ctx.connector,
        &selection,
        ctx.locking(&on_wait),
    );
    let plan = &fleet.plan;
    output.print_streamed(|out| render::text::write_plan(out, plan, output.color));
    super::report_plan_errors(plan, output);
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
        output,
    )?;
    if !output.approve(
        args.auto_approve,
        "apply",
        "Do you want to perform these actions?",
    )? {
        return Ok(EXIT_ERROR);
    }
    let mut audit = AuditLog::open(&ctx.audit_log)?;
    open_databases(plan, &mut fleet.connections, &ctx.connector);
    let result = apply::run(
        &prepared,
        &mut fleet.connections,
        &mut audit,
        &mut delivery,
        &context::actor(),
        "apply",
    );
    let (report, delivered) = credentials::settle_run(delivery, &prepared, result)?;
    for failure in report.clusters.iter().flat_map(|c| &c.failures) {
        output.error(&failure.to_string());
    }
    let (added, changed, destroyed) = report.role_counts();
    let failed = report.failed_clusters();
    output.print(&format!(
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
    ));
    if !delivered.is_empty() {
        output.print(&delivered);
    }
    Ok(if failed > 0 { EXIT_ERROR } else { EXIT_OK })
}
