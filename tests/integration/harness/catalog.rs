//! What the catalog says about roles (pg_roles, pg_authid, pg_auth_members, pg_db_role_setting,
//! pg_shdescription), read directly, and whether a role really logs in. Roles are cluster-wide, so
//! these read the `postgres` database.

use super::sql::{column, lit, scalar};
use super::Cluster;
use postgres::error::SqlState;

pub fn role_exists(cluster: &Cluster, role: &str) -> bool {
    scalar(
        cluster,
        "postgres",
        &format!(
            "SELECT count(*) FROM pg_roles WHERE rolname = {}",
            lit(role)
        ),
    ) == "1"
}

pub fn role_count(cluster: &Cluster) -> usize {
    scalar(cluster, "postgres", "SELECT count(*) FROM pg_roles")
        .parse()
        .unwrap()
}

/// Everything about every role that pgroster could touch, one row per role: attributes,
/// password verifier, comment, memberships and per-database settings. Equal snapshots before and
/// after a run prove that it changed nothing.
pub fn catalog_snapshot(cluster: &Cluster) -> Vec<Vec<Option<String>>> {
    cluster.query_strings(
        "postgres",
        "SELECT a.rolname, a.rolsuper::text, a.rolinherit::text, a.rolcreaterole::text,
                a.rolcreatedb::text, a.rolcanlogin::text, a.rolreplication::text,
                a.rolbypassrls::text, a.rolconnlimit::text, a.rolvaliduntil::text, a.rolpassword,
                shobj_description(a.oid, 'pg_authid'),
                (SELECT string_agg(g.rolname, ',' ORDER BY g.rolname)
                   FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE m.member = a.oid),
                (SELECT string_agg(coalesce(d.datname, '*') || ':' || array_to_string(s.setconfig, ','),
                                   ';' ORDER BY d.datname)
                   FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase
                  WHERE s.setrole = a.oid)
           FROM pg_authid a ORDER BY a.rolname",
    )
}

/// The attributes pgroster manages, as one comparable line.
#[track_caller]
pub fn attrs(cluster: &Cluster, role: &str) -> String {
    scalar(
        cluster,
        "postgres",
        &format!(
            "SELECT 'login=' || rolcanlogin::text || ' limit=' || rolconnlimit::text \
             || ' until=' || coalesce(CASE WHEN isfinite(rolvaliduntil) \
                THEN to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') \
                ELSE rolvaliduntil::text END, 'never') \
             || ' createdb=' || rolcreatedb::text || ' createrole=' || rolcreaterole::text \
             || ' superuser=' || rolsuper::text \
             FROM pg_roles WHERE rolname = {}",
            lit(role)
        ),
    )
}

/// `database: name=value` per setting of `role`, `(role-wide)` for settings in every database.
pub fn settings(cluster: &Cluster, role: &str) -> Vec<String> {
    column(
        cluster,
        "postgres",
        &format!(
            "SELECT coalesce(d.datname, '(role-wide)') || ': ' || s \
             FROM pg_db_role_setting rs \
             JOIN pg_roles r ON r.oid = rs.setrole \
             LEFT JOIN pg_database d ON d.oid = rs.setdatabase \
             CROSS JOIN LATERAL unnest(rs.setconfig) AS s \
             WHERE r.rolname = {} ORDER BY 1",
            lit(role)
        ),
    )
}

/// The groups `role` is a member of, by name only (see [`memberships`] for the options).
pub fn member_of(cluster: &Cluster, role: &str) -> Vec<String> {
    column(
        cluster,
        "postgres",
        &format!(
            "SELECT DISTINCT g.rolname FROM pg_auth_members am \
             JOIN pg_roles m ON m.oid = am.member JOIN pg_roles g ON g.oid = am.roleid \
             WHERE m.rolname = {} ORDER BY 1",
            lit(role)
        ),
    )
}

/// `group admin=.. [inherit=.. set=..]` for each membership of `role` (options from PostgreSQL 16).
pub fn memberships(cluster: &Cluster, role: &str) -> Vec<String> {
    let options = if cluster.major_version() >= 16 {
        " || ' inherit=' || bool_or(am.inherit_option)::text || ' set=' || bool_or(am.set_option)::text"
    } else {
        ""
    };
    column(
        cluster,
        "postgres",
        &format!(
            "SELECT g.rolname || ' admin=' || bool_or(am.admin_option)::text{options} \
               FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member \
               JOIN pg_roles g ON g.oid = am.roleid \
              WHERE m.rolname = {} GROUP BY g.rolname ORDER BY 1",
            lit(role)
        ),
    )
}

/// The role's comment (pg_shdescription), `NULL` when it has none.
#[track_caller]
pub fn comment(cluster: &Cluster, role: &str) -> String {
    scalar(
        cluster,
        "postgres",
        &format!(
            "SELECT d.description FROM pg_roles r \
             LEFT JOIN pg_shdescription d \
               ON d.objoid = r.oid AND d.classoid = 'pg_authid'::regclass \
             WHERE r.rolname = {}",
            lit(role)
        ),
    )
}

/// pg_authid.rolpassword: the stored verifier, `NULL` when the role has no password.
#[track_caller]
pub fn stored_password(cluster: &Cluster, role: &str) -> String {
    scalar(
        cluster,
        "postgres",
        &format!(
            "SELECT rolpassword FROM pg_authid WHERE rolname = {}",
            lit(role)
        ),
    )
}

/// Whether `role` can log in to `db` with `password` over TCP (SCRAM). A wrong password must be
/// refused as such, not for some other reason.
#[track_caller]
pub fn logs_in(cluster: &Cluster, role: &str, password: &str, db: &str) -> bool {
    match cluster.connect(role, password, db) {
        Ok(mut client) => {
            let who: String = client
                .query_one("SELECT current_user::text", &[])
                .unwrap()
                .get(0);
            assert_eq!(who, role);
            true
        }
        Err(e) => {
            let code = e.as_db_error().map(|d| d.code().clone());
            assert_eq!(
                code,
                Some(SqlState::INVALID_PASSWORD),
                "{role} could not log in for another reason than its password: {e}"
            );
            false
        }
    }
}
