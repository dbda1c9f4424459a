//! `pgroster show-plan FILE`: a saved plan, as text (with what it was made from) or as the
//! file's JSON. Needs no config and contacts no cluster.

use crate::cli::args::{PlanFormat, ShowPlanArgs};
use crate::cli::output::Output;
use crate::cli::EXIT_OK;
use anyhow::Result;
use pgroster::render;
use pgroster::saved::SavedPlan;

pub fn run(args: &ShowPlanArgs, output: &Output) -> Result<i32> {
    let saved = SavedPlan::read(&args.file)?;
    match args.format {
        PlanFormat::Text => {
            output.print(&render::saved::saved_header(&saved));
            output.print_streamed(|out| render::text::write_plan(out, &saved.plan, output.color));
        }
        PlanFormat::Json => output.print(&serde_json::to_string_pretty(&saved)?),
        PlanFormat::Markdown => output.print(&render::markdown::plan(
            &saved.plan,
            render::text::Detail::Full,
        )),
    }
    Ok(EXIT_OK)
}
