//! Command-line arguments: clap types only.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "pgroster",
    version,
    about = "Declarative PostgreSQL roles across a fleet: plan, apply, audit",
    after_help = "Exit codes: 0 success (no changes), 1 error, 2 changes present (plan --detailed-exitcode)."
)]
pub struct Cli {
    /// Config directory (its *.toml, *.yaml, *.yml files are merged) or a single file.
    #[arg(short = 'c', long = "config", default_value = ".", global = true)]
    pub config: PathBuf,
    /// No progress bar on stderr (there is none when stderr is not a terminal or NO_COLOR is set).
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration without connecting to any database.
    Validate,
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Plan, confirm, then change the clusters and record every change in the audit log; or
    /// apply a plan saved by `plan --out`, when nothing it covers changed since.
    Apply(ApplyArgs),
    /// Show a plan saved by `plan --out`.
    ShowPlan(ShowPlanArgs),
    /// Reset one role's password now (generated), audited.
    Reset(ResetArgs),
    /// Read the audit log.
    Audit(AuditArgs),
    /// List every registered database, active or not.
    Registry(FormatArgs),
    /// List every role on a target's cluster.
    Roles(RolesArgs),
    /// Show one role on a target's cluster.
    Show(ShowArgs),
    /// Write a roles file declaring what a target's cluster has now (adopting a cluster).
    Import(ImportArgs),
    /// Print a shell completion script (e.g. `pgroster completions bash > /etc/bash_completion.d/pgroster`).
    Completions(CompletionsArgs),
    /// Print pgroster's man page (roff) to stdout (e.g. `pgroster man > pgroster.1`).
    Man,
    /// Write a starter config, a .gitignore for the audit log and the GitHub Actions workflow.
    Init(InitArgs),
    /// Who can do what, where, across the fleet: every role of every selected cluster with its
    /// attributes, memberships (direct and through groups) and privileges (an access review).
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct Selection {
    /// Only these targets (`env/database[@cluster]` glob; `dev` means `dev/*`). Repeatable.
    #[arg(long = "target", value_name = "GLOB")]
    pub targets: Vec<String>,
}

/// `--mode`: overrides `[settings] mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Converge everything pgroster manages (the default).
    Authoritative,
    /// Never revoke, drop or remove a setting.
    Additive,
}

impl From<ModeArg> for pgroster::model::policy::Mode {
    fn from(mode: ModeArg) -> Self {
        match mode {
            ModeArg::Authoritative => pgroster::model::policy::Mode::Authoritative,
            ModeArg::Additive => pgroster::model::policy::Mode::Additive,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    /// GitHub-flavoured Markdown for a pull-request comment or a job summary.
    Markdown,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// How many clusters to work on at once (default: `[settings] parallelism`, else 16).
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
    /// `additive`: never revoke, drop or remove a setting (overrides `[settings] mode`).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// One line per role, its changes counted by kind (text and markdown; Markdown does this
    /// by itself for long clusters).
    #[arg(long)]
    pub compact: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Also save the plan to FILE (replaced if it exists), for `apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `plan --out`: apply exactly it, refused when the config or a cluster
    /// it covers changed since it was made.
    #[arg(value_name = "FILE", conflicts_with = "targets")]
    pub saved_plan: Option<PathBuf>,
    #[command(flatten)]
    pub selection: Selection,
    /// How many clusters to work on at once (default: `[settings] parallelism`, else 16).
    #[arg(long, value_name = "N")]
    pub parallelism: Option<usize>,
    /// `additive`: never revoke, drop or remove a setting (overrides `[settings] mode`).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Write generated passwords to this new file (mode 0600; never overwritten).
    #[arg(long, value_name = "FILE")]
    pub credentials_out: Option<PathBuf>,
    /// Apply even when the plan drops more roles on a cluster than `max_destroy` allows.
    #[arg(long)]
    pub allow_destroy: bool,
}

#[derive(Debug, Args)]
pub struct ShowPlanArgs {
    /// A plan saved by `plan --out`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The role whose password is reset.
    pub role: String,
    /// The target (`env/database`, `@cluster` when it is on several) whose cluster holds the role.
    #[arg(long, value_name = "ENV/DB")]
    pub target: String,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Write the new password to this new file (mode 0600; never overwritten).
    #[arg(long, value_name = "FILE")]
    pub credentials_out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Tell whether this run committed, per cluster and transaction, asking the clusters about
    /// transactions an interrupted run left unanswered (needs their admin credentials).
    #[arg(long, value_name = "ID", conflicts_with_all = ["since", "role", "env", "format"])]
    pub run: Option<String>,
    /// Only changes at or after this time (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC).
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub role: Option<String>,
    #[arg(long)]
    pub env: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: AuditFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct FormatArgs {
    #[arg(long, value_enum, default_value = "table")]
    pub format: TableFormat,
}

#[derive(Debug, Args)]
pub struct RolesArgs {
    #[arg(long, value_name = "ENV/DB")]
    pub target: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: TableFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub role: String,
    #[arg(long, value_name = "ENV/DB")]
    pub target: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: TableFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    Yaml,
    Toml,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A target (`env/database`, `@cluster` when it is on several) of the cluster to import; its
    /// registered databases are read.
    #[arg(long, value_name = "ENV/DB")]
    pub target: String,
    /// Only the roles this name glob matches.
    #[arg(long, value_name = "GLOB")]
    pub roles: Option<String>,
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: FileFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Markdown,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub selection: Selection,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write (created if missing); existing files are never overwritten.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
