//! The read commands: `registry`, `roles --target`, `show ROLE --target`.

use crate::cli::args::{FormatArgs, RolesArgs, ShowArgs, TableFormat};
use crate::cli::output::Output;
use crate::cli::{context, EXIT_OK};
use anyhow::{Context as _, Result};
use pgroster::catalog;
use pgroster::model::{CurrentCluster, CurrentRole, RoleName};
use pgroster::registry::{parse_target, DatabaseEntry};
use pgroster::render::table::{escape_controls, table};
use serde_json::json;
use std::path::Path;

pub fn registry(config: &Path, args: &FormatArgs, output: &Output) -> Result<i32> {
    let ctx = context::load(config)?;
    let entries = &ctx.lowered.registry.entries;
    output.print(&match args.format {
        TableFormat::Json => serde_json::to_string_pretty(entries)?,
        TableFormat::Table => registry_table(entries),
    });
    Ok(EXIT_OK)
}

fn registry_table(entries: &[DatabaseEntry]) -> String {
    let rows = entries.iter().map(|e| {
        [
            e.target.env.clone(),
            e.target.database.clone(),
            e.cluster.host.clone(),
            e.cluster.port.to_string(),
            if e.active { "yes" } else { "no" }.to_string(),
        ]
    });
    table(&["ENV", "DATABASE", "HOST", "PORT", "ACTIVE"], rows)
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
        TableFormat::Table => roles_table(current.roles.values()),
    });
    Ok(EXIT_OK)
}

fn roles_table<'a>(roles: impl Iterator<Item = &'a CurrentRole>) -> String {
    let rows = roles.map(|r| {
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
        [
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
    });
    table(
        &[
            "ROLE",
            "ATTRIBUTES",
            "CONN LIMIT",
            "VALID UNTIL",
            "MEMBER OF",
            "MANAGED",
        ],
        rows,
    )
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
        TableFormat::Table => show_table(role),
    });
    Ok(EXIT_OK)
}

/// The role's name above a FIELD/VALUE table; the name is escaped like every cell.
fn show_table(role: &CurrentRole) -> String {
    let mut rows: Vec<[String; 2]> = role
        .attributes
        .values()
        .into_iter()
        .map(|(name, value)| [name.to_string(), value.to_string()])
        .collect();
    rows.push([
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
            rows.push([format!("{setting} ({scope})"), value.clone()]);
        }
    }
    rows.push(["managed".into(), managed_by(role)]);
    rows.push(["comment".into(), role.comment.clone().unwrap_or_default()]);
    format!(
        "role \"{}\"\n{}",
        escape_controls(role.name.as_str()),
        table(&["FIELD", "VALUE"], rows)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgroster::model::{Attributes, ClusterKey, MembershipOptions, SettingScope, TargetName};

    /// A name a catalog may hold: PostgreSQL accepts control characters in quoted identifiers.
    const HOSTILE: &str = "evil\nrole\u{1b}[2J";
    const ESCAPED: &str = "evil\\nrole\\u{1b}[2J";

    fn hostile_role() -> CurrentRole {
        CurrentRole {
            name: RoleName::existing(HOSTILE),
            attributes: Attributes {
                login: true,
                ..Attributes::default()
            },
            member_of: [(RoleName::existing(HOSTILE), MembershipOptions::default())]
                .into_iter()
                .collect(),
            settings: [(
                SettingScope::Database(HOSTILE.into()),
                [(HOSTILE.to_string(), HOSTILE.to_string())].into(),
            )]
            .into(),
            comment: Some(HOSTILE.into()),
            admin_can_alter: true,
            admin_acts_as: true,
        }
    }

    /// Every line is a header or one row, and no ESC reaches the terminal.
    fn assert_escaped(text: &str, lines: usize) {
        assert_eq!(text.lines().count(), lines, "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains(ESCAPED), "{text}");
    }

    #[test]
    fn roles_table_escapes_control_characters_in_names() {
        let role = hostile_role();
        let text = roles_table([&role].into_iter());
        assert_escaped(&text, 2);
        let row = text.lines().nth(1).unwrap_or_default();
        assert!(row.starts_with(ESCAPED), "{row}");
    }

    #[test]
    fn registry_table_escapes_control_characters_in_names() {
        let entry = DatabaseEntry {
            target: TargetName {
                env: HOSTILE.into(),
                database: HOSTILE.into(),
            },
            cluster: ClusterKey {
                host: HOSTILE.into(),
                port: 5432,
            },
            active: true,
            sslmode: None,
        };
        let text = registry_table(&[entry]);
        assert_escaped(&text, 2);
        assert_eq!(text.matches(ESCAPED).count(), 3, "{text}");
    }

    #[test]
    fn show_table_escapes_the_name_and_every_value() {
        let text = show_table(&hostile_role());
        // The name line, the header, nine attributes, member_of, one setting, managed, comment.
        assert_escaped(&text, 15);
        assert!(text.starts_with(&format!("role \"{ESCAPED}\"\n")), "{text}");
        assert_eq!(text.matches(ESCAPED).count(), 6, "{text}");
    }
}
