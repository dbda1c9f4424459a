//! `import`: load the config -> read the target's cluster -> declare what it has -> print.

use crate::cli::args::{FileFormat, ImportArgs};
use crate::cli::output::Output;
use crate::cli::{context, EXIT_OK};
use anyhow::{Context as _, Result};
use pgroster::fleet::read_cluster_state;
use pgroster::import::{import, Format, ImportInput};
use pgroster::model::RoleName;
use pgroster::registry::NameGlob;
use std::collections::BTreeSet;
use std::path::Path;

pub fn run(config: &Path, args: &ImportArgs, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let (_, entry) = ctx.find_target(&args.target)?;
    let cluster = entry.cluster.clone();
    let roles = args
        .roles
        .as_deref()
        .map(NameGlob::new)
        .transpose()
        .context("--roles")?;
    let state = read_cluster_state(&ctx.lowered, &ctx.connector, &cluster)
        .with_context(|| format!("reading {cluster}"))?;
    // Every declaration needs a target: a role's are the registered databases that exist.
    if state.databases.is_empty() {
        anyhow::bail!(
            "{cluster}: none of its active registered databases exists; nothing to import into"
        );
    }
    let targets: Vec<_> = ctx
        .lowered
        .registry
        .entries
        .iter()
        .filter(|e| e.active && e.cluster == cluster)
        .map(|e| e.target.clone())
        .collect();
    let registry = &ctx.lowered.registry;
    let shared = registry
        .entries
        .iter()
        .any(|e| e.cluster != cluster && targets.contains(&e.target));
    let declared: BTreeSet<RoleName> = ctx
        .lowered
        .desired
        .get(&cluster)
        .map(|d| d.roles.keys().cloned().collect())
        .unwrap_or_default();
    let imported = import(&ImportInput {
        current: &state.current,
        databases: &state.databases,
        targets: &targets,
        cluster: shared.then_some(entry.cluster_name.as_str()),
        ignore_roles: &ctx.lowered.ignore_roles,
        roles: roles.as_ref(),
        declared: &declared,
        profiles: &ctx.lowered.profiles,
    });
    let format = match args.format {
        FileFormat::Yaml => Format::Yaml,
        FileFormat::Toml => Format::Toml,
    };
    output.print(&imported.document.render(format)?);
    for (role, reason) in &imported.skipped {
        output.notice(&format!("role \"{role}\" is not imported: {reason}"));
    }
    output.notice(&format!(
        "{cluster}: {} role(s) imported, {} left out",
        imported.roles,
        imported.skipped.len()
    ));
    Ok(EXIT_OK)
}
