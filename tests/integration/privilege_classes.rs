//! Every privilege class (issue 10): columns, types and domains, large objects, foreign data
//! wrappers and servers, tablespaces, parameters, and the grant option. Each is granted when
//! declared, revoked when held but undeclared (hand-made drift), and the plan is empty after.

use crate::harness::{
    assert_has, default_privileges, direct_privileges, exec, exec_as, ident, registry_toml, scalar,
    AdminKind, Cluster, Scenario,
};

/// The objects of every class in `appdb`, owned by `owner` where a non-superuser can own
/// them; the foreign data wrapper, the tablespace and the parameters are the superuser's.
fn objects(cluster: &Cluster, owner: &str) {
    cluster.create_database_owned_by("appdb", owner);
    exec(
        cluster,
        "appdb",
        &format!(
            "CREATE FOREIGN DATA WRAPPER w; GRANT USAGE ON FOREIGN DATA WRAPPER w TO {}",
            ident(owner)
        ),
    );
    // CREATE TABLESPACE refuses a transaction block, so it needs a statement of its own; an
    // in-place tablespace needs no directory outside the data directory.
    let mut client = cluster.client("postgres");
    let in_place = "SET allow_in_place_tablespaces = on";
    for sql in [in_place, "CREATE TABLESPACE ts LOCATION ''"] {
        if let Err(e) = client.batch_execute(sql) {
            panic!("{sql}: {e}");
        }
    }
    exec_as(
        cluster,
        "appdb",
        owner,
        "CREATE TABLE public.orders (id int, note text, amount int);
         CREATE TYPE public.mood AS ENUM ('ok');
         CREATE DOMAIN public.posint AS int CHECK (VALUE > 0);
         SELECT lo_create(4242);
         CREATE SERVER srv FOREIGN DATA WRAPPER w",
    );
}

const EVERY_CLASS: &str = r#"
roles:
  - name: worker
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - { on: columns, names: [public.orders], columns: [note], privileges: [SELECT] }
      - { on: table, names: [public.orders], privileges: [SELECT], grant_option: true }
      - { on: types, schemas: [public], privileges: [USAGE], future: true }
      - { on: large_object, names: ["4242"], privileges: [SELECT] }
      - { on: foreign_data_wrapper, names: [w], privileges: [USAGE] }
      - { on: foreign_server, names: [srv], privileges: [USAGE] }
      - { on: tablespace, names: [ts], privileges: [CREATE] }
      - { on: parameter, names: [work_mem], privileges: [SET] }
"#;

const EVERY_CLASS_HELD: [&str; 9] = [
    "column public.orders.note: SELECT",
    "foreign data wrapper w: USAGE",
    "foreign server srv: USAGE",
    "large object 4242: SELECT",
    "parameter work_mem: SET",
    "table public.orders: SELECT WITH GRANT OPTION",
    "tablespace ts: CREATE",
    "type public.mood: USAGE",
    "type public.posint: USAGE",
];

#[test]
fn every_privilege_class_is_granted_and_undeclared_ones_revoked_with_superuser_admin() {
    let cluster = Cluster::start();
    objects(&cluster, "postgres");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, EVERY_CLASS);

    s.apply_planned(&[
        "+ grant SELECT on column public.orders.note (in database appdb)",
        "+ grant SELECT on table public.orders (in database appdb) with grant option",
        "+ grant USAGE on type public.mood, public.posint (in database appdb)",
        "+ grant SELECT on large object 4242 (in database appdb)",
        "+ grant USAGE on foreign data wrapper w (in database appdb)",
        "+ grant USAGE on foreign server srv (in database appdb)",
        "+ grant CREATE on tablespace ts (in database appdb)",
        "+ grant SET on parameter work_mem (in database appdb)",
    ]);
    assert_eq!(
        direct_privileges(&cluster, "appdb", "worker"),
        EVERY_CLASS_HELD
    );
    assert_eq!(
        default_privileges(&cluster, "appdb", "worker"),
        ["postgres public T: USAGE"]
    );
    s.assert_converged();

    // Drift made by hand in every class, and a declared grant option taken away.
    exec(
        &cluster,
        "appdb",
        "GRANT UPDATE (note, amount) ON public.orders TO worker;
         GRANT UPDATE ON LARGE OBJECT 4242 TO worker;
         CREATE SCHEMA other; CREATE TYPE other.t AS (a int);
         GRANT USAGE ON TYPE other.t TO worker;
         GRANT USAGE ON TYPE public.mood TO worker WITH GRANT OPTION;
         GRANT ALTER SYSTEM ON PARAMETER work_mem TO worker;
         GRANT SET ON PARAMETER statement_timeout TO worker;
         REVOKE GRANT OPTION FOR SELECT ON public.orders FROM worker;
         ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT USAGE ON TYPES TO worker",
    );
    s.apply_planned(&[
        "- revoke UPDATE on column public.orders.amount, public.orders.note (in database appdb), granted by postgres",
        "- revoke UPDATE on large object 4242 (in database appdb), granted by postgres",
        "- revoke USAGE on type other.t (in database appdb), granted by postgres",
        "- revoke grant option for USAGE on type public.mood (in database appdb), granted by postgres",
        "- revoke ALTER SYSTEM on parameter work_mem (in database appdb), granted by postgres",
        "- revoke SET on parameter statement_timeout (in database appdb), granted by postgres",
        "+ grant SELECT on table public.orders (in database appdb) with grant option",
        "- revoke USAGE on future types created by postgres (default privileges, in database appdb)",
    ]);
    assert_eq!(
        direct_privileges(&cluster, "appdb", "worker"),
        EVERY_CLASS_HELD
    );
    assert_eq!(
        default_privileges(&cluster, "appdb", "worker"),
        ["postgres public T: USAGE"]
    );
    s.assert_converged();
}

/// The CREATEROLE admin grants on what it owns (columns, types, large objects, its server)
/// and refuses at plan what only a superuser can grant (parameters).
#[test]
fn privilege_classes_with_createrole_admin() {
    let cluster = Cluster::start();
    let owner = AdminKind::CreateRole.user();
    objects(&cluster, owner);
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: worker
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - { on: columns, names: [public.orders], columns: [note], privileges: [SELECT] }
      - { on: table, names: [public.orders], privileges: [SELECT], grant_option: true }
      - { on: domain, names: [public.posint], privileges: [USAGE] }
      - { on: large_objects, privileges: [SELECT] }
      - { on: foreign_server, names: [srv], privileges: [USAGE] }
"#;
    let s = Scenario::with_files(&cluster, AdminKind::CreateRole, &registry, roles);
    s.apply(None).expect_success();
    assert_eq!(
        direct_privileges(&cluster, "appdb", "worker"),
        [
            "column public.orders.note: SELECT",
            "foreign server srv: USAGE",
            "large object 4242: SELECT",
            "table public.orders: SELECT WITH GRANT OPTION",
            "type public.posint: USAGE",
        ]
    );
    s.assert_converged();

    exec_as(
        &cluster,
        "appdb",
        owner,
        "GRANT UPDATE (note) ON public.orders TO worker;
         GRANT UPDATE ON LARGE OBJECT 4242 TO worker WITH GRANT OPTION;
         GRANT USAGE ON TYPE public.mood TO worker",
    );
    s.apply(None).expect_success();
    assert_eq!(
        scalar(
            &cluster,
            "appdb",
            "SELECT has_column_privilege('worker', 'public.orders', 'note', 'UPDATE')"
        ),
        "f"
    );
    assert_eq!(
        direct_privileges(&cluster, "appdb", "worker"),
        [
            "column public.orders.note: SELECT",
            "foreign server srv: USAGE",
            "large object 4242: SELECT",
            "table public.orders: SELECT WITH GRANT OPTION",
            "type public.posint: USAGE",
        ]
    );
    s.assert_converged();

    let with_parameter =
        format!("{roles}      - {{ on: parameter, names: [work_mem], privileges: [SET] }}\n");
    s.file("roles.yaml", &with_parameter);
    let out = s.run(&["plan"]);
    out.expect_code(1);
    assert_has(
        &out.stderr,
        "cannot grant on parameter work_mem in database appdb: it is owned by postgres",
    );
}

/// Issue 10's reproduction: a `readonly` role kept a hand-made `GRANT UPDATE (note)` and wrote
/// through it; it is revoked, and the table-level SELECT of the profile stays.
#[test]
fn a_readonly_role_loses_a_hand_granted_column_update() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(
        &cluster,
        "appdb",
        "CREATE TABLE public.orders (id int, note text)",
    );
    let registry = registry_toml(&[("prod", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: analyst
    profile: readonly
    password: none
    targets: ["prod/appdb"]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    s.apply(None).expect_success();
    exec(
        &cluster,
        "appdb",
        "GRANT UPDATE (note) ON public.orders TO analyst",
    );
    s.apply_planned(&[
        "- revoke UPDATE on column public.orders.note (in database appdb), granted by postgres",
    ]);
    let can = |privilege: &str| {
        scalar(
            &cluster,
            "appdb",
            &format!(
                "SELECT has_column_privilege('analyst', 'public.orders', 'note', '{privilege}')"
            ),
        )
    };
    assert_eq!(can("UPDATE"), "f");
    assert_eq!(can("SELECT"), "t");
    s.assert_converged();
}

/// A table-level privilege that gives way to a column-level one: the table REVOKE also takes
/// the privilege off the columns, so the column grant runs after it and the plan converges.
#[test]
fn narrowing_a_table_privilege_to_columns_converges_in_one_apply() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(
        &cluster,
        "appdb",
        "CREATE TABLE public.orders (id int, note text);
         CREATE ROLE worker LOGIN;
         GRANT UPDATE ON public.orders TO worker;
         GRANT UPDATE (note) ON public.orders TO worker",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: worker
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - { on: columns, names: [public.orders], columns: [note], privileges: [UPDATE] }
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    s.apply_planned(&["+ grant UPDATE on column public.orders.note (in database appdb)"]);
    assert_eq!(
        direct_privileges(&cluster, "appdb", "worker"),
        ["column public.orders.note: UPDATE"]
    );
    s.assert_converged();
}

/// Default privileges on large objects arrived in PostgreSQL 18: declared there they cover a
/// large object created later; before 18 the plan refuses them.
#[test]
fn future_large_objects_need_postgresql_18() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: reader
    login: true
    password: none
    targets: ["dev/appdb"]
    grants:
      - { on: large_objects, privileges: [SELECT], future: true }
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    if cluster.major_version() < 18 {
        let out = s.run(&["plan"]);
        out.expect_code(1);
        assert_has(
            &out.stderr,
            "default privileges on large objects need PostgreSQL 18",
        );
        return;
    }
    s.apply(None).expect_success();
    assert_eq!(
        default_privileges(&cluster, "appdb", "reader"),
        ["postgres (all) L: SELECT"]
    );
    exec(&cluster, "appdb", "SELECT lo_create(777)");
    assert_eq!(
        direct_privileges(&cluster, "appdb", "reader"),
        ["large object 777: SELECT"]
    );
    s.assert_converged();

    // Held by hand, undeclared: revoked.
    exec(
        &cluster,
        "appdb",
        "ALTER DEFAULT PRIVILEGES GRANT UPDATE ON LARGE OBJECTS TO reader",
    );
    s.apply(None).expect_success();
    assert_eq!(
        default_privileges(&cluster, "appdb", "reader"),
        ["postgres (all) L: SELECT"]
    );
    s.assert_converged();
}
