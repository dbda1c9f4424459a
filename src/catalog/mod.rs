//! A cluster's live catalogs -> current state, in one round trip of set-based queries.
//!
//! Roles are cluster-wide, so one connection per cluster reads them all: `pg_roles` with role
//! comments, `pg_auth_members`, `pg_db_role_setting`, and `pg_database`. The queries are sent as
//! one simple-protocol batch; their cost does not grow with the number of declared roles.
//! PostgreSQL 16 added `inherit_option` and `set_option` to `pg_auth_members`; reading them
//! through `to_jsonb` keeps one query for every version (NULL before 16). A membership granted
//! by several grantors (16+) has each option if any grant has it.

use crate::connection::describe_error;
use crate::model::privileges::DatabaseState;
use crate::model::settings::canonical_value;
use crate::model::{
    AdminInfo, Attributes, CurrentCluster, CurrentRole, MembershipOptions, Memberships, RoleName,
    SettingScope,
};
pub mod privileges;

use postgres::{SimpleQueryMessage, SimpleQueryRow};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("reading the catalog failed: {0}")]
    Query(String),
    #[error("unexpected catalog value: {0}")]
    Shape(String),
}

/// The batch; the result sets come back in this order. Names are joined to oids here, on the
/// client: joining `pg_roles` three times in SQL cost ~100 ms at 10,000 roles, a hash lookup
/// costs nothing. `SELECT *` on `pg_auth_members` picks up the 16+ option columns by name
/// without a second query shape per version. A role's flags come as the bits of one integer
/// (see `RoleFlag`): the client keeps a position per column of every row until it is read.
/// Comments come separately too: joining `pg_shdescription` cost more than the rest of the
/// roles query (~8 of ~18 ms at 10,000 roles).
const CATALOG_BATCH: &str = "
SELECT current_setting('server_version_num'), current_user, r.rolsuper, r.rolcreaterole
  FROM pg_roles r WHERE r.rolname = current_user;
SELECT r.oid, r.rolname,
       -- | and << share one precedence level in PostgreSQL: every shift is in parentheses.
       r.rolsuper::int | (r.rolinherit::int << 1) | (r.rolcreaterole::int << 2)
       | (r.rolcreatedb::int << 3) | (r.rolcanlogin::int << 4) | (r.rolreplication::int << 5)
       | (r.rolbypassrls::int << 6)
       | (((SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
           OR (current_setting('server_version_num')::int < 160000 AND NOT r.rolsuper)
           OR pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION'))::int << 7)
       | (((SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
           OR pg_has_role(current_user, r.oid, 'USAGE'))::int << 8),
       r.rolconnlimit,
       CASE WHEN r.rolvaliduntil IS NULL OR r.rolvaliduntil = 'infinity' THEN NULL
            ELSE to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END
  FROM pg_roles r;
SELECT objoid, description FROM pg_shdescription WHERE classoid = 'pg_authid'::regclass;
SELECT * FROM pg_auth_members;
SELECT rs.setrole, rs.setdatabase, s.setting
  FROM pg_db_role_setting rs CROSS JOIN LATERAL unnest(rs.setconfig) AS s(setting);
SELECT oid, datname FROM pg_database;
";

type Rows = Vec<SimpleQueryRow>;

/// The flags column of the roles query, in its order.
#[derive(Clone, Copy)]
enum RoleFlag {
    Super,
    Inherit,
    CreateRole,
    CreateDb,
    Login,
    Replication,
    BypassRls,
    AdminCanAlter,
    AdminActsAs,
}

const ROLE_FLAG_COUNT: usize = RoleFlag::AdminActsAs as usize + 1;

/// One role's flags, bit `RoleFlag as usize` each.
struct RoleFlags(u32);

impl RoleFlags {
    fn read(row: &SimpleQueryRow, index: usize) -> Result<Self, CatalogError> {
        text(row, index)?
            .parse()
            .ok()
            .filter(|bits| *bits < 1 << ROLE_FLAG_COUNT)
            .map(RoleFlags)
            .ok_or_else(|| CatalogError::Shape(format!("column {index}: role flags")))
    }

    fn get(&self, flag: RoleFlag) -> bool {
        self.0 & (1 << flag as u32) != 0
    }
}

/// Result sets of `CATALOG_BATCH`.
const CATALOG_SETS: usize = 6;

/// Reads the whole cluster's role state through `client`.
pub fn read_cluster(client: &mut postgres::Client) -> Result<CurrentCluster, CatalogError> {
    cluster_state(run_batch(client, CATALOG_BATCH)?)
}

/// Reads the cluster's role state and the privileges of the database `client` is connected to,
/// in one round trip: the server runs the privilege queries while the role rows travel.
pub fn read_cluster_and_database(
    client: &mut postgres::Client,
) -> Result<(CurrentCluster, DatabaseState), CatalogError> {
    let batch = format!("{CATALOG_BATCH}{}", privileges::batch());
    let mut cluster_sets = run_batch(client, &batch)?;
    let database_sets = cluster_sets.split_off(CATALOG_SETS.min(cluster_sets.len()));
    Ok((
        cluster_state(cluster_sets)?,
        privileges::database_state(&database_sets)?,
    ))
}

/// Each result set is dropped once read: at 10,000 roles the raw rows take as much memory as
/// the state built from them.
fn cluster_state(sets: Vec<Rows>) -> Result<CurrentCluster, CatalogError> {
    let Ok([admin_rows, role_rows, comment_rows, member_rows, setting_rows, database_rows]) =
        <[Rows; CATALOG_SETS]>::try_from(sets.into_iter().take(CATALOG_SETS).collect::<Vec<_>>())
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

    let mut names: HashMap<u32, RoleName> = HashMap::with_capacity(role_rows.len());
    let mut roles = BTreeMap::new();
    for row in &role_rows {
        let name = RoleName::existing(text(row, 1)?);
        names.insert(oid(row, 0)?, name.clone());
        let flags = RoleFlags::read(row, 2)?;
        let attributes = Attributes {
            superuser: flags.get(RoleFlag::Super),
            inherit: flags.get(RoleFlag::Inherit),
            createrole: flags.get(RoleFlag::CreateRole),
            createdb: flags.get(RoleFlag::CreateDb),
            login: flags.get(RoleFlag::Login),
            replication: flags.get(RoleFlag::Replication),
            bypassrls: flags.get(RoleFlag::BypassRls),
            connection_limit: text(row, 3)?
                .parse()
                .map_err(|_| CatalogError::Shape("rolconnlimit".into()))?,
            valid_until: optional_text(row, 4),
        };
        roles.insert(
            name.clone(),
            CurrentRole {
                name,
                attributes,
                member_of: Memberships::new(),
                settings: BTreeMap::new(),
                comment: None,
                admin_can_alter: flags.get(RoleFlag::AdminCanAlter),
                admin_acts_as: flags.get(RoleFlag::AdminActsAs),
            },
        );
    }
    drop(role_rows);
    for row in &comment_rows {
        if let Some(role) = names
            .get(&oid(row, 0)?)
            .and_then(|name| roles.get_mut(name))
        {
            role.comment = optional_text(row, 1);
        }
    }
    drop(comment_rows);
    if let Some(first) = member_rows.first() {
        let column = |name: &str| first.columns().iter().position(|c| c.name() == name);
        let missing = || CatalogError::Shape("pg_auth_members lacks a column".into());
        let (member_at, group_at, admin_at) = (
            column("member").ok_or_else(missing)?,
            column("roleid").ok_or_else(missing)?,
            column("admin_option").ok_or_else(missing)?,
        );
        let (inherit_at, set_at) = (column("inherit_option"), column("set_option"));
        for row in &member_rows {
            let (Some(member), Some(group)) = (
                names.get(&oid(row, member_at)?),
                names.get(&oid(row, group_at)?),
            ) else {
                continue;
            };
            let granted = MembershipOptions {
                admin: flag(row, admin_at)?,
                inherit: inherit_at.map(|i| flag(row, i)).transpose()?,
                set: set_at.map(|i| flag(row, i)).transpose()?,
            };
            if let Some(role) = roles.get_mut(member) {
                // 16+ keeps one row per grantor; the member has an option if any grant gives it.
                match role.member_of.get_mut(group) {
                    Some(held) => {
                        held.admin |= granted.admin;
                        held.inherit = either(held.inherit, granted.inherit);
                        held.set = either(held.set, granted.set);
                    }
                    None => {
                        role.member_of.insert(group.clone(), granted);
                    }
                }
            }
        }
    }
    drop(member_rows);
    let database_names: HashMap<&str, &str> = database_rows
        .iter()
        .map(|row| Ok((text(row, 0)?, text(row, 1)?)))
        .collect::<Result<_, CatalogError>>()?;
    for row in &setting_rows {
        let Some(role) = names.get(&oid(row, 0)?) else {
            continue;
        };
        let scope = match text(row, 1)? {
            "0" => SettingScope::AllDatabases,
            oid => match database_names.get(oid) {
                Some(db) => SettingScope::Database((*db).to_string()),
                None => continue,
            },
        };
        let setting = text(row, 2)?;
        let Some((name, value)) = setting.split_once('=') else {
            continue;
        };
        if let Some(role) = roles.get_mut(role) {
            role.settings
                .entry(scope)
                .or_default()
                // PostgreSQL stores some names in its own spelling (TimeZone); names are
                // case-insensitive, and the config side lowercases them too.
                .insert(name.to_ascii_lowercase(), canonical_value(name, value));
        }
    }
    let databases = database_names.values().map(|d| (*d).to_string()).collect();
    Ok(CurrentCluster {
        server_version_num,
        admin,
        roles,
        databases,
    })
}

fn either(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(false) || b.unwrap_or(false)),
    }
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
                if let Some(set) = sets.last_mut() {
                    set.push(row);
                }
            }
            SimpleQueryMessage::CommandComplete(_) => sets.push(Vec::new()),
            _ => {}
        }
    }
    Ok(sets)
}

fn text(row: &SimpleQueryRow, index: usize) -> Result<&str, CatalogError> {
    row.get(index)
        .ok_or_else(|| CatalogError::Shape(format!("column {index} is NULL")))
}

fn oid(row: &SimpleQueryRow, index: usize) -> Result<u32, CatalogError> {
    text(row, index)?
        .parse()
        .map_err(|_| CatalogError::Shape(format!("column {index} is not an oid")))
}

fn optional_text(row: &SimpleQueryRow, index: usize) -> Option<String> {
    row.get(index).map(str::to_string)
}

fn flag(row: &SimpleQueryRow, index: usize) -> Result<bool, CatalogError> {
    match text(row, index)? {
        "t" => Ok(true),
        "f" => Ok(false),
        other => Err(CatalogError::Shape(format!(
            "column {index}: `{other}` is not a boolean"
        ))),
    }
}
