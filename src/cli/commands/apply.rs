//! `pgroster apply`: load -> lock and plan -> render -> confirm -> run (which delivers the generated
//! passwords before anything commits) -> settle the delivered passwords -> report.

use crate::cli::args::ApplyArgs;
use crate::cli::credentials;
use crate::cli::output::Output;
use crate::cli::{context, EXIT_ERROR, EXIT_OK};
use anyhow::Result;
use pgroster::apply;
use pgroster::audit::AuditLog;
use pgroster::fleet::plan_fleet;
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
    let (added, changed) = report.roles_added_and_changed();
    let failed = report.failed_clusters();
    output.print(&format!(
        "Apply {}! Roles: {added} added, {changed} changed, 0 destroyed. Audit run {}.{}",
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
