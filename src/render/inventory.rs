//! What the read commands print: the registry, a cluster's roles and one role, as tables
//! (every cell escaped, see `table`) or JSON.

use super::table::{escape_controls, table};
use crate::model::privileges::DatabaseState;
use crate::model::{CurrentCluster, CurrentRole, RoleName};
use crate::registry::DatabaseEntry;
use serde_json::json;
use std::collections::BTreeMap;

/// `pgroster registry`.
pub fn registry_table(entries: &[DatabaseEntry]) -> String {
    let rows = entries.iter().map(|e| {
        [
            e.target.env.clone(),
            e.target.database.clone(),
            e.cluster.host.clone(),
            e.cluster.port.to_string(),
            e.cluster_name.clone(),
            if e.active { "yes" } else { "no" }.to_string(),
        ]
    });
    table(
        &["ENV", "DATABASE", "HOST", "PORT", "CLUSTER", "ACTIVE"],
        rows,
    )
}

/// Whether `ignore_roles` (with the admin and the bootstrap superuser) covers a role.
pub type Ignored<'a> = &'a dyn Fn(&RoleName) -> bool;

/// `pgroster roles`.
pub fn roles_table<'a>(roles: impl Iterator<Item = &'a CurrentRole>, ignored: Ignored) -> String {
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
            managed_by(r, ignored),
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

/// `pgroster roles --format json`.
pub fn roles_json<'a>(
    roles: impl Iterator<Item = &'a CurrentRole>,
    ignored: Ignored,
) -> serde_json::Value {
    let none = Access::default();
    serde_json::Value::Array(roles.map(|r| role_json(r, ignored, &none)).collect())
}

/// What a role may do beyond its attributes, for `show`: who is a member of it, and what it
/// holds in each registered database of its cluster.
#[derive(Debug, Default)]
pub struct Access {
    pub members: Vec<RoleName>,
    /// Per database, `kind object: PRIVILEGE` lines (and the default privileges it gets).
    pub privileges: BTreeMap<String, Vec<String>>,
}

impl Access {
    /// `role`'s members on `current` and its privileges in `databases`.
    pub fn of(
        role: &RoleName,
        current: &CurrentCluster,
        databases: &BTreeMap<String, DatabaseState>,
    ) -> Access {
        let members = current
            .roles
            .values()
            .filter(|r| r.member_of.contains_key(role))
            .map(|r| r.name.clone())
            .collect();
        let mut privileges: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (database, state) in databases {
            let lines = privileges.entry(database.clone()).or_default();
            for held in state.held.iter().filter(|h| &h.grantee == role) {
                lines.push(format!(
                    "{} {}: {}{} (granted by {})",
                    held.object.kind.noun(),
                    held.object,
                    held.privilege,
                    if held.grant_option {
                        " WITH GRANT OPTION"
                    } else {
                        ""
                    },
                    held.grantor
                ));
            }
            for default in state.defaults.iter().filter(|d| &d.grantee == role) {
                lines.push(format!(
                    "future {} created by {}{}: {}",
                    default.kind.plural().to_ascii_lowercase(),
                    default.owner,
                    default
                        .schema
                        .as_ref()
                        .map(|s| format!(" in schema {s}"))
                        .unwrap_or_default(),
                    default.privilege
                ));
            }
            if lines.is_empty() {
                privileges.remove(database);
            }
        }
        Access {
            members,
            privileges,
        }
    }
}

/// `pgroster show --format json`.
pub fn role_json(role: &CurrentRole, ignored: Ignored, access: &Access) -> serde_json::Value {
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
        "ignored": ignored(&role.name),
        "members": access.members,
        "privileges": access.privileges,
        "profile": role.marker().and_then(|m| m.profile),
        "comment": role.comment,
    })
}

/// `pgroster show`: the role's name above a FIELD/VALUE table; the name is escaped like every cell.
pub fn role_table(role: &CurrentRole, ignored: Ignored, access: &Access) -> String {
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
                let mut options: Vec<&str> = Vec::new();
                if o.admin {
                    options.push("admin");
                }
                if o.inherit == Some(false) {
                    options.push("noinherit");
                }
                if o.set == Some(false) {
                    options.push("noset");
                }
                match options.as_slice() {
                    [] => group.to_string(),
                    _ => format!("{group} ({})", options.join(", ")),
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    ]);
    for (scope, values) in &role.settings {
        for (setting, value) in values {
            rows.push([format!("{setting} ({scope})"), value.clone()]);
        }
    }
    rows.push([
        "members".into(),
        access
            .members
            .iter()
            .map(RoleName::as_str)
            .collect::<Vec<_>>()
            .join(", "),
    ]);
    for (database, lines) in &access.privileges {
        for line in lines {
            rows.push([format!("privilege ({database})"), line.clone()]);
        }
    }
    rows.push(["managed".into(), managed_by(role, ignored)]);
    rows.push(["comment".into(), role.comment.clone().unwrap_or_default()]);
    format!(
        "role \"{}\"\n{}",
        escape_controls(role.name.as_str()),
        table(&["FIELD", "VALUE"], rows)
    )
}

/// `yes (profile)`, `ignored` (`ignore_roles`: never touched), or `no` (unknown: made by hand).
fn managed_by(role: &CurrentRole, ignored: Ignored) -> String {
    match role.marker() {
        Some(m) => format!("yes ({})", m.profile.unwrap_or_else(|| "no profile".into())),
        None if ignored(&role.name) => "ignored".into(),
        None => "no".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Attributes, ClusterKey, MembershipOptions, RoleName, SettingScope, TargetName,
    };

    /// A name a catalog may hold: PostgreSQL accepts control characters in quoted identifiers.
    const HOSTILE: &str = "evil\nrole\u{1b}[2J";
    const ESCAPED: &str = "evil\\nrole\\u{1b}[2J";

    fn hostile_role() -> CurrentRole {
        CurrentRole {
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
            ..CurrentRole::bare(HOSTILE)
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
        let text = roles_table([&role].into_iter(), &|_| false);
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
            cluster_name: HOSTILE.into(),
            active: true,
            sslmode: None,
        };
        let text = registry_table(&[entry]);
        assert_escaped(&text, 2);
        assert_eq!(text.matches(ESCAPED).count(), 4, "{text}");
    }

    #[test]
    fn show_table_escapes_the_name_and_every_value() {
        let access = Access {
            members: vec![RoleName::existing(HOSTILE)],
            privileges: BTreeMap::from([(HOSTILE.to_string(), vec![format!("table {HOSTILE}")])]),
        };
        let text = role_table(&hostile_role(), &|_| false, &access);
        // The name line, the header, nine attributes, member_of, one setting, members, one
        // privilege, managed, comment.
        assert_escaped(&text, 17);
        assert!(text.starts_with(&format!("role \"{ESCAPED}\"\n")), "{text}");
        assert_eq!(text.matches(ESCAPED).count(), 9, "{text}");
    }
}
