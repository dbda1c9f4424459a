//! `pgroster report`: who can do what, where, across the fleet: read every selected cluster,
//! build the rows, print them. A cluster that cannot be read is named on stderr and the exit
//! code is 1; the others are still reported.

use crate::cli::args::{ReportArgs, ReportFormat};
use crate::cli::output::Output;
use crate::cli::{context, progress, EXIT_ERROR, EXIT_OK};
use anyhow::Result;
use pgroster::fleet::read_fleet_states;
use pgroster::model::RoleName;
use pgroster::render::report::{self, ReportRow};
use std::path::Path;

pub fn run(config: &Path, args: &ReportArgs, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let selection = ctx.selection(&args.selection.targets)?;
    let progress = progress::for_output(output);
    let states = read_fleet_states(&ctx.lowered, &ctx.connector, &selection, progress.as_ref());
    drop(progress);
    let ignored = |role: &RoleName| {
        ctx.lowered
            .ignore_roles
            .iter()
            .any(|g| g.matches(role.as_str()))
    };
    let mut rows: Vec<ReportRow> = Vec::new();
    let mut failed = 0;
    for (cluster, state) in &states {
        match state {
            Ok(state) => rows.extend(report::rows(
                cluster,
                &state.current,
                &state.databases,
                &ignored,
            )),
            Err(error) => {
                failed += 1;
                output.error(&format!("{cluster}: {error}"));
            }
        }
    }
    output.print(&match args.format {
        ReportFormat::Text => report::text(&rows),
        ReportFormat::Markdown => report::markdown(&rows),
        ReportFormat::Csv => report::csv(&rows)?,
        ReportFormat::Json => serde_json::to_string_pretty(&rows)?,
    });
    Ok(if failed > 0 { EXIT_ERROR } else { EXIT_OK })
}
