//! Zero false drift in privileges: `ALL` expanded per server version, PUBLIC's built-in privileges,
//! a grantee's own table, another grantor's grant, a privilege held directly and through a group, and
//! a schema missing in one target all converge with nothing planned.

use crate::harness::{
    assert_has, assert_lacks, can_table, column, default_privileges, direct_privileges, exec,
    fixture, memberships, public_database_privileges, registry_toml, scalar, table_privileges,
    AdminKind, Cluster, Scenario,
};

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
    let roles = fixture!("grants/reader_selects_orders.yaml");
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    // Only the adoption of the hand-made role: its SELECT is already held.
    let out = s.plan_changes();
    assert_has(&out.stdout, "~ role \"reader\" (adopt");
    assert_lacks(&out.stdout, "+ grant");
    assert_lacks(&out.stdout, "- revoke");
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
    s.apply_planned(&["+ grant SELECT on table reports.daily (in database db_b)"]);
    assert_eq!(
        direct_privileges(&cluster, "db_b", "analyst"),
        ["schema reports: USAGE", "table reports.daily: SELECT"]
    );
    let out = s.assert_converged();
    assert_lacks(&out.stdout, "does not exist");
}
