//! Privileges as the catalog holds them: `aclexplode` over every ACL (NULL ACLs expanded with
//! `acldefault`), `pg_default_acl`, and `has_*_privilege` for what a role can really do.

use super::sql::{column, ident, lit, scalar};
use super::Cluster;

/// `has_table_privilege(role, '"schema"."table"', privilege)`: direct, via groups or via PUBLIC.
#[track_caller]
pub fn can_table(
    cluster: &Cluster,
    db: &str,
    role: &str,
    schema: &str,
    table: &str,
    p: &str,
) -> bool {
    scalar(
        cluster,
        db,
        &format!(
            "SELECT has_table_privilege({}, {}, {})",
            lit(role),
            lit(&format!("{}.{}", ident(schema), ident(table))),
            lit(p)
        ),
    ) == "t"
}

/// The privileges granted to `role` itself (not via groups, not via PUBLIC) in `db`, as sorted
/// `kind name: PRIVILEGE` lines read with `aclexplode` over every privilege class (NULL ACLs
/// expanded with `acldefault`, so an owner's implicit privileges would show too); ` WITH GRANT
/// OPTION` when held with it. Grantor not shown; duplicates from several grantors collapse.
pub fn direct_privileges(cluster: &Cluster, db: &str, role: &str) -> Vec<String> {
    let user_schema = "n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'";
    column(
        cluster,
        db,
        &format!(
            "WITH r AS (SELECT oid FROM pg_roles WHERE rolname = {role}), \
             acls(label, acl) AS ( \
               SELECT 'database ' || d.datname, coalesce(d.datacl, acldefault('d', d.datdba)) \
                 FROM pg_database d WHERE d.datname = current_database() \
               UNION ALL \
               SELECT 'schema ' || n.nspname, coalesce(n.nspacl, acldefault('n', n.nspowner)) \
                 FROM pg_namespace n \
               UNION ALL \
               SELECT CASE WHEN c.relkind = 'S' THEN 'sequence ' ELSE 'table ' END \
                      || n.nspname || '.' || c.relname, \
                      coalesce(c.relacl, acldefault( \
                        CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner)) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {user_schema} \
               UNION ALL \
               SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname, a.attacl \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                WHERE a.attnum > 0 AND a.attacl IS NOT NULL AND {user_schema} \
               UNION ALL \
               SELECT 'function ' || n.nspname || '.' || p.proname, \
                      coalesce(p.proacl, acldefault('f', p.proowner)) \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {user_schema} \
               UNION ALL \
               SELECT 'type ' || n.nspname || '.' || t.typname, t.typacl \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {user_schema} \
               UNION ALL \
               SELECT 'large object ' || l.oid, l.lomacl FROM pg_largeobject_metadata l \
               UNION ALL \
               SELECT 'foreign data wrapper ' || w.fdwname, w.fdwacl FROM pg_foreign_data_wrapper w \
               UNION ALL \
               SELECT 'foreign server ' || s.srvname, s.srvacl FROM pg_foreign_server s \
               UNION ALL \
               SELECT 'tablespace ' || t.spcname, t.spcacl FROM pg_tablespace t \
               UNION ALL \
               SELECT 'parameter ' || p.parname, p.paracl FROM pg_parameter_acl p \
             ) \
             SELECT DISTINCT label || ': ' || a.privilege_type \
                    || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END \
               FROM acls, aclexplode(acls.acl) a \
              WHERE a.grantee = (SELECT oid FROM r) ORDER BY 1",
            role = lit(role)
        ),
    )
}

/// The direct privileges of `role` on one table, sorted.
pub fn table_privileges(
    cluster: &Cluster,
    db: &str,
    role: &str,
    schema: &str,
    table: &str,
) -> Vec<String> {
    let prefix = format!("table {schema}.{table}: ");
    direct_privileges(cluster, db, role)
        .into_iter()
        .filter_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

/// `owner schema kind: PRIVILEGE` for every default privilege whose grantee is `role` in `db`
/// (`(all)` for a default privilege not limited to one schema).
pub fn default_privileges(cluster: &Cluster, db: &str, role: &str) -> Vec<String> {
    column(
        cluster,
        db,
        &format!(
            "SELECT DISTINCT pg_get_userbyid(d.defaclrole) || ' ' || coalesce(n.nspname, '(all)') \
                    || ' ' || d.defaclobjtype::text || ': ' || a.privilege_type \
               FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, \
                    aclexplode(d.defaclacl) a \
              WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = {}) ORDER BY 1",
            lit(role)
        ),
    )
}

/// PUBLIC's privileges on the current database, sorted.
pub fn public_database_privileges(cluster: &Cluster, db: &str) -> Vec<String> {
    column(
        cluster,
        db,
        "SELECT a.privilege_type FROM pg_database d, \
                aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a \
          WHERE d.datname = current_database() AND a.grantee = 0 ORDER BY 1",
    )
}
