//! `pgroster completions SHELL`: a completion script generated from the clap definitions, so
//! it cannot fall behind the arguments.

use crate::cli::args::{Cli, CompletionsArgs};
use crate::cli::output::Output;
use crate::cli::EXIT_OK;
use anyhow::{Context as _, Result};
use clap::CommandFactory;

pub fn run(args: &CompletionsArgs, output: &Output) -> Result<i32> {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    output.print(&String::from_utf8(script).context("the completion script is not UTF-8")?);
    Ok(EXIT_OK)
}
