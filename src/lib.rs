//! pgroster: a declarative reconciler for PostgreSQL roles across a fleet of clusters.
//!
//! Data flows one way; each stage has one entry function:
//! - `config`:   files -> validated raw config            (`config::load`, then `config::lower`)
//! - `model`:    desired and current state, one type on both sides
//! - `catalog`:  a cluster's live catalogs -> current state (`catalog::read_cluster`)
//! - `plan`:     desired x current -> typed changes, pure   (`plan::diff`)
//! - `render`:   changes -> SQL statements and text/JSON    (`render::ddl`, `render::text`)
//! - `apply`:    statements -> one transaction per cluster (`apply::apply_cluster`)
//! - `audit`:    every executed change -> SQLite           (`audit::AuditLog`)

pub mod apply;
pub mod audit;
pub mod catalog;
pub mod config;
pub mod connection;
pub mod fleet;
pub mod model;
pub mod plan;
pub mod registry;
pub mod render;
pub mod schema;
