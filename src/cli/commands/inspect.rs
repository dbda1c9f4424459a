//! The read commands: `registry`, `roles --target`, `show ROLE --target`.

use crate::cli::args::{FormatArgs, RolesArgs, ShowArgs, TableFormat};
use crate::cli::output::{table, Output};
use crate::cli::{context, EXIT_OK};
use anyhow::{Context as _, Result};
use pgroster::catalog;
use pgroster::model::{CurrentCluster, CurrentRole, RoleName};
use pgroster::registry::parse_target;
use serde_json::json;
use std::path::Path;

pub fn registry(config: &Path, args: &FormatArgs, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let entries = &ctx.lowered.registry.entries;
    output.print(&match args.format {
        TableFormat::Json => serde_json::to_string_pretty(entries)?,
        TableFormat::Table => {
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.target.env.clone(),
                        e.target.database.clone(),
                        e.cluster.host.clone(),
                        e.cluster.port.to_string(),
                        if e.active { "yes" } else { "no" }.to_string(),
                    ]
                })
                .collect();
            table(&["ENV", "DATABASE", "HOST", "PORT", "ACTIVE"], &rows)
        }
    });
    Ok(EXIT_OK)
}

fn read_target(config: &Path, target: &str) -> Result<CurrentCluster> {
    let ctx = context::load(config)?;
    let target = parse_target(target).map_err(anyhow::Error::msg)?;
    let entry = ctx
        .lowered
        .registry
        .find(&target)
        .with_context(|| format!("target {target} is not in the registry"))?;
    let mut client = ctx.connector.connect(&entry.cluster, &target.database)?;
    catalog::read_cluster(&mut client)
        .with_context(|| format!("reading {} (target {target})", entry.cluster))
}

fn managed_by(role: &CurrentRole) -> String {
    match role.marker() {
        Some(m) => format!("yes ({})", m.profile.unwrap_or_else(|| "no profile".into())),
        None => "no".into(),
    }
}

fn role_json(role: &CurrentRole) -> serde_json::Value {
    let settings: Vec<serde_json::Value> = role
        .settings
        .iter()
        .flat_map(|(scope, values)| {
            values.iter().map(move |(name, value)| {
                json!({ "scope": scope.to_string(), "name": name, "value": value })
            })
        })
        .collect();
    json!({
        "name": role.name,
        "attributes": role.attributes,
        "member_of": role.member_of,
        "settings": settings,
        "managed": role.marker().is_some(),
        "profile": role.marker().and_then(|m| m.profile),
        "comment": role.comment,
    })
}

pub fn roles(config: &Path, args: &RolesArgs, output: &Output) -> Result<i32> {
    let current = read_target(config, &args.target)?;
    output.print(&match args.format {
        TableFormat::Json => serde_json::to_string_pretty(
            &current.roles.values().map(role_json).collect::<Vec<_>>(),
        )?,
        TableFormat::Table => {
            let rows: Vec<Vec<String>> = current
                .roles
                .values()
                .map(|r| {
                    let a = &r.attributes;
                    let flags: Vec<&str> = [
                        ("LOGIN", a.login),
                        ("SUPERUSER", a.superuser),
                        ("CREATEDB", a.createdb),
                        ("CREATEROLE", a.createrole),
                        ("REPLICATION", a.replication),
                        ("BYPASSRLS", a.bypassrls),
                        ("NOINHERIT", !a.inherit),
                    ]
                    .into_iter()
                    .filter(|(_, on)| *on)
                    .map(|(name, _)| name)
                    .collect();
                    vec![
                        r.name.to_string(),
                        flags.join(" "),
                        a.connection_limit.to_string(),
                        a.valid_until.clone().unwrap_or_else(|| "-".into()),
                        r.member_of
                            .keys()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                        managed_by(r),
                    ]
                })
                .collect();
            table(
                &[
                    "ROLE",
                    "ATTRIBUTES",
                    "CONN LIMIT",
                    "VALID UNTIL",
                    "MEMBER OF",
                    "MANAGED",
                ],
                &rows,
            )
        }
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
        TableFormat::Json => serde_json::to_string_pretty(&role_json(role))?,
        TableFormat::Table => {
            let mut rows: Vec<Vec<String>> = role
                .attributes
                .values()
                .into_iter()
                .map(|(name, value)| vec![name.to_string(), value.to_string()])
                .collect();
            rows.push(vec![
                "member_of".into(),
                role.member_of
                    .iter()
                    .map(|(group, o)| {
                        let mut text = group.to_string();
                        if o.admin {
                            text.push_str(" (admin)");
                        }
                        text
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ]);
            for (scope, values) in &role.settings {
                for (setting, value) in values {
                    rows.push(vec![format!("{setting} ({scope})"), value.clone()]);
                }
            }
            rows.push(vec!["managed".into(), managed_by(role)]);
            rows.push(vec![
                "comment".into(),
                role.comment.clone().unwrap_or_default(),
            ]);
            format!("role \"{name}\"\n{}", table(&["FIELD", "VALUE"], &rows))
        }
    });
    Ok(EXIT_OK)
}
