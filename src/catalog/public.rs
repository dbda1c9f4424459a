//! One database's PUBLIC privileges on what `public_privileges` names, and the privileges roles
//! hold in the system schemas, in a fixed number of set-based queries.
//!
//! A NULL ACL is PostgreSQL's default (`acldefault`), which gives PUBLIC TEMPORARY on a
//! database and EXECUTE on a routine (docs: Privileges, table 5.2); a routine owner's global
//! default privileges decide the same for routines created later (docs: ALTER DEFAULT
//! PRIVILEGES). System-schema grants are read from explicit ACLs only: a default ACL grants
//! nobody but the owner and PUBLIC.

use super::privileges::{object, ROUTINE_ARGUMENTS, ROUTINE_KINDS};
use super::{get, CatalogError};
use crate::connection::describe_error;
use crate::model::public::{
    PublicHeld, PublicPolicy, PublicState, SystemGrant, LARGE_OBJECT_CREATORS,
};
use crate::model::RoleName;
use postgres::types::{ToSql, Type};
use postgres::Row;

/// PUBLIC's privileges on the policy's objects: kind, schema, name, arguments, privilege,
/// grantor. $1: TEMPORARY on the database; $2: schemas for CREATE; $3: schemas for EXECUTE;
/// $4: large-object routines. Routines are named as `catalog::privileges` names them (an
/// ordered-set aggregate by its argument types, which `ON ROUTINE` parses).
fn public_query() -> String {
    format!(
        "
SELECT 'database', NULL, d.datname::text, NULL, a.privilege_type, pg_get_userbyid(a.grantor)
  FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
 WHERE $1 AND d.datname = current_database() AND a.grantee = 0 AND a.privilege_type = 'TEMPORARY'
UNION ALL
SELECT 'schema', NULL, n.nspname::text, NULL, a.privilege_type, pg_get_userbyid(a.grantor)
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
 WHERE n.nspname::text = ANY($2) AND a.grantee = 0 AND a.privilege_type = 'CREATE'
UNION ALL
SELECT 'function', n.nspname::text, p.proname::text, {ROUTINE_ARGUMENTS},
       a.privilege_type, pg_get_userbyid(a.grantor)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
       aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE {ROUTINE_KINDS} AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
   AND (n.nspname::text = ANY($3)
        OR (n.nspname = 'pg_catalog' AND p.proname::text = ANY($4)))"
    )
}

/// The policy's schemas that exist. $1: every schema the policy names.
const SCHEMAS_QUERY: &str = "SELECT nspname::text FROM pg_namespace WHERE nspname::text = ANY($1)";

/// Owners of the routines in the schemas $1, and of those schemas (the database owner for
/// `pg_database_owner`, which creates nothing itself), whose routines created later would be
/// PUBLIC-executable: a schema's default privileges only add to the global ones, so only the
/// global entry can take PUBLIC's EXECUTE away (docs: ALTER DEFAULT PRIVILEGES).
const EXECUTE_BY_DEFAULT_QUERY: &str = "
WITH owners AS (
  SELECT p.proowner AS owner
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname::text = ANY($1) AND p.prokind IN ('f', 'p', 'a', 'w')
  UNION
  SELECT CASE WHEN pg_get_userbyid(n.nspowner) = 'pg_database_owner'
              THEN (SELECT d.datdba FROM pg_database d WHERE d.datname = current_database())
              ELSE n.nspowner END
    FROM pg_namespace n WHERE n.nspname::text = ANY($1)
)
SELECT pg_get_userbyid(o.owner)
  FROM owners o
  LEFT JOIN pg_default_acl d
         ON d.defaclrole = o.owner AND d.defaclnamespace = 0 AND d.defaclobjtype = 'f'
 CROSS JOIN LATERAL aclexplode(coalesce(d.defaclacl, acldefault('f', o.owner))) a
 WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'";

/// Privileges held by roles other than PUBLIC and the owner on routines, tables and views in
/// `pg_catalog` and `information_schema` (`GRANT EXECUTE ON FUNCTION pg_read_file(text)`):
/// kind, schema, name, arguments, grantee, privilege.
const SYSTEM_GRANTS_QUERY: &str = "
SELECT 'function', n.nspname::text, p.proname::text, pg_get_function_identity_arguments(p.oid),
       pg_get_userbyid(a.grantee), a.privilege_type
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a
 WHERE n.nspname IN ('pg_catalog', 'information_schema')
   AND a.grantee <> 0 AND a.grantee <> p.proowner
UNION ALL
SELECT 'table', n.nspname::text, c.relname::text, NULL, pg_get_userbyid(a.grantee), a.privilege_type
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
 WHERE n.nspname IN ('pg_catalog', 'information_schema')
   AND a.grantee <> 0 AND a.grantee <> c.relowner";

fn rows(
    client: &mut postgres::Client,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Vec<Row>, CatalogError> {
    client
        .query_typed(sql, params)
        .map_err(|e| CatalogError::Query(describe_error(&e)))
}

/// What the policy (when there is one) and the system-schema warnings need from the database
/// `client` is connected to, `database` (as `catalog::privileges::read_database` found it).
pub(crate) fn read_database(
    client: &mut postgres::Client,
    database: &str,
    policy: Option<&PublicPolicy>,
) -> Result<PublicState, CatalogError> {
    let mut state = PublicState {
        database: database.to_string(),
        ..PublicState::default()
    };
    if let Some(policy) = policy {
        let create: Vec<&str> = policy
            .revoke_create_on_schemas
            .iter()
            .map(String::as_str)
            .collect();
        let execute: Vec<&str> = policy
            .revoke_execute_in_schemas
            .iter()
            .map(String::as_str)
            .collect();
        let large_objects: Vec<&str> = if policy.revoke_large_object_create {
            LARGE_OBJECT_CREATORS.to_vec()
        } else {
            Vec::new()
        };
        let all: Vec<&str> = create.iter().chain(&execute).copied().collect();
        for row in rows(client, SCHEMAS_QUERY, &[(&all, Type::TEXT_ARRAY)])? {
            state.schemas.insert(get::<&str>(&row, 0)?.to_string());
        }
        let params: [(&(dyn ToSql + Sync), Type); 4] = [
            (&policy.revoke_temporary, Type::BOOL),
            (&create, Type::TEXT_ARRAY),
            (&execute, Type::TEXT_ARRAY),
            (&large_objects, Type::TEXT_ARRAY),
        ];
        for row in rows(client, &public_query(), &params)? {
            state.held.insert(PublicHeld {
                object: object(&row, None)?,
                privilege: get::<&str>(&row, 4)?.to_string(),
                grantor: RoleName::existing(get::<&str>(&row, 5)?),
            });
        }
        if !execute.is_empty() {
            let params: [(&(dyn ToSql + Sync), Type); 1] = [(&execute, Type::TEXT_ARRAY)];
            for row in rows(client, EXECUTE_BY_DEFAULT_QUERY, &params)? {
                state
                    .execute_by_default
                    .insert(RoleName::existing(get::<&str>(&row, 0)?));
            }
        }
    }
    for row in rows(client, SYSTEM_GRANTS_QUERY, &[])? {
        state.system_grants.insert(SystemGrant {
            object: object(&row, None)?,
            grantee: RoleName::existing(get::<&str>(&row, 4)?),
            privilege: get::<&str>(&row, 5)?.to_string(),
        });
    }
    Ok(state)
}
