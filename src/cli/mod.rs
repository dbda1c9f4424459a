//! The command line: parse arguments, sequence the library's stages, map outcomes to exit codes.

mod args;
mod commands;
mod context;
mod credentials;
mod notifications;
mod output;
mod progress;
mod step_summary;

use clap::Parser;

/// Exit codes, as documented in the README.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_CHANGES: i32 = 2;

/// Runs pgroster with the process's arguments and returns the exit code.
pub fn run() -> i32 {
    let cli = args::Cli::parse();
    let output = output::Output::detect(cli.quiet);
    match commands::dispatch(&cli, &output) {
        Ok(code) => code,
        Err(error) => {
            output.error(&format!("{error:#}"));
            EXIT_ERROR
        }
    }
}
