//! One file per subcommand; each only sequences library stages.

mod apply;
mod audit;
mod completions;
mod import;
mod init;
mod inspect;
mod man;
mod plan;
mod report;
mod reset;
mod show_plan;
mod validate;

use super::args::{Cli, Command};
use super::output::Output;
use anyhow::Result;

pub fn dispatch(cli: &Cli, output: &Output) -> Result<i32> {
    match &cli.command {
        Command::Validate => validate::run(&cli.config, output),
        Command::Plan(args) => plan::run(&cli.config, args, output),
        Command::Apply(args) => apply::run(&cli.config, args, output),
        Command::ShowPlan(args) => show_plan::run(args, output),
        Command::Reset(args) => reset::run(&cli.config, args, output),
        Command::Audit(args) => audit::run(&cli.config, args, output),
        Command::Registry(args) => inspect::registry(&cli.config, args, output),
        Command::Roles(args) => inspect::roles(&cli.config, args, output),
        Command::Show(args) => inspect::show(&cli.config, args, output),
        Command::Import(args) => import::run(&cli.config, args, output),
        Command::Completions(args) => completions::run(args, output),
        Command::Man => man::run(output),
        Command::Init(args) => init::run(args, output),
        Command::Report(args) => report::run(&cli.config, args, output),
    }
}

/// Repeats each cluster's plan errors on stderr, so a run whose stdout goes to a file or a PR
/// comment still says why it failed.
pub fn report_plan_errors(plan: &pgroster::plan::Plan, output: &Output) {
    for cluster in &plan.clusters {
        for error in &cluster.errors {
            output.error(&format!("{}: {error}", cluster.label()));
        }
    }
}
