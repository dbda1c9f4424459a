//! One database's objects and privileges, in a fixed number of set-based queries: every
//! privilege class PostgreSQL has, the cluster-wide ones (tablespaces, parameters) included.
//!
//! ACLs are exploded with `aclexplode`, and a NULL ACL with `acldefault`, so an object that was
//! never granted on still shows its owner's implicit privileges (docs: System Information
//! Functions, Table 9.70); a parameter never granted on shows none (`GRANTED_PARAMETERS`). PUBLIC (grantee 0) is read only where a revoke can cascade to it:
//! pgroster does not manage it.
//! Names come from `pg_get_userbyid`, a cache lookup: joining the `pg_roles` view instead
//! scans every role once per branch. System schemas are out of scope.

use super::{each_row, get, CatalogError};
use crate::model::privileges::{
    DatabaseState, DbObject, DefaultPrivilege, HeldPrivilege, ObjectKind, ObjectRef, PUBLIC,
};
use crate::model::RoleName;
use postgres::Row;

const USER_SCHEMAS: &str = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'";

/// Every routine kind: functions, procedures, aggregates and window functions, the set that
/// `ON ALL ROUTINES` and default privileges on routines cover (issue 10).
pub(super) const ROUTINE_KINDS: &str = "p.prokind IN ('f', 'p', 'a', 'w')";

/// A routine's arguments as `GRANT ... ON ROUTINE` accepts them: an ordered-set aggregate's
/// identity arguments contain `ORDER BY`, which that syntax does not parse, so aggregates are
/// named by their argument types alone.
pub(super) const ROUTINE_ARGUMENTS: &str =
    "CASE WHEN p.prokind = 'a' THEN oidvectortypes(p.proargtypes) \
     ELSE pg_get_function_identity_arguments(p.oid) END";

/// Types a privilege can be set on: not arrays, multiranges or a table's row type, whose
/// privileges PostgreSQL refuses or takes from elsewhere.
const GRANTABLE_TYPES: &str = "t.typtype IN ('b', 'c', 'd', 'e', 'r') \
     AND NOT (t.typelem <> 0 AND t.typsubscript = 'array_subscript_handler'::regproc) \
     AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')";

/// Relations whose privileges `GRANT .. ON TABLE` sets, and whose columns can hold privileges.
const TABLE_KINDS: &str = "c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')";

/// Every parameter the server knows, and the custom ones only granted on so far: what a grant
/// may name.
const ALL_PARAMETERS: &str =
    "SELECT lower(name) AS name FROM pg_settings UNION SELECT parname FROM pg_parameter_acl";

/// The parameters someone was ever granted on. Any other holds only the implicit privileges of
/// its owner, the bootstrap superuser, which no diff looks at (an owner's privileges are out of
/// scope): reading them would be two rows for each of the server's hundreds of parameters.
const GRANTED_PARAMETERS: &str = "SELECT parname AS name FROM pg_parameter_acl";

/// One branch per privilege class: kind, schema, name, arguments, column, owner, and the ACL
/// (NULL read as the owner's implicit default, `acldefault`); the two queries below select
/// from it. A column's NULL ACL means no column privileges at all, not a default.
/// Parameters (`parameters` picks which) have no owner: only superusers grant on them, as the
/// bootstrap superuser (10).
fn classes(parameters: &str) -> [String; 11] {
    [
        "SELECT 'database' AS kind, NULL::name AS schema, d.datname AS name, NULL AS arguments,
                NULL::name AS col, d.datdba AS owner, coalesce(d.datacl, acldefault('d', d.datdba)) AS acl
           FROM pg_database d WHERE d.datname = current_database()"
            .to_string(),
        format!(
            "SELECT 'schema', NULL, n.nspname, NULL, NULL, n.nspowner, coalesce(n.nspacl, acldefault('n', n.nspowner))
               FROM pg_namespace n WHERE {USER_SCHEMAS}"
        ),
        format!(
            "SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, n.nspname, c.relname, NULL, NULL,
                    c.relowner, coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner))
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE {TABLE_KINDS} AND {USER_SCHEMAS}"
        ),
        format!(
            "SELECT 'column', n.nspname, c.relname, NULL, a.attname, c.relowner, a.attacl
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {USER_SCHEMAS}"
        ),
        format!(
            "SELECT 'function', n.nspname, p.proname, {ROUTINE_ARGUMENTS}, NULL, p.proowner,
                    coalesce(p.proacl, acldefault('f', p.proowner))
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE {ROUTINE_KINDS} AND {USER_SCHEMAS}"
        ),
        format!(
            "SELECT 'type', n.nspname, t.typname, NULL, NULL, t.typowner, coalesce(t.typacl, acldefault('T', t.typowner))
               FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
              WHERE {GRANTABLE_TYPES} AND {USER_SCHEMAS}"
        ),
        "SELECT 'large_object', NULL, l.oid::text, NULL, NULL, l.lomowner, coalesce(l.lomacl, acldefault('L', l.lomowner))
           FROM pg_largeobject_metadata l"
            .to_string(),
        "SELECT 'foreign_data_wrapper', NULL, w.fdwname, NULL, NULL, w.fdwowner, coalesce(w.fdwacl, acldefault('F', w.fdwowner))
           FROM pg_foreign_data_wrapper w"
            .to_string(),
        "SELECT 'foreign_server', NULL, s.srvname, NULL, NULL, s.srvowner, coalesce(s.srvacl, acldefault('S', s.srvowner))
           FROM pg_foreign_server s"
            .to_string(),
        "SELECT 'tablespace', NULL, t.spcname, NULL, NULL, t.spcowner, coalesce(t.spcacl, acldefault('t', t.spcowner))
           FROM pg_tablespace t"
            .to_string(),
        format!(
            "SELECT 'parameter', NULL, p.name, NULL, NULL, 10::oid, coalesce(a.paracl, acldefault('p', 10))
               FROM ({parameters}) p LEFT JOIN pg_parameter_acl a ON a.parname = p.name"
        ),
    ]
}

/// Every object in scope with its owner: kind, schema, name, arguments, column, owner.
fn objects_query() -> String {
    let branches = classes(ALL_PARAMETERS);
    format!(
        "SELECT kind, schema::text, name::text, arguments, col::text, pg_get_userbyid(owner)
           FROM ({}) o",
        branches.join("\nUNION ALL\n")
    )
}

/// Every privilege held on those objects: kind, schema, name, arguments, column, grantee,
/// privilege, grantor, grant option. PUBLIC's only when someone other than the owner granted
/// it (a role passing on its grant option, which a revoke then cascades to), as `PUBLIC`.
fn privileges_query() -> String {
    let branches = classes(GRANTED_PARAMETERS);
    format!(
        "SELECT o.kind, o.schema::text, o.name::text, o.arguments, o.col::text,
                CASE WHEN a.grantee = 0 THEN '{PUBLIC}' ELSE pg_get_userbyid(a.grantee) END,
                a.privilege_type, pg_get_userbyid(a.grantor), a.is_grantable
           FROM ({}) o, aclexplode(o.acl) a
          WHERE a.grantee <> 0 OR a.grantor <> o.owner",
        branches.join("\nUNION ALL\n")
    )
}

/// Default privileges: owner, schema, object type, grantee, privilege, grant option.
const DEFAULTS_QUERY: &str = "
SELECT pg_get_userbyid(d.defaclrole), n.nspname, d.defaclobjtype::text, pg_get_userbyid(a.grantee), a.privilege_type,
       a.is_grantable
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
        "column" => Ok(ObjectKind::Column),
        "type" => Ok(ObjectKind::Type),
        "large_object" => Ok(ObjectKind::LargeObject),
        "foreign_data_wrapper" => Ok(ObjectKind::ForeignDataWrapper),
        "foreign_server" => Ok(ObjectKind::ForeignServer),
        "tablespace" => Ok(ObjectKind::Tablespace),
        "parameter" => Ok(ObjectKind::Parameter),
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
        "T" => Some(ObjectKind::Type),
        "L" => Some(ObjectKind::LargeObject),
        _ => None,
    }
}

/// An object from a row's columns kind, schema, name, arguments, and the column name at
/// `column_at` when the query has one.
pub(super) fn object(row: &Row, column_at: Option<usize>) -> Result<ObjectRef, CatalogError> {
    Ok(ObjectRef {
        kind: kind(get(row, 0)?)?,
        schema: get::<Option<&str>>(row, 1)?.map(str::to_string),
        name: get::<&str>(row, 2)?.to_string(),
        arguments: get::<Option<&str>>(row, 3)?.map(str::to_string),
        column: match column_at {
            Some(at) => get::<Option<&str>>(row, at)?.map(str::to_string),
            None => None,
        },
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
            object: object(row, Some(4))?,
            owner: RoleName::existing(get::<&str>(row, 5)?),
        });
        Ok(())
    })?;
    each_row(client, &privileges_query(), |row| {
        state.held.insert(HeldPrivilege {
            object: object(row, Some(4))?,
            grantee: RoleName::existing(get::<&str>(row, 5)?),
            privilege: get::<&str>(row, 6)?.to_string(),
            grantor: RoleName::existing(get::<&str>(row, 7)?),
            grant_option: get(row, 8)?,
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
            grant_option: get(row, 5)?,
        });
        Ok(())
    })?;
    state.objects.sort();
    Ok(state)
}
