//! Privileges and memberships (issue 3) end to end against real clusters.
//!
//! Every scenario sets up its objects by SQL as the superuser (or as the CREATEROLE admin where that
//! admin must own them), writes a config, runs `apply --auto-approve`, then asserts the catalog
//! directly (`aclexplode`, `has_*_privilege`, `pg_default_acl`, `pg_auth_members`) and that a second
//! `plan --detailed-exitcode` exits 0 with "No changes." Each test has its own cluster: roles are
//! cluster-wide. Version-dependent expectations (MAINTAIN on 17+, membership options on 16+) branch on
//! `Cluster::major_version`, so the same file runs against PostgreSQL 15, 16 and 18.

use crate::harness::{
    assert_has, assert_lacks, can_table, column, creds_path, default_privileges, direct_privileges,
    exec, exec_as, fixture, ident, memberships, password_of, public_database_privileges,
    read_credentials, registry_toml, scalar, sqlstate, table_privileges, AdminKind, Cluster,
    Scenario,
};
use postgres::error::SqlState;

// ---------------------------------------------------------------------------------------------
// 1. Every grant kind, the grant loop
// ---------------------------------------------------------------------------------------------

fn every_grant_kind(kind: AdminKind) {
    let cluster = Cluster::start();
    // The objects' owner is the admin: a CREATEROLE admin can only grant on what it owns.
    let owner = kind.user();
    exec(
        &cluster,
        "postgres",
        &format!("CREATE DATABASE appdb OWNER {}", ident(owner)),
    );
    exec_as(&cluster, "appdb", owner, fixture!("grants/objects.sql"));
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let s = Scenario::with_files(
        &cluster,
        kind,
        &registry,
        fixture!("grants/every_kind.yaml"),
    );

    let out = s.plan_changes();
    for line in [
        "+ role \"worker\"",
        "+ grant CONNECT, TEMPORARY on database appdb (in database appdb)",
        "+ grant USAGE on schema app, public, reports (in database appdb)",
        "+ grant SELECT on all tables in schema reports (in database appdb)",
        "+ grant SELECT, USAGE on sequence app.counter (in database appdb)",
        "+ grant EXECUTE on all functions in schema app (in database appdb)",
        "+ grant INSERT, SELECT, UPDATE on table public.orders (in database appdb)",
        &format!(
            "+ grant SELECT on future tables created by {owner} in schema reports \
             (default privileges, in database appdb)"
        ),
    ] {
        assert_has(&out.stdout, line);
    }
    assert_lacks(&out.stdout, "public.other");
    assert_lacks(&out.stdout, "revoke");

    s.apply(None).expect_success();
    assert_eq!(
        direct_privileges(&cluster, "appdb", "worker"),
        [
            "database appdb: CONNECT",
            "database appdb: TEMPORARY",
            "function app.add: EXECUTE",
            "function app.tick: EXECUTE",
            "schema app: USAGE",
            "schema public: USAGE",
            "schema reports: USAGE",
            "sequence app.counter: SELECT",
            "sequence app.counter: USAGE",
            "table public.orders: INSERT",
            "table public.orders: SELECT",
            "table public.orders: UPDATE",
            "table reports.daily: SELECT",
            "table reports.monthly: SELECT",
        ]
    );
    assert_eq!(
        default_privileges(&cluster, "appdb", "worker"),
        [format!("{owner} reports r: SELECT")]
    );
    assert!(can_table(
        &cluster, "appdb", "worker", "reports", "daily", "SELECT"
    ));
    assert!(!can_table(
        &cluster, "appdb", "worker", "reports", "daily", "INSERT"
    ));
    assert!(can_table(
        &cluster, "appdb", "worker", "public", "orders", "UPDATE"
    ));
    assert!(!can_table(
        &cluster, "appdb", "worker", "public", "orders", "DELETE"
    ));
    assert!(!can_table(
        &cluster, "appdb", "worker", "public", "other", "SELECT"
    ));
    s.assert_converged();

    // A table created later by the owner is covered by the default privileges: SELECT at once,
    // and no drift.
    exec_as(
        &cluster,
        "appdb",
        owner,
        "CREATE TABLE reports.later (id int)",
    );
    assert!(can_table(
        &cluster, "appdb", "worker", "reports", "later", "SELECT"
    ));
    assert_eq!(
        table_privileges(&cluster, "appdb", "worker", "reports", "later"),
        ["SELECT"]
    );
    s.assert_converged();
}

#[test]
fn every_grant_kind_with_superuser_admin() {
    every_grant_kind(AdminKind::Superuser);
}

/// The CREATEROLE admin owns the database and its objects, so it may grant on them.
#[test]
fn every_grant_kind_with_createrole_admin_owning_the_objects() {
    every_grant_kind(AdminKind::CreateRole);
}

/// A CREATEROLE admin that owns nothing cannot grant on the superuser's objects: apply must fail
/// with a clear error naming the problem (and roll back), never report success with nothing granted.
#[test]
fn createrole_admin_cannot_grant_on_objects_it_does_not_own() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(&cluster, "appdb", fixture!("grants/objects.sql"));
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: worker
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - on: table
        names: [public.orders]
        privileges: [SELECT]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::CreateRole, &registry, roles);
    let out = s.run(&["apply", "--auto-approve"]);
    let all = format!("{}\n{}", out.stdout, out.stderr);
    if out.code == 0 {
        // Success is only acceptable when the grant really happened.
        assert_eq!(
            table_privileges(&cluster, "appdb", "worker", "public", "orders"),
            ["SELECT"],
            "apply succeeded but granted nothing:\n{all}"
        );
        s.assert_converged();
    } else {
        out.expect_code(1);
        assert!(
            all.contains("permission denied")
                || all.contains("privilege")
                || all.contains("cannot grant on"),
            "expected a clear permission error:\n{all}"
        );
        assert!(table_privileges(&cluster, "appdb", "worker", "public", "orders").is_empty());
    }
}

/// The same for the database and functions, where PUBLIC's built-in privileges (CONNECT, EXECUTE)
/// make PostgreSQL answer a non-owner's GRANT with only a WARNING ("no privileges were granted"):
/// pgroster must not report success for a grant that did not happen.
#[test]
fn createrole_admin_grant_on_a_database_and_function_it_does_not_own_is_not_a_silent_success() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(
        &cluster,
        "appdb",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: worker
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - on: database
        privileges: [CONNECT]
      - on: function
        names: [public.f]
        privileges: [EXECUTE]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::CreateRole, &registry, roles);
    let out = s.run(&["apply", "--auto-approve"]);
    let all = format!("{}\n{}", out.stdout, out.stderr);
    if out.code == 0 {
        assert_eq!(
            direct_privileges(&cluster, "appdb", "worker"),
            ["database appdb: CONNECT", "function public.f: EXECUTE"],
            "apply exited 0 but did not grant:\n{all}\n--- plan afterwards\n{}\n\
             --- server warnings\n{}",
            s.plan().stdout,
            cluster.server_warnings()
        );
        s.assert_converged();
    } else {
        out.expect_code(1);
        assert!(
            all.contains("permission denied")
                || all.contains("privilege")
                || all.contains("no privileges were granted")
                || all.contains("cannot grant on"),
            "expected a clear permission error:\n{all}"
        );
        assert!(direct_privileges(&cluster, "appdb", "worker").is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Zero false drift
// ---------------------------------------------------------------------------------------------

/// `ALL` is expanded to the kind's privileges on this server (MAINTAIN on tables from 17), so what
/// the catalog shows afterwards is exactly what was declared.
#[test]
fn all_privileges_are_expanded_and_do_not_drift() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(&cluster, "appdb", fixture!("grants/objects.sql"));
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: allrole
    targets: ["dev/appdb"]
    grants:
      - on: database
        privileges: [ALL]
      - on: schemas
        names: [reports, app]
        privileges: [ALL]
      - on: tables
        schemas: [reports]
        privileges: [ALL]
        future: true
      - on: sequences
        schemas: [app]
        privileges: [ALL PRIVILEGES]
      - on: functions
        schemas: [app]
        privileges: [all]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let out = s.plan_changes();
    assert_lacks(&out.stdout, "ALL");
    s.apply(None).expect_success();
    let mut table_all = vec![
        "DELETE",
        "INSERT",
        "REFERENCES",
        "SELECT",
        "TRIGGER",
        "TRUNCATE",
        "UPDATE",
    ];
    if cluster.major_version() >= 17 {
        table_all.push("MAINTAIN");
        table_all.sort_unstable();
    }
    for table in ["daily", "monthly"] {
        assert_eq!(
            table_privileges(&cluster, "appdb", "allrole", "reports", table),
            table_all,
            "reports.{table}"
        );
    }
    let privileges = direct_privileges(&cluster, "appdb", "allrole");
    for line in [
        "database appdb: CONNECT",
        "database appdb: CREATE",
        "database appdb: TEMPORARY",
        "schema app: CREATE",
        "schema app: USAGE",
        "schema reports: CREATE",
        "schema reports: USAGE",
        "sequence app.counter: SELECT",
        "sequence app.counter: UPDATE",
        "sequence app.counter: USAGE",
        "function app.add: EXECUTE",
        "function app.tick: EXECUTE",
    ] {
        assert!(
            privileges.contains(&line.to_string()),
            "{line} missing: {privileges:?}"
        );
    }
    let defaults = default_privileges(&cluster, "appdb", "allrole");
    assert_eq!(
        defaults.len(),
        table_all.len(),
        "one default privilege per table privilege: {defaults:?}"
    );
    s.assert_converged();
    // The tables' future ones get everything too, and still no drift.
    exec(&cluster, "appdb", "CREATE TABLE reports.later (id int)");
    assert_eq!(
        table_privileges(&cluster, "appdb", "allrole", "reports", "later"),
        table_all
    );
    s.assert_converged();
}

/// PUBLIC's built-in privileges (CONNECT and TEMPORARY on the database, EXECUTE on functions, USAGE
/// on public) are neither revoked nor shown as drift.
#[test]
fn public_builtin_privileges_are_left_alone() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(&cluster, "appdb", fixture!("grants/objects.sql"));
    let before = public_database_privileges(&cluster, "appdb");
    assert_eq!(before, ["CONNECT", "TEMPORARY"]);
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: narrow
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - on: database
        privileges: [CONNECT]
      - on: schemas
        names: [app]
        privileges: [USAGE]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let out = s.plan_changes();
    assert_lacks(&out.stdout, "revoke");
    s.apply(None).expect_success();
    assert_eq!(public_database_privileges(&cluster, "appdb"), before);
    // PUBLIC still executes the function and the procedure, and uses the public schema.
    assert_eq!(
        column(
            &cluster,
            "appdb",
            "SELECT p.proname || ': ' || a.privilege_type FROM pg_proc p \
               JOIN pg_namespace n ON n.oid = p.pronamespace, \
                    aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a \
              WHERE n.nspname = 'app' AND a.grantee = 0 ORDER BY 1"
        ),
        ["add: EXECUTE", "tick: EXECUTE"]
    );
    assert_eq!(
        scalar(
            &cluster,
            "appdb",
            "SELECT has_schema_privilege('public', 'public', 'USAGE')"
        ),
        "t"
    );
    // The managed role holds exactly what it declared, and TEMPORARY only through PUBLIC.
    assert_eq!(
        direct_privileges(&cluster, "appdb", "narrow"),
        ["database appdb: CONNECT", "schema app: USAGE"]
    );
    assert_eq!(
        scalar(
            &cluster,
            "appdb",
            "SELECT has_database_privilege('narrow', 'appdb', 'TEMPORARY')"
        ),
        "t"
    );
    s.assert_converged();
}

/// Objects created after the grant, by the declared `future_owners` (not the schema's owner): tables,
/// sequences and functions are covered by default privileges at once, and nothing drifts.
#[test]
fn objects_created_after_the_grant_are_covered_by_default_privileges() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(&cluster, "postgres", "CREATE ROLE app_owner");
    exec(
        &cluster,
        "appdb",
        "CREATE SCHEMA reports; GRANT CREATE, USAGE ON SCHEMA reports TO app_owner;
         CREATE TABLE reports.daily (id int);",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: consumer
    login: true
    password: none
    targets: ["dev/appdb"]
    schemas: [reports]
    grants:
      - on: schemas
        privileges: [USAGE]
      - on: tables
        privileges: [SELECT, UPDATE]
        future: true
        future_owners: [app_owner, postgres]
      - on: sequences
        privileges: [USAGE]
        future: true
        future_owners: [app_owner]
      - on: functions
        privileges: [EXECUTE]
        future: true
        future_owners: [app_owner]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let out = s.plan_changes();
    for line in [
        "+ grant SELECT, UPDATE on table reports.daily (in database appdb)",
        "+ grant SELECT, UPDATE on future tables created by app_owner in schema reports \
         (default privileges, in database appdb)",
        "+ grant SELECT, UPDATE on future tables created by postgres in schema reports",
        "+ grant USAGE on future sequences created by app_owner in schema reports",
        "+ grant EXECUTE on future functions created by app_owner in schema reports",
    ] {
        assert_has(&out.stdout, line);
    }
    s.apply(None).expect_success();
    assert_eq!(
        default_privileges(&cluster, "appdb", "consumer"),
        [
            "app_owner reports S: USAGE",
            "app_owner reports f: EXECUTE",
            "app_owner reports r: SELECT",
            "app_owner reports r: UPDATE",
            "postgres reports r: SELECT",
            "postgres reports r: UPDATE",
        ]
    );
    s.assert_converged();

    exec_as(
        &cluster,
        "appdb",
        "app_owner",
        "CREATE TABLE reports.events (id int);
         CREATE VIEW reports.recent AS SELECT id FROM reports.events;
         CREATE SEQUENCE reports.event_ids;
         CREATE FUNCTION reports.twice(x int) RETURNS int LANGUAGE sql AS 'SELECT 2 * x'",
    );
    exec(
        &cluster,
        "appdb",
        "CREATE TABLE reports.by_postgres (id int)",
    );
    assert_eq!(
        direct_privileges(&cluster, "appdb", "consumer"),
        [
            "function reports.twice: EXECUTE",
            "schema reports: USAGE",
            "sequence reports.event_ids: USAGE",
            "table reports.by_postgres: SELECT",
            "table reports.by_postgres: UPDATE",
            "table reports.daily: SELECT",
            "table reports.daily: UPDATE",
            "table reports.events: SELECT",
            "table reports.events: UPDATE",
            "table reports.recent: SELECT",
            "table reports.recent: UPDATE",
        ]
    );
    s.assert_converged();
}

/// A table owned by the grantee: its own table is never granted on or revoked, whatever the grants
/// say, and the plan converges.
#[test]
fn a_table_owned_by_the_grantee_is_never_planned() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(&cluster, "postgres", "CREATE ROLE tab_owner");
    exec(
        &cluster,
        "appdb",
        "GRANT CREATE ON SCHEMA public TO tab_owner;
         CREATE TABLE public.theirs (id int);
         SET ROLE tab_owner; CREATE TABLE public.mine (id int); RESET ROLE;",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: tab_owner
    targets: ["dev/appdb"]
    grants:
      - on: schemas
        privileges: [USAGE, CREATE]
      - on: tables
        privileges: [SELECT, INSERT]
        future: true
      - on: table
        names: [public.mine]
        privileges: [SELECT]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let out = s.plan_changes();
    assert_has(
        &out.stdout,
        "+ grant INSERT, SELECT on table public.theirs (in database appdb)",
    );
    assert_lacks(&out.stdout, "mine");
    assert_lacks(&out.stdout, "all tables");
    // Future tables: only those of the other owner; a role needs no default privileges for itself.
    assert_has(
        &out.stdout,
        "+ grant INSERT, SELECT on future tables created by postgres in schema public",
    );
    assert_lacks(&out.stdout, "created by tab_owner");
    s.apply(None).expect_success();
    // Its own table keeps exactly the owner's implicit privileges (the ACL was never touched).
    assert_eq!(
        scalar(
            &cluster,
            "appdb",
            "SELECT coalesce(relacl::text, 'NULL') FROM pg_class WHERE oid = 'public.mine'::regclass"
        ),
        "NULL"
    );
    assert_eq!(
        table_privileges(&cluster, "appdb", "tab_owner", "public", "theirs"),
        ["INSERT", "SELECT"]
    );
    s.assert_converged();
    // The owner's own table after a hand-made revoke of its own privilege: still nothing planned.
    exec(
        &cluster,
        "appdb",
        "REVOKE TRUNCATE ON public.mine FROM tab_owner",
    );
    let out = s.assert_converged();
    assert_lacks(&out.stdout, "mine");
}

/// A privilege granted by another grantor (a role holding GRANT OPTION) satisfies the declared
/// privilege: no grant is planned, nothing drifts, and the grantor keeps its own privileges.
#[test]
fn a_privilege_granted_by_another_grantor_is_not_drift() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(
        &cluster,
        "postgres",
        "CREATE ROLE granter; CREATE ROLE reader LOGIN",
    );
    exec(
        &cluster,
        "appdb",
        "CREATE TABLE public.orders (id int);
         GRANT SELECT ON public.orders TO granter WITH GRANT OPTION;
         SET ROLE granter; GRANT SELECT ON public.orders TO reader; RESET ROLE;",
    );
    let grantors = || {
        column(
            &cluster,
            "appdb",
            "SELECT pg_get_userbyid(a.grantor) || ' -> ' || pg_get_userbyid(a.grantee) \
                    || ': ' || a.privilege_type \
               FROM pg_class c, aclexplode(c.relacl) a \
              WHERE c.oid = 'public.orders'::regclass AND a.grantee <> c.relowner ORDER BY 1",
        )
    };
    assert_eq!(
        grantors(),
        ["granter -> reader: SELECT", "postgres -> granter: SELECT"]
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: reader
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - on: table
        names: [public.orders]
        privileges: [SELECT]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    // Only the adoption of the hand-made role: its SELECT is already held.
    let out = s.plan_changes();
    assert_has(&out.stdout, "~ role \"reader\" (adopt");
    assert_lacks(&out.stdout, "grant");
    s.apply(None).expect_success();
    assert_eq!(
        grantors(),
        ["granter -> reader: SELECT", "postgres -> granter: SELECT"]
    );
    s.assert_converged();
    // Granted by both the owner and the other grantor: still held once, still no drift.
    exec(&cluster, "appdb", "GRANT SELECT ON public.orders TO reader");
    s.assert_converged();
}

/// An undeclared privilege that another grantor gave is revoked for real: a REVOKE issued as the
/// owner leaves other grantors' grants in place, so the apply must not "succeed" and leave the
/// privilege (which would then show as drift forever).
#[test]
fn an_undeclared_privilege_from_another_grantor_is_revoked() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(
        &cluster,
        "postgres",
        "CREATE ROLE granter; CREATE ROLE reader LOGIN",
    );
    exec(
        &cluster,
        "appdb",
        "CREATE TABLE public.orders (id int);
         GRANT SELECT, INSERT ON public.orders TO granter WITH GRANT OPTION;
         SET ROLE granter; GRANT SELECT, INSERT ON public.orders TO reader; RESET ROLE;",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: reader
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - on: table
        names: [public.orders]
        privileges: [SELECT]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let out = s.plan_changes();
    assert_has(
        &out.stdout,
        "- revoke INSERT on table public.orders (in database appdb)",
    );
    let applied = s.run(&["apply", "--auto-approve"]);
    applied.expect_success();
    assert_eq!(
        table_privileges(&cluster, "appdb", "reader", "public", "orders"),
        ["SELECT"],
        "INSERT granted by another grantor survived the revoke; apply said:\n{}\n\
         --- plan afterwards\n{}\n--- server warnings\n{}",
        applied.stdout,
        s.plan().stdout,
        cluster.server_warnings()
    );
    assert!(!can_table(
        &cluster, "appdb", "reader", "public", "orders", "INSERT"
    ));
    s.assert_converged();
    // The unmanaged grantor keeps its own privileges.
    assert_eq!(
        table_privileges(&cluster, "appdb", "granter", "public", "orders"),
        ["INSERT", "SELECT"]
    );
}

/// A role granted SELECT both directly and through a managed group that has it: no drift for either.
#[test]
fn a_privilege_held_directly_and_through_a_group_is_not_drift() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(
        &cluster,
        "appdb",
        "CREATE SCHEMA reports; CREATE TABLE reports.daily (id int); CREATE TABLE reports.monthly (id int)",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: readers
    targets: ["dev/appdb"]
    grants:
      - on: schemas
        names: [reports]
        privileges: [USAGE]
      - on: tables
        schemas: [reports]
        privileges: [SELECT]
        future: true
  - name: analyst
    login: true
    password: none
    member_of: [readers]
    targets: ["dev/appdb"]
    grants:
      - on: schemas
        names: [reports]
        privileges: [USAGE]
      - on: tables
        schemas: [reports]
        privileges: [SELECT]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    s.plan_changes();
    s.apply(None).expect_success();
    for role in ["readers", "analyst"] {
        assert_eq!(
            direct_privileges(&cluster, "appdb", role),
            [
                "schema reports: USAGE",
                "table reports.daily: SELECT",
                "table reports.monthly: SELECT"
            ],
            "{role}"
        );
    }
    assert_eq!(memberships(&cluster, "analyst").len(), 1);
    s.assert_converged();
    // A later table: the group gets it by default privileges, the member through the group; the
    // member's own `tables` grant then plans the direct grant it declared (not a false revoke).
    exec(&cluster, "appdb", "CREATE TABLE reports.later (id int)");
    assert!(can_table(
        &cluster, "appdb", "analyst", "reports", "later", "SELECT"
    ));
    let out = s.plan_changes();
    assert_lacks(&out.stdout, "revoke");
    assert_lacks(&out.stdout, "\"readers\"");
    assert_has(
        &out.stdout,
        "+ grant SELECT on table reports.later (in database appdb)",
    );
    s.apply(None).expect_success();
    assert_eq!(
        table_privileges(&cluster, "appdb", "analyst", "reports", "later"),
        ["SELECT"]
    );
    s.assert_converged();
}

/// A schema that exists in one target only: a plan note (not an error) for the other target, the
/// grants applied where the schema exists, and a clean plan afterwards.
#[test]
fn a_schema_missing_in_one_target_is_a_note_not_an_error() {
    let cluster = Cluster::start();
    cluster.create_database("db_a");
    cluster.create_database("db_b");
    exec(
        &cluster,
        "db_a",
        "CREATE SCHEMA reports; CREATE TABLE reports.daily (id int)",
    );
    let registry = registry_toml(&[("dev", "db_a", &cluster), ("dev", "db_b", &cluster)]);
    let roles = r#"
roles:
  - name: analyst
    login: true
    password: none
    targets: ["dev/*"]
    grants:
      - on: schemas
        names: [reports]
        privileges: [USAGE]
      - on: tables
        schemas: [reports]
        privileges: [SELECT]
        future: true
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let out = s.plan_changes();
    assert_has(
        &out.stdout,
        "schema reports does not exist in database db_b",
    );
    assert_has(
        &out.stdout,
        "+ grant SELECT on table reports.daily (in database db_a)",
    );
    assert_lacks(&out.stdout, "error");
    s.apply(None).expect_success();
    assert_eq!(
        direct_privileges(&cluster, "db_a", "analyst"),
        ["schema reports: USAGE", "table reports.daily: SELECT"]
    );
    assert_eq!(
        default_privileges(&cluster, "db_a", "analyst"),
        ["postgres reports r: SELECT"]
    );
    assert!(direct_privileges(&cluster, "db_b", "analyst").is_empty());
    let out = s.assert_converged();
    assert_has(&out.stdout, "note:");
    assert_has(
        &out.stdout,
        "schema reports does not exist in database db_b",
    );

    // Once the schema appears there, the next plan grants on it.
    exec(
        &cluster,
        "db_b",
        "CREATE SCHEMA reports; CREATE TABLE reports.daily (id int)",
    );
    let out = s.plan_changes();
    assert_has(
        &out.stdout,
        "+ grant SELECT on table reports.daily (in database db_b)",
    );
    s.apply(None).expect_success();
    assert_eq!(
        direct_privileges(&cluster, "db_b", "analyst"),
        ["schema reports: USAGE", "table reports.daily: SELECT"]
    );
    let out = s.assert_converged();
    assert_lacks(&out.stdout, "does not exist");
}

// ---------------------------------------------------------------------------------------------
// 3. Revocation
// ---------------------------------------------------------------------------------------------

/// A privilege granted by hand to a managed role is revoked; so are undeclared default privileges
/// (per schema and global); an unmanaged role's privileges are never touched.
#[test]
fn undeclared_privileges_are_revoked_and_unmanaged_roles_untouched() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(&cluster, "postgres", "CREATE ROLE bystander");
    exec(
        &cluster,
        "appdb",
        "CREATE TABLE public.orders (id int);
         CREATE TABLE public.archive (id int);
         GRANT SELECT, INSERT ON public.orders TO bystander;
         ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO bystander;",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: clerk
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - on: table
        names: [public.orders]
        privileges: [SELECT]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    s.apply(None).expect_success();
    assert_eq!(
        table_privileges(&cluster, "appdb", "clerk", "public", "orders"),
        ["SELECT"]
    );
    s.assert_converged();

    // By hand: INSERT on orders, SELECT on archive, and default privileges, per schema and global.
    exec(
        &cluster,
        "appdb",
        "GRANT INSERT ON public.orders TO clerk;
         GRANT SELECT ON public.archive TO clerk;
         ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT UPDATE ON TABLES TO clerk;
         ALTER DEFAULT PRIVILEGES GRANT DELETE ON TABLES TO clerk;",
    );
    let out = s.plan_changes();
    for line in [
        "~ role \"clerk\"",
        "- revoke INSERT on table public.orders (in database appdb)",
        "- revoke SELECT on table public.archive (in database appdb)",
        "- revoke UPDATE on future tables created by postgres in schema public \
         (default privileges, in database appdb)",
        "- revoke DELETE on future tables created by postgres (default privileges, in database appdb)",
    ] {
        assert_has(&out.stdout, line);
    }
    assert_lacks(&out.stdout, "bystander");
    assert_lacks(&out.stdout, "+ grant");
    // The same in JSON: revokes and default-privilege revokes under the role.
    let json = s.run(&["plan", "--format", "json"]);
    json.expect_success();
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(document["has_changes"], true);
    let kinds: Vec<String> = document["clusters"][0]["roles"][0]["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no changes in {}", json.stdout))
        .iter()
        .map(|c| c["change"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        kinds.contains(&"revoke".to_string()) && kinds.contains(&"revoke_default".to_string()),
        "{kinds:?} in {}",
        json.stdout
    );
    s.apply(None).expect_success();
    assert_eq!(
        direct_privileges(&cluster, "appdb", "clerk"),
        ["table public.orders: SELECT"]
    );
    assert!(default_privileges(&cluster, "appdb", "clerk").is_empty());
    assert!(!can_table(
        &cluster, "appdb", "clerk", "public", "orders", "INSERT"
    ));
    // The unmanaged role kept everything.
    assert_eq!(
        direct_privileges(&cluster, "appdb", "bystander"),
        ["table public.orders: INSERT", "table public.orders: SELECT"]
    );
    assert_eq!(
        default_privileges(&cluster, "appdb", "bystander"),
        ["postgres public r: SELECT"]
    );
    s.assert_converged();
}

// ---------------------------------------------------------------------------------------------
// 4. The readonly profile is read-only
// ---------------------------------------------------------------------------------------------

/// `profile: readonly` on a prod target, logged in with its generated password: SELECT works on
/// existing tables and on one created afterwards; every write, CREATE (public, reports, temp) and
/// DROP fails, first with the profile's `default_transaction_read_only`, then on privileges alone.
#[test]
fn readonly_profile_can_read_and_nothing_else() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(
        &cluster,
        "appdb",
        "CREATE SCHEMA reports;
         CREATE TABLE reports.daily (id int); INSERT INTO reports.daily VALUES (1), (2);
         CREATE TABLE public.orders (id int); INSERT INTO public.orders VALUES (7);
         CREATE SEQUENCE public.order_ids;",
    );
    let registry = registry_toml(&[("prod", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: analyst
    profile: readonly
    schemas: [public, reports]
    targets: ["prod/appdb"]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let out = s.plan_changes();
    assert_has(&out.stdout, "+ role \"analyst\" (profile readonly");
    s.apply(Some("creds.json")).expect_success();
    let creds = creds_path(&s, "creds.json");
    let password = password_of(&read_credentials(&creds), "analyst");

    // The catalog: CONNECT, USAGE, SELECT, and nothing that writes or creates.
    assert_eq!(
        direct_privileges(&cluster, "appdb", "analyst"),
        [
            "database appdb: CONNECT",
            "schema public: USAGE",
            "schema reports: USAGE",
            "sequence public.order_ids: SELECT",
            "table public.orders: SELECT",
            "table reports.daily: SELECT",
        ]
    );
    assert_eq!(
        default_privileges(&cluster, "appdb", "analyst"),
        [
            "postgres public S: SELECT",
            "postgres public r: SELECT",
            "postgres reports S: SELECT",
            "postgres reports r: SELECT",
        ]
    );
    s.assert_converged();

    // A table the owner creates afterwards is readable at once.
    exec(
        &cluster,
        "appdb",
        "CREATE TABLE reports.later (id int); INSERT INTO reports.later VALUES (42)",
    );
    s.assert_converged();

    let mut client = cluster
        .connect("analyst", &password, "appdb")
        .expect("the readonly role logs in with its generated password");
    let count: i64 = client
        .query_one("SELECT count(*) FROM reports.daily", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 2);
    let id: i32 = client
        .query_one("SELECT id FROM public.orders", &[])
        .unwrap()
        .get(0);
    assert_eq!(id, 7);
    let later: i32 = client
        .query_one("SELECT id FROM reports.later", &[])
        .unwrap()
        .get(0);
    assert_eq!(later, 42);

    // As the session comes (default_transaction_read_only = on), every write fails.
    let statements = [
        "INSERT INTO reports.daily VALUES (3)",
        "INSERT INTO public.orders VALUES (8)",
        "UPDATE public.orders SET id = 9",
        "DELETE FROM reports.daily",
        "CREATE TABLE public.mine (id int)",
        "CREATE TABLE reports.mine (id int)",
        "DROP TABLE reports.daily",
        "DROP TABLE public.orders",
        "CREATE TEMP TABLE scratch (id int)",
    ];
    for statement in statements {
        let state = sqlstate(client.batch_execute(statement), statement);
        assert!(
            state == SqlState::READ_ONLY_SQL_TRANSACTION
                || state == SqlState::INSUFFICIENT_PRIVILEGE,
            "{statement}: unexpected {state:?}"
        );
    }

    // Privileges alone (the read-only default switched off by the user): still no write, no
    // CREATE, no DROP.
    client
        .batch_execute("SET default_transaction_read_only = off")
        .unwrap();
    for statement in [
        "INSERT INTO reports.daily VALUES (3)",
        "INSERT INTO public.orders VALUES (8)",
        "INSERT INTO reports.later VALUES (43)",
        "UPDATE public.orders SET id = 9",
        "DELETE FROM reports.daily",
        "TRUNCATE reports.daily",
        "SELECT nextval('public.order_ids')",
        "CREATE TABLE public.mine (id int)",
        "CREATE TABLE reports.mine (id int)",
        "CREATE VIEW reports.v AS SELECT 1",
        "CREATE SCHEMA own",
    ] {
        assert_eq!(
            sqlstate(client.batch_execute(statement), statement),
            SqlState::INSUFFICIENT_PRIVILEGE,
            "{statement}"
        );
    }
    for statement in ["DROP TABLE reports.daily", "DROP TABLE public.orders"] {
        // Only the owner may drop: "must be owner of table".
        assert_eq!(
            sqlstate(client.batch_execute(statement), statement),
            SqlState::INSUFFICIENT_PRIVILEGE,
            "{statement}"
        );
    }
    drop(client);
    assert_eq!(
        scalar(&cluster, "appdb", "SELECT count(*) FROM reports.daily"),
        "2"
    );
    assert_eq!(
        scalar(
            &cluster,
            "appdb",
            "SELECT count(*) FROM pg_class WHERE relname IN ('mine', 'scratch', 'v')"
        ),
        "0"
    );
    s.assert_converged();
}

// ---------------------------------------------------------------------------------------------
// 5. Memberships
// ---------------------------------------------------------------------------------------------

fn memberships_are_granted_revoked_and_carry_admin(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let s = Scenario::with_files(&cluster, kind, &registry, fixture!("memberships/v1.yaml"));
    let out = s.plan_changes();
    assert_has(&out.stdout, "+ member_of \"grp_read\"");
    assert_has(&out.stdout, "+ member_of \"grp_admin\" (admin)");
    s.apply(None).expect_success();
    let (tail_admin, tail_plain) = if cluster.major_version() >= 16 {
        (" inherit=true set=true", " inherit=true set=true")
    } else {
        ("", "")
    };
    assert_eq!(
        memberships(&cluster, "member1"),
        [
            format!("grp_admin admin=true{tail_admin}"),
            format!("grp_read admin=false{tail_plain}"),
        ]
    );
    s.assert_converged();

    // Removed from the config: revoked; admin: false takes the ADMIN OPTION back.
    s.file("roles.yaml", fixture!("memberships/v2.yaml"));
    let out = s.plan_changes();
    assert_has(&out.stdout, "- member_of \"grp_read\"");
    assert_has(&out.stdout, "- member_of \"grp_admin\" admin option");
    s.apply(None).expect_success();
    assert_eq!(
        memberships(&cluster, "member1"),
        [format!("grp_admin admin=false{tail_plain}")]
    );
    s.assert_converged();

    // A membership granted by hand (by the superuser) to the managed role is revoked too. With a
    // CREATEROLE admin on PostgreSQL 16+, a plain REVOKE only removes the admin's own grants, so
    // apply must either really revoke it or fail with a clear error; never report success and
    // leave it (drift forever).
    exec(&cluster, "postgres", "GRANT grp_read TO member1");
    let out = s.plan_changes();
    assert_has(&out.stdout, "- member_of \"grp_read\"");
    let applied = s.run(&["apply", "--auto-approve"]);
    let all = format!("{}\n{}", applied.stdout, applied.stderr);
    if applied.code == 0 {
        assert_eq!(
            memberships(&cluster, "member1"),
            [format!("grp_admin admin=false{tail_plain}")],
            "apply exited 0 but the hand-made membership is still there:\n{all}\n\
             --- plan afterwards\n{}\n--- server warnings\n{}",
            s.plan().stdout,
            cluster.server_warnings()
        );
        s.assert_converged();
    } else {
        applied.expect_code(1);
        assert_has(&all, "grp_read");
    }
}

#[test]
fn memberships_are_granted_revoked_and_carry_admin_with_superuser_admin() {
    memberships_are_granted_revoked_and_carry_admin(AdminKind::Superuser);
}

#[test]
fn memberships_are_granted_revoked_and_carry_admin_with_createrole_admin() {
    memberships_are_granted_revoked_and_carry_admin(AdminKind::CreateRole);
}

/// `{ role: g, inherit: false, set: false }`: applied on PostgreSQL 16+, a note on older servers.
#[test]
fn membership_inherit_and_set_options() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: grp_opts
    targets: ["dev/appdb"]
  - name: member2
    login: true
    password: none
    member_of: [{ role: grp_opts, inherit: false, set: false }]
    targets: ["dev/appdb"]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let out = s.plan_changes();
    if cluster.major_version() >= 16 {
        assert_has(
            &out.stdout,
            "+ member_of \"grp_opts\" (inherit=false, set=false)",
        );
        assert_lacks(&out.stdout, "need PostgreSQL 16");
        s.apply(None).expect_success();
        assert_eq!(
            memberships(&cluster, "member2"),
            ["grp_opts admin=false inherit=false set=false"]
        );
        s.assert_converged();
        // Changed by hand: the declared options come back.
        exec(
            &cluster,
            "postgres",
            "GRANT grp_opts TO member2 WITH INHERIT TRUE, SET TRUE",
        );
        let out = s.plan_changes();
        assert_has(&out.stdout, "~ member_of \"grp_opts\"");
        s.apply(None).expect_success();
        assert_eq!(
            memberships(&cluster, "member2"),
            ["grp_opts admin=false inherit=false set=false"]
        );
        s.assert_converged();
    } else {
        assert_has(&out.stdout, "need PostgreSQL 16");
        assert_has(&out.stdout, "+ member_of \"grp_opts\"");
        s.apply(None).expect_success();
        assert_eq!(memberships(&cluster, "member2"), ["grp_opts admin=false"]);
        let out = s.assert_converged();
        assert_has(&out.stdout, "need PostgreSQL 16");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Hostile object names
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_object_names_round_trip() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(
        &cluster,
        "appdb",
        r#"CREATE SCHEMA "My Schema";
           CREATE TABLE "My Schema"."Weird ""T""" (id int);
           CREATE TABLE "My Schema"."plain" (id int);
           CREATE TABLE public."données" (id int);
           CREATE TABLE public."CamelTable" (id int);
           CREATE TABLE public.cameltable (id int);
           CREATE TABLE public."x'; DROP TABLE public.cameltable; --" (id int);"#,
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: "Odd Role \"Q\""
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - on: schemas
        names: ["My Schema", public]
        privileges: [USAGE]
      - on: tables
        schemas: ["My Schema"]
        privileges: [SELECT]
        future: true
      - on: table
        names:
          - public.données
          - public.CamelTable
          - "\"My Schema\".\"Weird \"\"T\"\"\""
          - "public.\"x'; DROP TABLE public.cameltable; --\""
        privileges: [INSERT]
"#;
    let role = "Odd Role \"Q\"";
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let out = s.plan_changes();
    assert_lacks(&out.stdout, "does not exist");
    s.apply(None).expect_success();
    assert_eq!(
        direct_privileges(&cluster, "appdb", role),
        [
            "schema My Schema: USAGE",
            "schema public: USAGE",
            "table My Schema.Weird \"T\": INSERT",
            "table My Schema.Weird \"T\": SELECT",
            "table My Schema.plain: SELECT",
            "table public.CamelTable: INSERT",
            "table public.données: INSERT",
            "table public.x'; DROP TABLE public.cameltable; --: INSERT",
        ]
    );
    assert!(can_table(
        &cluster,
        "appdb",
        role,
        "My Schema",
        "Weird \"T\"",
        "SELECT"
    ));
    assert!(!can_table(
        &cluster,
        "appdb",
        role,
        "public",
        "cameltable",
        "INSERT"
    ));
    assert_eq!(
        default_privileges(&cluster, "appdb", role),
        ["postgres My Schema r: SELECT"]
    );
    s.assert_converged();
    exec(
        &cluster,
        "appdb",
        r#"CREATE TABLE "My Schema"."Later ""Ü""" (id int)"#,
    );
    assert!(can_table(
        &cluster,
        "appdb",
        role,
        "My Schema",
        "Later \"Ü\"",
        "SELECT"
    ));
    s.assert_converged();

    // Revoking from a hostile name works as well.
    exec(
        &cluster,
        "appdb",
        r#"GRANT DELETE ON "My Schema"."Weird ""T""" TO "Odd Role ""Q""""#,
    );
    let out = s.plan_changes();
    assert_has(
        &out.stdout,
        "- revoke DELETE on table My Schema.Weird \"T\"",
    );
    s.apply(None).expect_success();
    assert!(!can_table(
        &cluster,
        "appdb",
        role,
        "My Schema",
        "Weird \"T\"",
        "DELETE"
    ));
    s.assert_converged();
}

// ---------------------------------------------------------------------------------------------
// 7. Order inside one apply
// ---------------------------------------------------------------------------------------------

/// A group and a member created in the same apply as their grants and the membership: one apply,
/// no ordering failure, then the member reads through the group.
fn roles_memberships_and_grants_in_one_apply(kind: AdminKind) {
    let cluster = Cluster::start();
    // The objects' owner is the admin: a CREATEROLE admin can only grant on what it owns.
    let owner = kind.user();
    exec(
        &cluster,
        "postgres",
        &format!("CREATE DATABASE appdb OWNER {}", ident(owner)),
    );
    exec_as(
        &cluster,
        "appdb",
        owner,
        "CREATE SCHEMA reports; CREATE TABLE reports.daily (id int); INSERT INTO reports.daily VALUES (5)",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: newgroup
    targets: ["dev/appdb"]
    grants:
      - on: schemas
        names: [reports]
        privileges: [USAGE]
      - on: tables
        schemas: [reports]
        privileges: [SELECT]
        future: true
  - name: newmember
    login: true
    member_of: [newgroup]
    targets: ["dev/appdb"]
    grants:
      - on: database
        privileges: [CONNECT]
"#;
    let s = Scenario::with_files(&cluster, kind, &registry, roles);
    let out = s.plan_changes();
    assert_has(&out.stdout, "+ role \"newgroup\"");
    assert_has(&out.stdout, "+ role \"newmember\"");
    assert_has(&out.stdout, "+ member_of \"newgroup\"");
    s.apply(Some("creds.json")).expect_success();
    let creds = creds_path(&s, "creds.json");
    assert_eq!(memberships(&cluster, "newmember").len(), 1);
    assert_eq!(
        direct_privileges(&cluster, "appdb", "newgroup"),
        ["schema reports: USAGE", "table reports.daily: SELECT"]
    );
    assert_eq!(
        direct_privileges(&cluster, "appdb", "newmember"),
        ["database appdb: CONNECT"]
    );
    s.assert_converged();
    let password = password_of(&read_credentials(&creds), "newmember");
    let mut client = cluster.connect("newmember", &password, "appdb").unwrap();
    let id: i32 = client
        .query_one("SELECT id FROM reports.daily", &[])
        .unwrap()
        .get(0);
    assert_eq!(id, 5);
}

#[test]
fn roles_memberships_and_grants_in_one_apply_with_superuser_admin() {
    roles_memberships_and_grants_in_one_apply(AdminKind::Superuser);
}

#[test]
fn roles_memberships_and_grants_in_one_apply_with_createrole_admin() {
    roles_memberships_and_grants_in_one_apply(AdminKind::CreateRole);
}
