//! The read commands: `registry`, `roles --target`, `show ROLE --target`.

use crate::cli::args::{FormatArgs, RolesArgs, ShowArgs, TableFormat};
use crate::cli::output::Output;
use crate::cli::{context, EXIT_OK};
use anyhow::{Context as _, Result};
use pgroster::catalog;
use pgroster::model::{CurrentCluster, RoleName};
use pgroster::registry::parse_target;
use pgroster::render::inventory;
use std::path::Path;

pub fn registry(config: &Path, args: &FormatArgs, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let entries = &ctx.lowered.registry.entries;
    output.print(&match args.format {
        TableFormat::Json => serde_json::to_string_pretty(entries)?,
        TableFormat::Table => inventory::registry_table(entries),
    });
    Ok(EXIT_OK)
}

fn read_target(config: &Path, target: &str) -> Result<CurrentCluster> {
    let ctx = context::load(config)?;
    let target = parse_target(target)?;
    let entry = ctx
        .lowered
        .registry
        .find(&target)
        .with_context(|| format!("target {target} is not in the registry"))?;
    let mut client = ctx.connector.connect(&entry.cluster, &target.database)?;
    catalog::read_cluster(&mut client)
        .with_context(|| format!("reading {} (target {target})", entry.cluster))
}

pub fn roles(config: &Path, args: &RolesArgs, output: &Output) -> Result<i32> {
    let current = read_target(config, &args.target)?;
    output.print(&match args.format {
        TableFormat::Json => {
            serde_json::to_string_pretty(&inventory::roles_json(current.roles.values()))?
        }
        TableFormat::Table => inventory::roles_table(current.roles.values()),
    });
    Ok(EXIT_OK)
}

pub fn show(config: &Path, args: &ShowArgs, output: &Output) -> Result<i32> {
    let current = read_target(config, &args.target)?;
    let name = RoleName::existing(args.role.clone());
    let role = current.roles.get(&name).with_context(|| {
        format!(
            "role \"{name}\" does not exist on the cluster of target {}",
            args.target
        )
    })?;
    output.print(&match args.format {
        TableFormat::Json => serde_json::to_string_pretty(&inventory::role_json(role))?,
        TableFormat::Table => inventory::role_table(role),
    });
    Ok(EXIT_OK)
}
