//! `[settings] public_privileges` (issue 10): PostgreSQL's PUBLIC defaults let a `readonly` role
//! create temporary tables, create in schemas open to PUBLIC, call PUBLIC-executable SECURITY
//! DEFINER functions and create large objects. With the policy each of these fails, the plan is
//! empty afterwards, and routines created later stay closed; without it PUBLIC's ACLs are left
//! byte for byte. Grants in the system schemas held by a declared role are listed, not revoked.

use crate::harness::{
    assert_has, assert_lacks, audit_entries, column, creds_path, exec, exec_as, password_of,
    read_credentials, registry_toml, run_id, scalar, sqlstate, text_of, with_settings, AdminKind,
    Cluster, Scenario, CREATEROLE_ADMIN,
};
use postgres::error::SqlState;

const ROLES: &str = r#"
roles:
  - name: analyst
    profile: readonly
    targets: ["prod/appdb"]
"#;

/// The policy as a `[settings]` line, with or without `revoke_large_object_create`.
fn policy(large_objects: bool) -> String {
    format!(
        "public_privileges = {{ revoke_temporary = true, revoke_create_on_schemas = [\"public\"], \
         revoke_execute_in_schemas = [\"public\", \"nosuch\"], \
         revoke_large_object_create = {large_objects} }}"
    )
}

/// PUBLIC's ACL entries on what the policy names (NULL ACLs expanded with `acldefault`; a
/// grant to another role turns a NULL ACL into its explicit form), and the owners' global
/// default ACLs for routines: privilege, grantor and grant option, as the catalog holds them.
fn public_acls(cluster: &Cluster) -> Vec<String> {
    column(
        cluster,
        "appdb",
        "WITH acls(object, acl) AS (
           SELECT 'database', coalesce(datacl, acldefault('d', datdba)) FROM pg_database
            WHERE datname = current_database()
           UNION ALL SELECT 'schema public', coalesce(nspacl, acldefault('n', nspowner))
             FROM pg_namespace WHERE nspname = 'public'
           UNION ALL SELECT p.oid::regprocedure::text, coalesce(proacl, acldefault('f', proowner))
             FROM pg_proc p
            WHERE p.oid IN ('public.secret()'::regprocedure, 'lo_create(oid)'::regprocedure,
                            'lo_creat(integer)'::regprocedure,
                            'lo_from_bytea(oid,bytea)'::regprocedure)
           UNION ALL SELECT 'defaults of ' || defaclrole::regrole::text, defaclacl
             FROM pg_default_acl WHERE defaclnamespace = 0)
         SELECT object || ': ' || a.privilege_type || ' by ' || a.grantor::regrole::text
                || CASE WHEN a.is_grantable THEN ' with grant option' ELSE '' END
           FROM acls, aclexplode(acl) a WHERE a.grantee = 0 ORDER BY 1",
    )
}

/// What the readonly role can do through PUBLIC, logged in, in a read-write transaction (the
/// profile's `default_transaction_read_only` is the user's to switch off). Each attempt is
/// undone so the next one starts clean.
fn attempts(cluster: &Cluster, password: &str) -> Vec<(&'static str, Result<(), SqlState>)> {
    let mut client = cluster
        .connect("analyst", password, "appdb")
        .expect("the readonly role logs in");
    client
        .batch_execute("SET default_transaction_read_only = off")
        .unwrap();
    [
        ("temporary table", "CREATE TEMP TABLE scratch (id int)"),
        (
            "pg_temp function",
            "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        ),
        ("create in public", "CREATE TABLE public.mine (id int)"),
        ("security definer function", "SELECT public.secret()"),
        ("lo_create", "SELECT lo_create(0)"),
        ("lo_from_bytea", "SELECT lo_from_bytea(0, '\\x00')"),
    ]
    .into_iter()
    .map(|(what, sql)| {
        let result = client
            .batch_execute(&format!("BEGIN; {sql}; ROLLBACK"))
            .map_err(|e| {
                let _ = client.batch_execute("ROLLBACK");
                sqlstate(Err(e), what)
            });
        (what, result)
    })
    .collect()
}

#[track_caller]
fn assert_all(attempts: &[(&str, Result<(), SqlState>)], expected: Result<(), SqlState>) {
    for (what, result) in attempts {
        assert_eq!(result, &expected, "{what}");
    }
}

/// The database and what PUBLIC holds in it by default, plus CREATE on `public`, which
/// PostgreSQL 15+ no longer gives PUBLIC (granted here to reproduce older clusters), and a
/// SECURITY DEFINER function in `public` owned by `owner`.
fn setup(cluster: &Cluster, owner: &str) {
    cluster.create_database_owned_by("appdb", owner);
    exec(cluster, "appdb", "GRANT CREATE ON SCHEMA public TO PUBLIC");
    exec_as(
        cluster,
        "appdb",
        owner,
        "CREATE FUNCTION public.secret() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 42'",
    );
}

#[test]
fn public_privileges_close_what_public_leaves_open_to_readonly() {
    let cluster = Cluster::start();
    setup(&cluster, "postgres");
    let registry = registry_toml(&[("prod", "appdb", &cluster)]);
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, ROLES);

    // Without the policy, PUBLIC is left exactly as it is.
    let before = public_acls(&cluster);
    let out = s.plan_changes();
    assert_lacks(&out.stdout, "PUBLIC");
    s.apply(Some("creds.json")).expect_success();
    assert_eq!(public_acls(&cluster), before);
    s.assert_converged();
    let password = password_of(&read_credentials(&creds_path(&s, "creds.json")), "analyst");
    assert_all(&attempts(&cluster, &password), Ok(()));

    // With it, each is revoked from PUBLIC, in the plan and then in the catalog.
    s.file("registry.toml", &with_settings(&registry, &policy(true)));
    let out = s.plan_changes();
    for line in [
        "~ PUBLIC in database appdb (settings.public_privileges)",
        "- revoke TEMPORARY on database appdb (in database appdb), granted by postgres",
        "- revoke CREATE on schema public (in database appdb), granted by pg_database_owner",
        "- revoke EXECUTE on function pg_catalog.lo_creat(integer), pg_catalog.lo_create(oid), \
         pg_catalog.lo_from_bytea(oid, bytea), public.secret() (in database appdb), granted by postgres",
        "- revoke EXECUTE on future functions created by postgres (default privileges, in database appdb)",
        "note: public_privileges: schema nosuch does not exist in database appdb",
        "Plan: 0 to add, 1 to change, 0 to destroy.",
    ] {
        assert_has(&out.stdout, line);
    }
    let out = s.apply(None);
    out.expect_success();
    assert_has(&out.stdout, "Roles: 0 added, 1 changed, 0 destroyed.");
    // The audit log names PUBLIC and the target whose database changed.
    let run = run_id(&out);
    let public: Vec<(String, String, String)> = audit_entries(&s)
        .iter()
        .filter(|e| text_of(e, "run_id") == run)
        .map(|e| {
            assert_eq!(text_of(e, "outcome"), "ok", "{e}");
            (
                text_of(e, "role"),
                text_of(e, "database"),
                text_of(e, "action"),
            )
        })
        .collect();
    assert_eq!(public.len(), 4, "{public:?}");
    assert!(public
        .iter()
        .all(|(role, database, _)| role == "PUBLIC" && database == "appdb"));
    assert_all(
        &attempts(&cluster, &password),
        Err(SqlState::INSUFFICIENT_PRIVILEGE),
    );
    s.assert_converged();

    // A routine created later is not executable by PUBLIC either, and is no drift.
    exec(
        &cluster,
        "appdb",
        "CREATE FUNCTION public.later() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
    );
    assert_eq!(
        scalar(
            &cluster,
            "appdb",
            "SELECT has_function_privilege('analyst', 'public.later()', 'EXECUTE')"
        ),
        "f"
    );
    s.assert_converged();

    // Turning the policy off re-grants nothing.
    let closed = public_acls(&cluster);
    s.file("registry.toml", &registry);
    s.assert_converged();
    s.apply(None).expect_success();
    assert_eq!(public_acls(&cluster), closed);
}

/// A CREATEROLE admin revokes what was granted by roles it can act as (the database owner it
/// is, `pg_database_owner` in its database); the large-object routines are the bootstrap
/// superuser's, so revoking them is a plan error naming that grantor, and nothing runs.
#[test]
fn public_privileges_with_createrole_admin_need_the_grantor() {
    let cluster = Cluster::start();
    setup(&cluster, CREATEROLE_ADMIN);
    let registry = registry_toml(&[("prod", "appdb", &cluster)]);
    let s = Scenario::with_files(
        &cluster,
        AdminKind::CreateRole,
        &with_settings(&registry, &policy(false)),
        ROLES,
    );
    let out = s.plan_changes();
    assert_has(
        &out.stdout,
        "- revoke CREATE on schema public (in database appdb), granted by pg_database_owner",
    );
    assert_has(
        &out.stdout,
        &format!(
            "- revoke TEMPORARY on database appdb (in database appdb), granted by {CREATEROLE_ADMIN}"
        ),
    );
    s.apply(Some("creds.json")).expect_success();
    s.assert_converged();
    let password = password_of(&read_credentials(&creds_path(&s, "creds.json")), "analyst");
    let attempts = attempts(&cluster, &password);
    assert_all(&attempts[..4], Err(SqlState::INSUFFICIENT_PRIVILEGE));
    assert_all(&attempts[4..], Ok(()));

    let before = public_acls(&cluster);
    s.file("registry.toml", &with_settings(&registry, &policy(true)));
    let out = s.plan();
    out.expect_code(1);
    assert_has(
        &out.stdout,
        "error: PUBLIC (settings.public_privileges): cannot revoke privileges granted by postgres \
         in database appdb: the admin cannot act as postgres",
    );
    s.apply(None).expect_code(1);
    assert_eq!(public_acls(&cluster), before);
}

/// `GRANT EXECUTE ON FUNCTION pg_read_file(text)` to a declared role is shown in the plan and
/// left in place; the same grant to an undeclared role is not pgroster's business.
#[test]
fn system_schema_grants_of_a_declared_role_are_listed_and_left() {
    let cluster = Cluster::start();
    exec(&cluster, "postgres", "CREATE DATABASE appdb");
    let registry = registry_toml(&[("prod", "appdb", &cluster)]);
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, ROLES);
    s.apply(Some("creds.json")).expect_success();
    exec(
        &cluster,
        "appdb",
        "CREATE ROLE bystander;
         GRANT EXECUTE ON FUNCTION pg_read_file(text) TO analyst, bystander;
         GRANT SELECT ON pg_catalog.pg_authid TO analyst;",
    );
    let out = s.assert_converged();
    assert_has(
        &out.stdout,
        "note: role \"analyst\" holds EXECUTE on function pg_catalog.pg_read_file(text) in database \
         appdb (system schema: pgroster does not manage it; revoke it by hand if unintended)",
    );
    assert_has(
        &out.stdout,
        "note: role \"analyst\" holds SELECT on table pg_catalog.pg_authid in database appdb",
    );
    // An undeclared role's system grants are not noted (it is listed as unmanaged, issue 11).
    assert_lacks(&out.stdout, "note: role \"bystander\"");
    s.apply(None).expect_success();
    assert_eq!(
        scalar(
            &cluster,
            "appdb",
            "SELECT has_function_privilege('analyst', 'pg_read_file(text)', 'EXECUTE')"
        ),
        "t"
    );
}
