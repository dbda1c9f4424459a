//! The read commands: `registry`, `roles --target`, `show ROLE --target` (with its members and
//! its privileges in every registered database of the cluster).

use crate::cli::args::{FormatArgs, RolesArgs, ShowArgs, TableFormat};
use crate::cli::output::Output;
use crate::cli::{context, EXIT_OK};
use anyhow::{Context as _, Result};
use pgroster::fleet::read_cluster_state;
use pgroster::model::{CurrentCluster, RoleName};
use pgroster::render::inventory::{self, Access};
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

/// The cluster of `target`, and whether `ignore_roles` covers a role.
fn read_target(
    config: &Path,
    target: &str,
) -> Result<(CurrentCluster, impl Fn(&RoleName) -> bool)> {
    let ctx = context::load(config)?;
    let (target, entry) = ctx.find_target(target)?;
    let current = ctx.read_target(&target, entry)?.1;
    let ignore_roles = ctx.lowered.ignore_roles;
    Ok((current, move |role: &RoleName| {
        ignore_roles.iter().any(|g| g.matches(role.as_str()))
    }))
}

pub fn roles(config: &Path, args: &RolesArgs, output: &Output) -> Result<i32> {
    let (current, ignored) = read_target(config, &args.target)?;
    output.print(&match args.format {
        TableFormat::Json => {
            serde_json::to_string_pretty(&inventory::roles_json(current.roles.values(), &ignored))?
        }
        TableFormat::Table => inventory::roles_table(current.roles.values(), &ignored),
    });
    Ok(EXIT_OK)
}

/// One role, with its members and its privileges in every registered database of the
/// target's cluster.
pub fn show(config: &Path, args: &ShowArgs, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let (_, entry) = ctx.find_target(&args.target)?;
    let state = read_cluster_state(&ctx.lowered, &ctx.connector, &entry.cluster)
        .with_context(|| format!("reading {} (target {})", entry.cluster, args.target))?;
    let ignored = |role: &RoleName| {
        ctx.lowered
            .ignore_roles
            .iter()
            .any(|g| g.matches(role.as_str()))
    };
    let name = RoleName::existing(args.role.clone());
    let role = state.current.roles.get(&name).with_context(|| {
        format!(
            "role \"{name}\" does not exist on the cluster of target {}",
            args.target
        )
    })?;
    let access = Access::of(&name, &state.current, &state.databases);
    output.print(&match args.format {
        TableFormat::Json => {
            serde_json::to_string_pretty(&inventory::role_json(role, &ignored, &access))?
        }
        TableFormat::Table => inventory::role_table(role, &ignored, &access),
    });
    Ok(EXIT_OK)
}
