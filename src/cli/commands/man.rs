//! `pgroster man`: the man page (roff) generated from the clap definitions, on stdout.

use crate::cli::args::Cli;
use crate::cli::output::Output;
use crate::cli::EXIT_OK;
use anyhow::{Context as _, Result};
use clap::CommandFactory;

pub fn run(output: &Output) -> Result<i32> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("rendering the man page")?;
    output.print(&String::from_utf8(page).context("the man page is not UTF-8")?);
    Ok(EXIT_OK)
}
