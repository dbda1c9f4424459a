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
/// `kind schema.name: PRIVILEGE` lines read with `aclexplode` (NULL ACLs expanded with `acldefault`,
/// so an owner's implicit privileges would show too). Grantor not shown; duplicates from several
/// grantors collapse.
pub fn direct_privileges(cluster: &Cluster, db: &str, role: &str) -> Vec<String> {
    column(
        cluster,
        db,
        &format!(
            "WITH r AS (SELECT oid FROM pg_roles WHERE rolname = {role}) \
             SELECT DISTINCT line FROM ( \
               SELECT 'database ' || d.datname || ': ' || a.privilege_type AS line \
                 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a \
                WHERE d.datname = current_database() AND a.grantee = (SELECT oid FROM r) \
               UNION ALL \
               SELECT 'schema ' || n.nspname || ': ' || a.privilege_type \
                 FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a \
                WHERE a.grantee = (SELECT oid FROM r) \
               UNION ALL \
               SELECT CASE WHEN c.relkind = 'S' THEN 'sequence ' ELSE 'table ' END \
                      || n.nspname || '.' || c.relname || ': ' || a.privilege_type \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, \
                      aclexplode(coalesce(c.relacl, acldefault( \
                        CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner))) a \
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') \
                  AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' \
                  AND a.grantee = (SELECT oid FROM r) \
               UNION ALL \
               SELECT 'function ' || n.nspname || '.' || p.proname || ': ' || a.privilege_type \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, \
                      aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a \
                WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' \
                  AND a.grantee = (SELECT oid FROM r) \
             ) lines ORDER BY 1",
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
