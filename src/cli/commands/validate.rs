//! `pgroster validate`: load and check the config; no database is contacted.

use crate::cli::context;
use crate::cli::output::Output;
use crate::cli::EXIT_OK;
use anyhow::Result;
use std::path::Path;

pub fn run(config: &Path, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let entries = &ctx.lowered.registry.entries;
    let active = entries.iter().filter(|e| e.active).count();
    let roles: usize = ctx.lowered.desired.values().map(|c| c.roles.len()).sum();
    let files: Vec<String> = ctx.files.iter().map(|f| f.display().to_string()).collect();
    output.print(&format!(
        "Read {} file(s): {}",
        files.len(),
        files.join(", ")
    ));
    output.print(&format!(
        "The configuration is valid: {} file(s), {} database(s) ({} active) on {} cluster(s), {} role(s) across clusters.",
        files.len(),
        entries.len(),
        active,
        ctx.lowered.desired.len(),
        roles
    ));
    Ok(EXIT_OK)
}
