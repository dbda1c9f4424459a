//! pgroster: a declarative reconciler for PostgreSQL roles across a fleet of clusters.
//!
//! Data flows one way; each stage has one entry function:
//! - `config`:   files -> validated config -> desired state (`config::load`, `config::lower`)
//! - `model`:    desired and current state, one type on both sides
//! - `registry`: databases, targets (`env/db`, on one or many clusters), clusters (`host:port`, named
//!   by `cluster`), glob selection (`env/db@cluster`)
//! - `catalog`:  a cluster's live catalogs -> current state (`catalog::read_cluster`,
//!   `catalog::privileges::read_database`, `catalog::public::read_database`)
//! - `fleet`:    every selected cluster locked (apply, reset: `fleet::lock`), read up to
//!   `parallelism` at once, then planned (`fleet::plan_fleet`); the databases a drop needs
//!   beyond the targets opened for apply (`fleet::open_databases`)
//! - `plan`:     desired x current -> typed changes, pure (`plan::diff_cluster`): creates,
//!   changes, grants and revokes (with what they cascade to), drops, under the plan's mode
//! - `render`:   changes -> SQL statements, text, JSON and Markdown (`render::ddl`,
//!   `render::text`, `render::json`, `render::markdown`); what the read commands print
//!   (`render::inventory`, `render::table`)
//! - `apply`:    plan -> units of statements -> transactions; generated passwords delivered
//!   before any unit runs, clusters run side by side (`parallelism`), each unit recorded in the
//!   audit log (with its transaction id) before it runs and after (`apply::prepare`,
//!   `apply::run`)
//! - `saved`:    a plan written to a file with the config digest and each cluster's state
//!   fingerprint; read back and checked before `apply FILE` runs it (`saved::SavedPlan`)
//! - `audit`:    the audit log of every change, a SQLite file or a PostgreSQL database many
//!   runners share (`audit::AuditSink`, `audit::AuditLog`); what an interrupted run committed,
//!   asked of the servers (`audit::resolve`)
//! - `import`:   a cluster's current state -> a roles file that declares it (`import::import`)
//! - `notify`:   an apply report or a plan -> events (`notify::event`), sent to the
//!   `[[notify]]` webhooks and commands (`notify::notify_all`); failures are returned, not raised
//!
//! `progress` is what `fleet` and `apply` report as they go, for the CLI's progress bar.
//! `connection` opens admin connections (credentials, TLS); `schema` generates the JSON
//! Schemas of the config files and of the JSON plan.

pub mod apply;
pub mod audit;
pub mod catalog;
pub mod config;
pub mod connection;
pub mod fleet;
pub mod import;
pub mod model;
pub mod notify;
pub mod plan;
pub mod progress;
pub mod registry;
pub mod render;
pub mod saved;
pub mod schema;
