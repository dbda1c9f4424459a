//! One database's objects and privileges, in a fixed number of set-based queries.
//!
//! ACLs are exploded with `aclexplode`, and a NULL ACL with `acldefault`, so an object that was
//! never granted on still shows its owner's implicit privileges (docs: System Information
//! Functions, Table 9.70). PUBLIC (grantee 0) is filtered out: pgroster does not manage it.
//! Names come from `pg_get_userbyid`, a cache lookup: joining the `pg_roles` view instead
//! scans every role once per branch. System schemas are out of scope.

use super::{each_row, get, CatalogError};
use crate::model::privileges::{
    DatabaseState, DbObject, DefaultPrivilege, HeldPrivilege, ObjectKind, ObjectRef,
};
use crate::model::RoleName;
use postgres::Row;

const USER_SCHEMAS: &str = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'";

/// Every routine kind: functions, procedures, aggregates and window functions, the set that
/// `ON ALL ROUTINES` and default privileges on routines cover (issue 10).
const ROUTINE_KINDS: &str = "p.prokind IN ('f', 'p', 'a', 'w')";

/// A routine's arguments as `GRANT ... ON ROUTINE` accepts them: an ordered-set aggregate's
/// identity arguments contain `ORDER BY`, which that syntax does not parse, so aggregates are
/// named by their argument types alone.
const ROUTINE_ARGUMENTS: &str = "CASE WHEN p.prokind = 'a' THEN oidvectortypes(p.proargtypes) \
     ELSE pg_get_function_identity_arguments(p.oid) END";

/// Every object in scope with its owner: kind, schema, name, arguments, owner.
fn objects_query() -> String {
    format!(
        "
SELECT 'database', NULL, d.datname, NULL, pg_get_userbyid(d.datdba)
  FROM pg_database d WHERE d.datname = current_database()
UNION ALL
SELECT 'schema', NULL, n.nspname, NULL, pg_get_userbyid(n.nspowner)
  FROM pg_namespace n WHERE {USER_SCHEMAS}
UNION ALL
SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname, c.relname, NULL,
       pg_get_userbyid(c.relowner)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {USER_SCHEMAS}
UNION ALL
SELECT 'function', n.nspname, p.proname, {ROUTINE_ARGUMENTS},
       pg_get_userbyid(p.proowner)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE {ROUTINE_KINDS} AND {USER_SCHEMAS}"
    )
}

/// Every privilege held on those objects: kind, schema, name, arguments, grantee, privilege,
/// grantor.
fn privileges_query() -> String {
    format!(
        "
SELECT 'database', NULL, d.datname, NULL, pg_get_userbyid(a.grantee), a.privilege_type, pg_get_userbyid(a.grantor)
  FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
 WHERE d.datname = current_database() AND a.grantee <> 0
UNION ALL
SELECT 'schema', NULL, n.nspname, NULL, pg_get_userbyid(a.grantee), a.privilege_type, pg_get_userbyid(a.grantor)
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
 WHERE a.grantee <> 0 AND {USER_SCHEMAS}
UNION ALL
SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname, c.relname, NULL,
       pg_get_userbyid(a.grantee), a.privilege_type, pg_get_userbyid(a.grantor)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
       aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner))) a
 WHERE a.grantee <> 0 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {USER_SCHEMAS}
UNION ALL
SELECT 'function', n.nspname, p.proname, {ROUTINE_ARGUMENTS},
       pg_get_userbyid(a.grantee), a.privilege_type, pg_get_userbyid(a.grantor)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
       aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE a.grantee <> 0 AND {ROUTINE_KINDS} AND {USER_SCHEMAS}"
    )
}

/// Default privileges: owner, schema, object type, grantee, privilege.
const DEFAULTS_QUERY: &str = "
SELECT pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype::text, pg_get_userbyid(a.grantee), a.privilege_type
  FROM pg_default_acl d
  LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
       aclexplode(d.defaclacl) a
 WHERE a.grantee <> 0";

fn kind(text: &str) -> Result<ObjectKind, CatalogError> {
    match text {
        "database" => Ok(ObjectKind::Database),
        "schema" => Ok(ObjectKind::Schema),
        "table" => Ok(ObjectKind::Table),
        "sequence" => Ok(ObjectKind::Sequence),
        "function" => Ok(ObjectKind::Function),
        other => Err(CatalogError::Shape(format!("unknown object kind {other}"))),
    }
}

/// `pg_default_acl.defaclobjtype` (docs: pg_default_acl).
fn default_kind(code: &str) -> Option<ObjectKind> {
    match code {
        "r" => Some(ObjectKind::Table),
        "S" => Some(ObjectKind::Sequence),
        "f" => Some(ObjectKind::Function),
        "n" => Some(ObjectKind::Schema),
        _ => None, // types ('T') and large objects are not managed
    }
}

fn object(row: &Row) -> Result<ObjectRef, CatalogError> {
    Ok(ObjectRef {
        kind: kind(get(row, 0)?)?,
        schema: get::<Option<&str>>(row, 1)?.map(str::to_string),
        name: get::<&str>(row, 2)?.to_string(),
        arguments: get::<Option<&str>>(row, 3)?.map(str::to_string),
    })
}

pub(crate) fn read_database(client: &mut postgres::Client) -> Result<DatabaseState, CatalogError> {
    let mut state = DatabaseState::default();
    each_row(client, "SELECT current_database()::text", |row| {
        state.database = get::<&str>(row, 0)?.to_string();
        Ok(())
    })?;
    each_row(client, &objects_query(), |row| {
        state.objects.push(DbObject {
            object: object(row)?,
            owner: RoleName::existing(get::<&str>(row, 4)?),
        });
        Ok(())
    })?;
    each_row(client, &privileges_query(), |row| {
        state.held.insert(HeldPrivilege {
            object: object(row)?,
            grantee: RoleName::existing(get::<&str>(row, 4)?),
            privilege: get::<&str>(row, 5)?.to_string(),
            grantor: RoleName::existing(get::<&str>(row, 6)?),
        });
        Ok(())
    })?;
    each_row(client, DEFAULTS_QUERY, |row| {
        let Some(kind) = default_kind(get(row, 2)?) else {
            return Ok(());
        };
        state.defaults.insert(DefaultPrivilege {
            owner: RoleName::existing(get::<&str>(row, 0)?),
            schema: get::<Option<&str>>(row, 1)?.map(str::to_string),
            kind,
            grantee: RoleName::existing(get::<&str>(row, 3)?),
            privilege: get::<&str>(row, 4)?.to_string(),
        });
        Ok(())
    })?;
    state.objects.sort();
    Ok(state)
}
