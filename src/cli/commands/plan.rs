//! `pgroster plan`: read every cluster in scope (without pgroster's lock), diff, render (and
//! append the Markdown to a GitHub job summary); with `--out`, also save the plan with what it
//! was made from, for `apply FILE`; with `--detailed-exitcode`, a `drift` notification when
//! there is drift.

use crate::cli::args::{PlanArgs, PlanFormat};
use crate::cli::notifications;
use crate::cli::output::Output;
use crate::cli::{context, step_summary, EXIT_CHANGES, EXIT_ERROR, EXIT_OK};
use anyhow::Result;
use pgroster::fleet::{plan_fleet, Fingerprints, Locking};
use pgroster::render;
use pgroster::render::text::Detail;
use pgroster::saved::{self, SavedPlan};
use std::path::Path;

pub fn run(config: &Path, args: &PlanArgs, output: &Output) -> Result<i32> {
    let mut ctx = context::load(config)?;
    ctx.override_mode(args.mode);
    ctx.override_parallelism(args.parallelism);
    let selection = ctx.selection(&args.selection.targets)?;
    // Read-only: no lock, so a plan never waits for an apply.
    let progress = crate::cli::progress::for_output(output);
    let fleet = plan_fleet(
        &ctx.lowered,
        &ctx.connector,
        &selection,
        Locking::None,
        match args.out {
            Some(_) => Fingerprints::Take,
            None => Fingerprints::Skip,
        },
        progress.as_ref(),
    );
    drop(progress);
    let plan = &fleet.plan;
    let detail = if args.compact {
        Detail::Compact
    } else {
        Detail::Full
    };
    let markdown = || render::markdown::plan(plan, detail);
    match args.format {
        PlanFormat::Text => {
            output.print_streamed(|out| {
                render::text::write_plan_as(out, plan, output.color, detail);
            });
        }
        PlanFormat::Json => output.print(&render::json::plan(plan)),
        PlanFormat::Markdown => output.print(&markdown()),
    }
    step_summary::append(markdown, output);
    super::report_plan_errors(plan, output);
    if args.detailed_exitcode {
        notifications::after_plan(&ctx.lowered.notify, plan, output);
    }
    let code = if plan.has_errors() {
        EXIT_ERROR
    } else if args.detailed_exitcode && plan.has_drift() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    };
    if let Some(out) = &args.out {
        let has_errors = plan.has_errors();
        SavedPlan::new(
            fleet.plan,
            &args.selection.targets,
            ctx.config_digest,
            &fleet.fingerprints,
            saved::made_now(),
        )
        .write(out)?;
        output.notice(&format!(
            "Saved the plan to {}{}",
            out.display(),
            if has_errors {
                "; it has errors, so `apply` refuses it".to_string()
            } else {
                format!("; apply exactly it with `pgroster apply {}`", out.display())
            }
        ));
    }
    Ok(code)
}
