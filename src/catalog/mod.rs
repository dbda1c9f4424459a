//! A cluster's live catalogs -> current state, in one round trip of set-based queries.
//!
//! Roles are cluster-wide, so one connection per cluster reads them all: `pg_roles` with role
//! comments, `pg_auth_members`, `pg_db_role_setting`, and `pg_database`. The queries are sent as
//! one simple-protocol batch; their cost does not grow with the number of declared roles.
//! PostgreSQL 16 added `inherit_option` and `set_option` to `pg_auth_members`; reading them
//! through `to_jsonb` keeps one query for every version (NULL before 16). A membership granted
//! by several grantors (16+) has each option if any grant has it.

use crate::connection::describe_error;
use crate::model::settings::canonical_value;
use crate::model::{
    AdminInfo, Attributes, CurrentCluster, CurrentRole, MembershipOptions, Memberships, RoleName,
    SettingScope,
};
pub mod privileges;

use postgres::SimpleQueryMessage;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("reading the catalog failed: {0}")]
    Query(String),
    #[error("unexpected catalog value: {0}")]
    Shape(String),
}

/// The batch; the result sets come back in this order.
const CATALOG_BATCH: &str = "
SELECT current_setting('server_version_num'), current_user, r.rolsuper, r.rolcreaterole
  FROM pg_roles r WHERE r.rolname = current_user;
SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
       r.rolreplication, r.rolbypassrls, r.rolconnlimit,
       CASE WHEN r.rolvaliduntil IS NULL OR r.rolvaliduntil = 'infinity' THEN NULL
            ELSE to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END,
       d.description,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
         OR (current_setting('server_version_num')::int < 160000 AND NOT r.rolsuper)
         OR pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION'),
       pg_has_role(current_user, r.oid, 'USAGE')
  FROM pg_roles r
  LEFT JOIN pg_shdescription d ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass;
SELECT m.rolname, g.rolname, bool_or(am.admin_option),
       bool_or((to_jsonb(am) ->> 'inherit_option')::boolean),
       bool_or((to_jsonb(am) ->> 'set_option')::boolean)
  FROM pg_auth_members am
  JOIN pg_roles m ON m.oid = am.member
  JOIN pg_roles g ON g.oid = am.roleid
 GROUP BY 1, 2;
SELECT r.rolname, d.datname, s.setting
  FROM pg_db_role_setting rs
  JOIN pg_roles r ON r.oid = rs.setrole
  LEFT JOIN pg_database d ON d.oid = rs.setdatabase
  CROSS JOIN LATERAL unnest(rs.setconfig) AS s(setting);
SELECT datname FROM pg_database;
";

type Rows = Vec<Vec<Option<String>>>;

/// Reads the whole cluster's role state through `client`.
pub fn read_cluster(client: &mut postgres::Client) -> Result<CurrentCluster, CatalogError> {
    let sets = run_batch(client, CATALOG_BATCH)?;
    let [admin_rows, role_rows, member_rows, setting_rows, database_rows, ..] = sets.as_slice()
    else {
        return Err(CatalogError::Shape("fewer result sets than queries".into()));
    };
    let admin_row = admin_rows
        .first()
        .ok_or_else(|| CatalogError::Shape("the admin role is not in pg_roles".into()))?;
    let server_version_num = text(admin_row, 0)?
        .parse()
        .map_err(|_| CatalogError::Shape("server_version_num".into()))?;
    let admin = AdminInfo {
        name: text(admin_row, 1)?.to_string(),
        superuser: flag(admin_row, 2)?,
        createrole: flag(admin_row, 3)?,
    };

    let mut roles = BTreeMap::new();
    for row in role_rows {
        let name = RoleName::existing(text(row, 0)?);
        let attributes = Attributes {
            superuser: flag(row, 1)?,
            inherit: flag(row, 2)?,
            createrole: flag(row, 3)?,
            createdb: flag(row, 4)?,
            login: flag(row, 5)?,
            replication: flag(row, 6)?,
            bypassrls: flag(row, 7)?,
            connection_limit: text(row, 8)?
                .parse()
                .map_err(|_| CatalogError::Shape("rolconnlimit".into()))?,
            valid_until: row.get(9).cloned().flatten(),
        };
        roles.insert(
            name.clone(),
            CurrentRole {
                name,
                attributes,
                member_of: Memberships::new(),
                settings: BTreeMap::new(),
                comment: row.get(10).cloned().flatten(),
                admin_can_alter: flag(row, 11)?,
                admin_acts_as: flag(row, 12)?,
            },
        );
    }
    for row in member_rows {
        let member = RoleName::existing(text(row, 0)?);
        let group = RoleName::existing(text(row, 1)?);
        if let Some(role) = roles.get_mut(&member) {
            let options = MembershipOptions {
                admin: flag(row, 2)?,
                inherit: optional_flag(row, 3)?,
                set: optional_flag(row, 4)?,
            };
            role.member_of.insert(group, options);
        }
    }
    for row in setting_rows {
        let role = RoleName::existing(text(row, 0)?);
        let scope = match row.get(1).cloned().flatten() {
            Some(db) => SettingScope::Database(db),
            None => SettingScope::AllDatabases,
        };
        let setting = text(row, 2)?;
        let Some((name, value)) = setting.split_once('=') else {
            continue;
        };
        if let Some(role) = roles.get_mut(&role) {
            role.settings
                .entry(scope)
                .or_default()
                // PostgreSQL stores some names in its own spelling (TimeZone); names are
                // case-insensitive, and the config side lowercases them too.
                .insert(name.to_ascii_lowercase(), canonical_value(name, value));
        }
    }
    let databases = database_rows
        .iter()
        .map(|row| text(row, 0).map(str::to_string))
        .collect::<Result<_, _>>()?;
    Ok(CurrentCluster {
        server_version_num,
        admin,
        roles,
        databases,
    })
}

/// Runs a batch of queries in one round trip; one row set per query, in order.
fn run_batch(client: &mut postgres::Client, sql: &str) -> Result<Vec<Rows>, CatalogError> {
    let messages = client
        .simple_query(sql)
        .map_err(|e| CatalogError::Query(describe_error(&e)))?;
    let mut sets: Vec<Rows> = vec![Vec::new()];
    for message in messages {
        match message {
            SimpleQueryMessage::Row(row) => {
                let values = (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect();
                if let Some(set) = sets.last_mut() {
                    set.push(values);
                }
            }
            SimpleQueryMessage::CommandComplete(_) => sets.push(Vec::new()),
            _ => {}
        }
    }
    Ok(sets)
}

fn text(row: &[Option<String>], index: usize) -> Result<&str, CatalogError> {
    row.get(index)
        .and_then(|v| v.as_deref())
        .ok_or_else(|| CatalogError::Shape(format!("column {index} is NULL")))
}

fn optional_flag(row: &[Option<String>], index: usize) -> Result<Option<bool>, CatalogError> {
    match row.get(index).and_then(|v| v.as_deref()) {
        None => Ok(None),
        Some(_) => flag(row, index).map(Some),
    }
}

fn flag(row: &[Option<String>], index: usize) -> Result<bool, CatalogError> {
    match text(row, index)? {
        "t" => Ok(true),
        "f" => Ok(false),
        other => Err(CatalogError::Shape(format!(
            "column {index}: `{other}` is not a boolean"
        ))),
    }
}
