//! Grants (issue 3): every kind applied and converged with either admin; a CREATEROLE admin grants
//! only on what it owns, and a grant it cannot make is never a silent success; objects created later
//! are covered by default privileges.

use crate::harness::{
    assert_has, assert_lacks, can_table, default_privileges, direct_privileges, exec, exec_as,
    fixture, registry_toml, scalar, table_privileges, AdminKind, Cluster, Scenario,
};

fn every_grant_kind(kind: AdminKind) {
    let cluster = Cluster::start();
    // The objects' owner is the admin: a CREATEROLE admin can only grant on what it owns.
    let owner = kind.user();
    cluster.create_database_owned_by("appdb", owner);
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
    s.apply_planned(&[
        "+ grant SELECT, UPDATE on table reports.daily (in database appdb)",
        "+ grant SELECT, UPDATE on future tables created by app_owner in schema reports \
         (default privileges, in database appdb)",
        "+ grant SELECT, UPDATE on future tables created by postgres in schema reports",
        "+ grant USAGE on future sequences created by app_owner in schema reports",
        "+ grant EXECUTE on future functions created by app_owner in schema reports",
    ]);
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

/// Issue 10: a `future_owners` role that neither exists nor is declared is a plan error naming the
/// role and the owner (the apply used to fail on `ALTER DEFAULT PRIVILEGES FOR ROLE`, rolling the
/// whole database back); nothing is changed. A declared owner that the apply creates is fine.
fn an_unknown_future_owner_is_a_plan_error(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(&cluster, "appdb", "CREATE SCHEMA reports");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = |owner: &str| {
        format!(
            r#"
roles:
  - name: app_owner
    targets: ["dev/appdb"]
  - name: consumer
    login: true
    password: none
    targets: ["dev/appdb"]
    schemas: [reports]
    grants:
      - on: tables
        privileges: [SELECT]
        future: true
        future_owners: [{owner}]
"#
        )
    };
    let s = Scenario::with_files(&cluster, kind, &registry, &roles("ghost"));
    for out in [s.plan(), s.run(&["apply", "--auto-approve"])] {
        out.expect_code(1);
        let all = format!("{}\n{}", out.stdout, out.stderr);
        assert!(
            all.contains(
                "role \"consumer\": `future_owners` names ghost for future tables \
                          in schema reports (database appdb), but no role ghost exists"
            ),
            "{all}"
        );
    }
    assert_eq!(
        scalar(
            &cluster,
            "appdb",
            "SELECT count(*) FROM pg_roles WHERE rolname IN ('consumer', 'app_owner')"
        ),
        "0",
        "a plan error must change nothing"
    );

    if kind == AdminKind::Superuser {
        s.file("roles.yaml", &roles("app_owner"));
        s.apply(None).expect_success();
        assert_eq!(
            default_privileges(&cluster, "appdb", "consumer"),
            ["app_owner reports r: SELECT"]
        );
        s.assert_converged();
    }
}

#[test]
fn an_unknown_future_owner_is_a_plan_error_with_superuser_admin() {
    an_unknown_future_owner_is_a_plan_error(AdminKind::Superuser);
}

#[test]
fn an_unknown_future_owner_is_a_plan_error_with_createrole_admin() {
    an_unknown_future_owner_is_a_plan_error(AdminKind::CreateRole);
}

/// Issue 10: MAINTAIN arrived in PostgreSQL 17. Before, it is a plan error naming the role, the
/// privilege and the server version (the GRANT used to fail at apply); from 17 it is granted and
/// does not drift.
#[test]
fn maintain_is_refused_at_plan_before_17_and_granted_from_17() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(&cluster, "appdb", "CREATE TABLE public.orders (id int)");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: janitor
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - on: table
        names: [public.orders]
        privileges: [MAINTAIN]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    if cluster.major_version() < 17 {
        let version = cluster.server_version_num();
        let expected = format!(
            "role \"janitor\": privilege MAINTAIN on tables does not exist on PostgreSQL {}.{} \
             (the server of database appdb)",
            version / 10_000,
            version % 10_000
        );
        for out in [s.plan(), s.run(&["apply", "--auto-approve"])] {
            out.expect_code(1);
            let all = format!("{}\n{}", out.stdout, out.stderr);
            assert!(all.contains(&expected), "{all}");
        }
        assert_eq!(
            scalar(
                &cluster,
                "appdb",
                "SELECT count(*) FROM pg_roles WHERE rolname = 'janitor'"
            ),
            "0"
        );
    } else {
        s.apply_planned(&["+ grant MAINTAIN on table public.orders (in database appdb)"]);
        assert_eq!(
            table_privileges(&cluster, "appdb", "janitor", "public", "orders"),
            ["MAINTAIN"]
        );
        s.assert_converged();
    }
}

/// Issue 10: `on: functions` grants on all routines, aggregates included, so aggregates are read
/// too: the grant converges, and removing it revokes EXECUTE on the aggregates as well.
fn function_grants_cover_and_revoke_aggregates(kind: AdminKind) {
    let cluster = Cluster::start();
    // The routines' owner is the admin: a CREATEROLE admin can only grant on what it owns.
    let owner = kind.user();
    cluster.create_database_owned_by("appdb", owner);
    exec_as(
        &cluster,
        "appdb",
        owner,
        "CREATE SCHEMA app;
         CREATE FUNCTION app.add(a int, b int) RETURNS int LANGUAGE sql AS 'SELECT a + b';
         CREATE AGGREGATE app.total(int) (sfunc = int4pl, stype = int);
         CREATE AGGREGATE app.highest(ORDER BY int) (sfunc = int4larger, stype = int)",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = |grants: &str| {
        format!(
            r#"
roles:
  - name: caller
    login: true
    password: none
    targets: ["dev/appdb"]
    schemas: [app]
    grants:
      - on: schema
        privileges: [USAGE]
{grants}"#
        )
    };
    let execute = "      - on: functions\n        privileges: [EXECUTE]\n";
    let s = Scenario::with_files(&cluster, kind, &registry, &roles(execute));
    s.apply(None).expect_success();
    assert_eq!(
        direct_privileges(&cluster, "appdb", "caller"),
        [
            "function app.add: EXECUTE",
            "function app.highest: EXECUTE",
            "function app.total: EXECUTE",
            "schema app: USAGE",
        ]
    );
    s.assert_converged();

    // Narrowed to the plain function: each aggregate is revoked by name, the ordered-set one
    // included (its identity arguments contain ORDER BY, which GRANT does not parse).
    let add_only =
        "      - on: function\n        names: [app.add]\n        privileges: [EXECUTE]\n";
    s.file("roles.yaml", &roles(add_only));
    let out = s.plan_changes();
    assert_has(&out.stdout, "app.highest(integer)");
    assert_has(&out.stdout, "app.total(integer)");
    assert_lacks(&out.stdout, "app.add");
    s.apply(None).expect_success();
    assert_eq!(
        direct_privileges(&cluster, "appdb", "caller"),
        ["function app.add: EXECUTE", "schema app: USAGE"]
    );
    s.assert_converged();

    s.file("roles.yaml", &roles(""));
    s.apply_planned(&[
        "- revoke EXECUTE on function app.add(a integer, b integer) (in database appdb)",
    ]);
    assert_eq!(
        direct_privileges(&cluster, "appdb", "caller"),
        ["schema app: USAGE"]
    );
    s.assert_converged();
}

/// Issue 10: a named object that exists in no target database is a plan error with a
/// did-you-mean, for a typo and for an unquoted name that matches only case-insensitively; the
/// real grant is left alone. An object missing from one target database only is a note there.
#[test]
fn a_named_object_missing_from_every_target_database_is_a_plan_error() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    cluster.create_database("otherdb");
    exec(
        &cluster,
        "appdb",
        "CREATE TABLE public.orders (id int); CREATE ROLE clerk LOGIN; \
         GRANT SELECT ON public.orders TO clerk",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster), ("dev", "otherdb", &cluster)]);
    let roles = |name: &str| {
        format!(
            r#"
roles:
  - name: clerk
    login: true
    password: none
    targets: ["dev/appdb", "dev/otherdb"]
    grants:
      - on: table
        names: [{name}]
        privileges: [SELECT]
"#
        )
    };
    let s = Scenario::with_files(
        &cluster,
        AdminKind::Superuser,
        &registry,
        &roles("public.ordrs"),
    );
    for name in ["public.ordrs", "public.Orders"] {
        s.file("roles.yaml", &roles(name));
        for out in [s.plan(), s.run(&["apply", "--auto-approve"])] {
            out.expect_code(1);
            let all = format!("{}\n{}", out.stdout, out.stderr);
            assert!(
                all.contains(&format!(
                    "role \"clerk\": table {name} does not exist in any target database \
                     (appdb, otherdb); did you mean public.orders?"
                )),
                "{all}"
            );
        }
        assert_eq!(
            table_privileges(&cluster, "appdb", "clerk", "public", "orders"),
            ["SELECT"],
            "a plan error must change nothing"
        );
    }

    s.file("roles.yaml", &roles("public.orders"));
    s.apply_planned(&[
        "table public.orders does not exist in database otherdb; its grant is skipped",
    ]);
    assert_eq!(
        table_privileges(&cluster, "appdb", "clerk", "public", "orders"),
        ["SELECT"]
    );
    s.assert_converged();
}

#[test]
fn function_grants_cover_and_revoke_aggregates_with_superuser_admin() {
    function_grants_cover_and_revoke_aggregates(AdminKind::Superuser);
}

#[test]
fn function_grants_cover_and_revoke_aggregates_with_createrole_admin() {
    function_grants_cover_and_revoke_aggregates(AdminKind::CreateRole);
}
