//! `pgroster report`: who can do what, where, across the fleet, for an access review. One row
//! per role and cluster: whether pgroster manages it, its attributes, the roles it is a member
//! of directly and through them (predefined `pg_*` roles included), its privileges by database
//! and object kind, and when its access ends. Pure: built from what the catalogs hold.

use super::table::{escape_controls, table};
use crate::model::privileges::DatabaseState;
use crate::model::{ClusterKey, CurrentCluster, CurrentRole, RoleName};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One role on one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub cluster: ClusterKey,
    pub role: RoleName,
    /// `yes`, `ignored` (never touched by pgroster) or `no` (made by hand).
    pub managed: &'static str,
    /// The attributes that grant something: LOGIN, SUPERUSER, CREATEROLE, ...
    pub attributes: Vec<&'static str>,
    pub member_of: Vec<RoleName>,
    /// Every role whose privileges it may use or `SET ROLE` to, through any chain of
    /// memberships.
    pub effective_roles: Vec<RoleName>,
    /// Per database, the number of privileges it holds directly by object kind (`table: 12`).
    pub privileges: BTreeMap<String, BTreeMap<String, usize>>,
    pub valid_until: Option<String>,
}

/// The rows of one cluster, sorted by role; `ignored` says whether `ignore_roles` covers one.
pub fn rows(
    cluster: &ClusterKey,
    current: &CurrentCluster,
    databases: &BTreeMap<String, DatabaseState>,
    ignored: &dyn Fn(&RoleName) -> bool,
) -> Vec<ReportRow> {
    current
        .roles
        .values()
        .map(|role| ReportRow {
            cluster: cluster.clone(),
            role: role.name.clone(),
            managed: if role.is_managed() {
                "yes"
            } else if ignored(&role.name) {
                "ignored"
            } else {
                "no"
            },
            attributes: attributes(role),
            member_of: role.member_of.keys().cloned().collect(),
            effective_roles: effective_roles(role, current),
            privileges: privileges(&role.name, databases),
            valid_until: role.attributes.valid_until.clone(),
        })
        .collect()
}

fn attributes(role: &CurrentRole) -> Vec<&'static str> {
    let a = &role.attributes;
    [
        (a.login, "LOGIN"),
        (a.superuser, "SUPERUSER"),
        (a.createrole, "CREATEROLE"),
        (a.createdb, "CREATEDB"),
        (a.replication, "REPLICATION"),
        (a.bypassrls, "BYPASSRLS"),
    ]
    .into_iter()
    .filter(|(has, _)| *has)
    .map(|(_, name)| name)
    .collect()
}

/// The roles reachable from `role` through memberships, itself excluded.
fn effective_roles(role: &CurrentRole, current: &CurrentCluster) -> Vec<RoleName> {
    let mut reached: BTreeSet<RoleName> = BTreeSet::new();
    let mut next: Vec<&RoleName> = role.member_of.keys().collect();
    while let Some(group) = next.pop() {
        if *group == role.name || !reached.insert(group.clone()) {
            continue;
        }
        if let Some(g) = current.roles.get(group) {
            next.extend(g.member_of.keys());
        }
    }
    reached.into_iter().collect()
}

fn privileges(
    role: &RoleName,
    databases: &BTreeMap<String, DatabaseState>,
) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut out: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (database, state) in databases {
        for held in state.held.iter().filter(|h| &h.grantee == role) {
            *out.entry(database.clone())
                .or_default()
                .entry(held.object.kind.noun().to_string())
                .or_default() += 1;
        }
    }
    out
}

const HEADERS: [&str; 8] = [
    "CLUSTER",
    "ROLE",
    "MANAGED",
    "ATTRIBUTES",
    "MEMBER OF",
    "EFFECTIVE ROLES",
    "PRIVILEGES",
    "VALID UNTIL",
];

fn cells(row: &ReportRow) -> [String; 8] {
    let names = |roles: &[RoleName]| {
        roles
            .iter()
            .map(RoleName::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let privileges: Vec<String> = row
        .privileges
        .iter()
        .map(|(database, kinds)| {
            let kinds: Vec<String> = kinds
                .iter()
                .map(|(kind, n)| format!("{kind} {n}"))
                .collect();
            format!("{database}: {}", kinds.join(", "))
        })
        .collect();
    [
        row.cluster.to_string(),
        row.role.to_string(),
        row.managed.to_string(),
        row.attributes.join(" "),
        names(&row.member_of),
        names(&row.effective_roles),
        privileges.join("; "),
        row.valid_until.clone().unwrap_or_else(|| "-".into()),
    ]
}

/// A table for the terminal, every cell escaped.
pub fn text(rows: &[ReportRow]) -> String {
    table(&HEADERS, rows.iter().map(cells))
}

/// CSV with a header row, for a spreadsheet.
pub fn csv(rows: &[ReportRow]) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(HEADERS)?;
    for row in rows {
        writer.write_record(cells(row))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A Markdown table: cells escaped, `|` and `<` made harmless.
pub fn markdown(rows: &[ReportRow]) -> String {
    let cell = |text: &str| {
        escape_controls(text)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('|', "&#124;")
            .replace('`', "&#96;")
    };
    let mut out = format!(
        "### pgroster access report\n\n| {} |\n|{}\n",
        HEADERS.join(" | "),
        "---|".repeat(HEADERS.len())
    );
    for row in rows {
        let cells: Vec<String> = cells(row).iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::privileges::{HeldPrivilege, ObjectKind, ObjectRef};
    use crate::model::MembershipOptions;

    fn cluster() -> (ClusterKey, CurrentCluster, BTreeMap<String, DatabaseState>) {
        let mut analyst = CurrentRole::bare("analyst");
        analyst.attributes.login = true;
        analyst.comment = Some("managed by pgroster".into());
        analyst
            .member_of
            .insert(RoleName::existing("readers"), MembershipOptions::default());
        let mut readers = CurrentRole::bare("readers");
        readers.member_of.insert(
            RoleName::existing("pg_read_all_data"),
            MembershipOptions::default(),
        );
        let current = CurrentCluster::bare(
            160000,
            "postgres",
            [analyst, readers, CurrentRole::bare("pg_read_all_data")],
        );
        let mut state = DatabaseState {
            database: "app".into(),
            ..Default::default()
        };
        state.held.insert(HeldPrivilege {
            grantee: RoleName::existing("analyst"),
            object: ObjectRef {
                kind: ObjectKind::Table,
                schema: Some("public".into()),
                name: "orders".into(),
                arguments: None,
                column: None,
            },
            privilege: "SELECT".into(),
            grantor: RoleName::existing("postgres"),
            grant_option: false,
        });
        let key = ClusterKey {
            host: "pg".into(),
            port: 5432,
        };
        (key, current, BTreeMap::from([("app".to_string(), state)]))
    }

    #[test]
    fn a_row_says_what_a_role_can_do_directly_and_through_its_groups() {
        let (key, current, databases) = cluster();
        let ignored = |r: &RoleName| r.as_str().starts_with("pg_");
        let rows = rows(&key, &current, &databases, &ignored);
        let analyst = rows.iter().find(|r| r.role.as_str() == "analyst").unwrap();
        assert_eq!(analyst.managed, "yes");
        assert_eq!(analyst.attributes, ["LOGIN"]);
        let effective: Vec<&str> = analyst
            .effective_roles
            .iter()
            .map(RoleName::as_str)
            .collect();
        assert_eq!(effective, ["pg_read_all_data", "readers"]);
        assert_eq!(analyst.privileges["app"]["table"], 1);
        let readers = rows.iter().find(|r| r.role.as_str() == "readers").unwrap();
        assert_eq!(readers.managed, "no");
        let csv = csv(&rows).unwrap();
        assert!(csv.starts_with("CLUSTER,ROLE,MANAGED"), "{csv}");
        assert!(
            csv.contains(
                "pg:5432,analyst,yes,LOGIN,readers,\"pg_read_all_data, readers\",app: table 1,-"
            ),
            "{csv}"
        );
        let md = markdown(&rows);
        assert!(md.contains("| pg:5432 | analyst | yes |"), "{md}");
    }
}
