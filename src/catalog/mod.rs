//! A cluster's live catalogs -> current state, in a fixed number of set-based queries.
//!
//! Roles are cluster-wide, so one connection per cluster reads them all: `pg_roles`, role
//! comments, `pg_auth_members`, `pg_database`, `pg_shdepend` (what depends on each role, per
//! database), `pg_db_role_setting` and the names in `pg_settings`, one round trip each,
//! in binary. Their number does not grow with the number of roles.
//! PostgreSQL 16 added `inherit_option` and `set_option` to `pg_auth_members` (absent before
//! 16). A membership granted by several grantors (16+) has each option if any grant has it, and
//! its grants are kept per grantor too, since each grant is revoked or changed as its grantor.

use crate::connection::describe_error;
use crate::model::settings::canonical_value;
use crate::model::{
    AdminInfo, Attributes, CurrentCluster, CurrentRole, DatabaseInfo, Dependencies,
    MembershipGrant, MembershipOptions, Memberships, RoleMap, RoleName, SettingScope, StatementLog,
};
pub(crate) mod privileges;
pub(crate) mod public;
pub(crate) mod server;
pub(crate) mod statement_log;
pub mod xact;

use postgres::types::FromSql;
use postgres::Row;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone, thiserror::Error)]
pub enum CatalogError {
    #[error("reading the catalog failed: {0}")]
    Query(String),
    #[error("unexpected catalog value: {0}")]
    Shape(String),
}

/// The admin: what it may do, and the server's version.
const ADMIN_QUERY: &str = "
SELECT current_setting('server_version_num')::int, current_user::text, r.rolsuper, r.rolcreaterole
  FROM pg_roles r WHERE r.rolname = current_user";

/// Every role. `-infinity` (the role can never log in) is kept as such, unlike `infinity` (no
/// expiry); `to_char` would turn both into NULL. Names are joined to oids on the client (a hash lookup) rather than by joining
/// `pg_roles` again in SQL for each name. `admin_can_alter`: before 16, CREATEROLE may alter any
/// role but a superuser; from 16, only those it holds ADMIN OPTION on. `admin_acts_as`: it has
/// the role's privileges (USAGE) and, from 16, may `SET ROLE` to it: apply revokes as the grantor
/// under SET ROLE, and a membership with INHERIT but not SET passed USAGE, then failed at apply
/// (issue 10).
const ROLES_QUERY: &str = "
WITH admin AS (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
SELECT r.oid, r.rolname::text,
       r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
       r.rolreplication, r.rolbypassrls,
       r.rolconnlimit,
       CASE WHEN r.rolvaliduntil IS NULL OR r.rolvaliduntil = 'infinity' THEN NULL
            WHEN r.rolvaliduntil = '-infinity' THEN '-infinity'
            ELSE to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END,
       admin.rolsuper
         OR (current_setting('server_version_num')::int < 160000 AND NOT r.rolsuper)
         OR pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION') AS admin_can_alter,
       admin.rolsuper
         OR (pg_has_role(current_user, r.oid, 'USAGE')
             AND CASE WHEN current_setting('server_version_num')::int >= 160000
                      THEN pg_has_role(current_user, r.oid, 'SET') ELSE true END) AS admin_acts_as
  FROM pg_roles r CROSS JOIN admin";

/// Role comments, in a query of their own: joining `pg_shdescription` into the roles query
/// cost more than the rest of it.
const COMMENTS_QUERY: &str =
    "SELECT objoid, description FROM pg_shdescription WHERE classoid = 'pg_authid'::regclass";

/// `SELECT *` picks up the 16+ option columns by name without a query per version.
const MEMBERSHIPS_QUERY: &str = "SELECT * FROM pg_auth_members";

const DATABASES_QUERY: &str = "
SELECT oid, datname::text, pg_get_userbyid(datdba), datallowconn, datistemplate FROM pg_database";

/// What depends on each role, per database (0: shared objects), from `pg_shdepend`: owned
/// objects ('o'), and privileges, initial privileges and policies ('a', 'i', 'r').
const DEPENDENCIES_QUERY: &str = "
SELECT refobjid, dbid, count(*) FILTER (WHERE deptype = 'o'), count(*) FILTER (WHERE deptype <> 'o')
  FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass GROUP BY refobjid, dbid";

const SETTING_NAMES_QUERY: &str = "SELECT lower(name) FROM pg_settings";

const SETTINGS_QUERY: &str = "
SELECT rs.setrole, rs.setdatabase, s.setting
  FROM pg_db_role_setting rs CROSS JOIN LATERAL unnest(rs.setconfig) AS s(setting)";

/// Reads the whole cluster's role state through `client`.
pub fn read_cluster(client: &mut postgres::Client) -> Result<CurrentCluster, CatalogError> {
    let mut admin = None;
    each_row(client, ADMIN_QUERY, |row| {
        admin = Some((
            get::<i32>(row, 0)?,
            AdminInfo {
                name: get::<&str>(row, 1)?.to_string(),
                superuser: get(row, 2)?,
                createrole: get(row, 3)?,
                statement_log: StatementLog::default(),
            },
        ));
        Ok(())
    })?;
    let (server_version_num, mut admin) =
        admin.ok_or_else(|| CatalogError::Shape("the admin role is not in pg_roles".into()))?;
    admin.statement_log = statement_log::read(client, server_version_num)?;

    // Roles in the order they come, found by oid; sorted by name at the end.
    let mut roles: Vec<CurrentRole> = Vec::new();
    let mut by_oid: HashMap<u32, usize> = HashMap::new();
    each_row(client, ROLES_QUERY, |row| {
        by_oid.insert(get(row, 0)?, roles.len());
        roles.push(CurrentRole {
            name: RoleName::existing(get::<&str>(row, 1)?),
            attributes: Attributes {
                superuser: get(row, 2)?,
                inherit: get(row, 3)?,
                createrole: get(row, 4)?,
                createdb: get(row, 5)?,
                login: get(row, 6)?,
                replication: get(row, 7)?,
                bypassrls: get(row, 8)?,
                connection_limit: get(row, 9)?,
                valid_until: get::<Option<&str>>(row, 10)?.map(str::to_string),
            },
            member_of: Memberships::new(),
            membership_grants: BTreeMap::new(),
            settings: BTreeMap::new(),
            comment: None,
            admin_can_alter: get(row, 11)?,
            admin_acts_as: get(row, 12)?,
            dependencies: Vec::new(),
        });
        Ok(())
    })?;
    let role_at = |oid: u32| by_oid.get(&oid).copied();

    each_row(client, COMMENTS_QUERY, |row| {
        if let Some(i) = role_at(get(row, 0)?) {
            roles[i].comment = get::<Option<&str>>(row, 1)?.map(str::to_string);
        }
        Ok(())
    })?;

    let mut columns = None;
    each_row(client, MEMBERSHIPS_QUERY, |row| {
        let (member_at, group_at, grantor_at, admin_at, inherit_at, set_at) = match columns {
            Some(columns) => columns,
            None => {
                let column = |name: &str| row.columns().iter().position(|c| c.name() == name);
                let missing = || CatalogError::Shape("pg_auth_members lacks a column".into());
                *columns.insert((
                    column("member").ok_or_else(missing)?,
                    column("roleid").ok_or_else(missing)?,
                    column("grantor").ok_or_else(missing)?,
                    column("admin_option").ok_or_else(missing)?,
                    column("inherit_option"),
                    column("set_option"),
                ))
            }
        };
        let (Some(member), Some(group)) =
            (role_at(get(row, member_at)?), role_at(get(row, group_at)?))
        else {
            return Ok(());
        };
        let granted = MembershipOptions {
            admin: get(row, admin_at)?,
            inherit: inherit_at.map(|i| get(row, i)).transpose()?,
            set: set_at.map(|i| get(row, i)).transpose()?,
        };
        let group = roles[group].name.clone();
        // Before 16 the pair is one grant, revoked whoever made it; the grantor only matters
        // from 16, where each grantor's grant is a row of its own. A grantor that no longer
        // resolves leaves the grant to a plain revoke.
        if server_version_num >= 160000 {
            if let Some(grantor) = role_at(get(row, grantor_at)?) {
                let grantor = roles[grantor].name.clone();
                roles[member]
                    .membership_grants
                    .entry(group.clone())
                    .or_default()
                    .push(MembershipGrant {
                        grantor,
                        options: granted,
                    });
            }
        }
        let member_of = &mut roles[member].member_of;
        // 16+ keeps one row per grantor; the member has an option if any grant gives it.
        match member_of.get_mut(&group) {
            Some(held) => *held = held.union(granted),
            None => {
                member_of.insert(group, granted);
            }
        }
        Ok(())
    })?;

    let mut databases: HashMap<u32, String> = HashMap::new();
    let mut database_info = BTreeMap::new();
    each_row(client, DATABASES_QUERY, |row| {
        let name = get::<&str>(row, 1)?.to_string();
        database_info.insert(
            name.clone(),
            DatabaseInfo {
                owner: RoleName::existing(get::<&str>(row, 2)?),
                allows_connections: get(row, 3)?,
                is_template: get(row, 4)?,
            },
        );
        databases.insert(get(row, 0)?, name);
        Ok(())
    })?;
    each_row(client, DEPENDENCIES_QUERY, |row| {
        let Some(role) = role_at(get(row, 0)?) else {
            return Ok(());
        };
        let database = match get::<u32>(row, 1)? {
            0 => None,
            oid => Some(
                databases
                    .get(&oid)
                    .cloned()
                    .unwrap_or_else(|| oid.to_string()),
            ),
        };
        roles[role].dependencies.push(Dependencies {
            database,
            owned: get(row, 2)?,
            privileges: get(row, 3)?,
        });
        Ok(())
    })?;
    for role in &mut roles {
        role.dependencies.sort();
    }

    each_row(client, SETTINGS_QUERY, |row| {
        let Some(role) = role_at(get(row, 0)?) else {
            return Ok(());
        };
        let scope = match get::<u32>(row, 1)? {
            0 => SettingScope::AllDatabases,
            oid => match databases.get(&oid) {
                Some(db) => SettingScope::Database(db.clone()),
                None => return Ok(()),
            },
        };
        let Some((name, value)) = get::<&str>(row, 2)?.split_once('=') else {
            return Ok(());
        };
        roles[role]
            .settings
            .entry(scope)
            .or_default()
            // PostgreSQL stores some names in its own spelling (TimeZone); names are
            // case-insensitive, and the config side lowercases them too.
            .insert(name.to_ascii_lowercase(), canonical_value(name, value));
        Ok(())
    })?;
    let mut setting_names = BTreeSet::new();
    each_row(client, SETTING_NAMES_QUERY, |row| {
        setting_names.insert(get::<&str>(row, 0)?.to_string());
        Ok(())
    })?;
    Ok(CurrentCluster {
        server_version_num,
        admin,
        roles: RoleMap::from_vec(roles),
        databases: databases.into_values().collect(),
        database_info,
        setting_names,
    })
}

/// Runs one query in one round trip and hands each row to `each`. Only one query's rows are
/// held at a time.
pub(super) fn each_row(
    client: &mut postgres::Client,
    sql: &str,
    mut each: impl FnMut(&Row) -> Result<(), CatalogError>,
) -> Result<(), CatalogError> {
    let query_error = |e: postgres::Error| CatalogError::Query(describe_error(&e));
    let rows = client.query_typed(sql, &[]).map_err(query_error)?;
    for row in &rows {
        each(row)?;
    }
    Ok(())
}

/// A column as `T`; a type or NULL that does not fit is a shape error.
pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, CatalogError> {
    row.try_get(index)
        .map_err(|e| CatalogError::Shape(format!("column {index}: {e}")))
}
