//! Revocation: undeclared privileges of a managed role are revoked, also when another grantor gave
//! them, and so are undeclared default privileges (per schema and global); unmanaged roles, and a
//! managed role's own entries in its default privileges, are never touched.

use crate::harness::{
    assert_has, assert_lacks, can_table, default_privileges, direct_privileges, exec, exec_as,
    fixture, registry_toml, scalar, table_privileges, AdminKind, Cluster, Scenario,
};

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
    let roles = fixture!("grants/reader_selects_orders.yaml");
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
        ["INSERT WITH GRANT OPTION", "SELECT WITH GRANT OPTION"]
    );
}

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
    // Listed as unmanaged (issue 11), never changed.
    assert_lacks(&out.stdout, "~ role \"bystander\"");
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

/// Issue 10: a managed role that set its own global default privileges (SELECT on its future tables
/// for another role, EXECUTE on its future functions revoked from PUBLIC) keeps them. Its own entries
/// in the default ACL (grantee: itself) are what it gets on objects it creates: revoking them left it
/// "permission denied" on its own new tables and made its new functions PUBLIC-executable again.
fn a_managed_owner_keeps_its_own_default_privileges(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(&cluster, "postgres", "CREATE ROLE reader");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: app_owner
    login: true
    password: none
    targets: ["dev/appdb"]
"#;
    let s = Scenario::with_files(&cluster, kind, &registry, roles);
    s.apply(None).expect_success();
    exec(
        &cluster,
        "appdb",
        "CREATE SCHEMA app AUTHORIZATION app_owner",
    );
    exec_as(
        &cluster,
        "appdb",
        "app_owner",
        "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO reader;
         ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC",
    );
    let own_defaults = default_privileges(&cluster, "appdb", "app_owner");
    assert!(
        own_defaults.contains(&"app_owner (all) f: EXECUTE".to_string())
            && own_defaults.contains(&"app_owner (all) r: SELECT".to_string()),
        "{own_defaults:?}"
    );

    let out = s.assert_converged();
    assert_lacks(&out.stdout, "revoke");
    s.apply(None).expect_success();
    assert_eq!(
        default_privileges(&cluster, "appdb", "app_owner"),
        own_defaults
    );
    assert_eq!(
        default_privileges(&cluster, "appdb", "reader"),
        ["app_owner (all) r: SELECT"]
    );

    // What the default privileges are for: the owner's new table is its own to read, the reader
    // reads it too, and nobody else runs its new function.
    exec_as(
        &cluster,
        "appdb",
        "app_owner",
        "CREATE TABLE app.orders (id int);
         CREATE FUNCTION app.one() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    );
    assert!(can_table(
        &cluster,
        "appdb",
        "app_owner",
        "app",
        "orders",
        "SELECT"
    ));
    assert!(can_table(
        &cluster, "appdb", "reader", "app", "orders", "SELECT"
    ));
    assert_eq!(
        scalar(
            &cluster,
            "appdb",
            "SELECT has_function_privilege('reader', 'app.one()', 'EXECUTE')"
        ),
        "f"
    );
    s.assert_converged();
}

#[test]
fn a_managed_owner_keeps_its_own_default_privileges_with_superuser_admin() {
    a_managed_owner_keeps_its_own_default_privileges(AdminKind::Superuser);
}

#[test]
fn a_managed_owner_keeps_its_own_default_privileges_with_createrole_admin() {
    a_managed_owner_keeps_its_own_default_privileges(AdminKind::CreateRole);
}

/// Issue 10: a managed role passed an undeclared grant option on (to a managed role that
/// declares the privilege, to an unmanaged one, which passed it on to PUBLIC). Its revoke used
/// to fail with "dependent privileges exist" and roll back the database's grants on every run.
/// Now it runs with CASCADE, the plan lists every grant that goes with it, the managed
/// dependent gets its declared privilege from the owner in the same apply, and the next plan
/// is empty.
fn a_passed_on_privilege_is_revoked_with_cascade(kind: AdminKind) {
    let cluster = Cluster::start();
    let owner = kind.user();
    cluster.create_database_owned_by("appdb", owner);
    exec(&cluster, "postgres", "CREATE ROLE guest");
    exec_as(
        &cluster,
        "appdb",
        owner,
        "CREATE TABLE public.orders (id int)",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: lead
    password: none
    targets: ["dev/appdb"]
    grants: [{ on: table, names: [public.orders], privileges: [SELECT] }]
  - name: dev1
    password: none
    targets: ["dev/appdb"]
    grants: [{ on: table, names: [public.orders], privileges: [SELECT] }]
"#;
    let s = Scenario::with_files(&cluster, kind, &registry, roles);
    s.apply(None).expect_success();
    exec_as(
        &cluster,
        "appdb",
        owner,
        "GRANT SELECT ON public.orders TO lead WITH GRANT OPTION;
         REVOKE SELECT ON public.orders FROM dev1",
    );
    exec(
        &cluster,
        "appdb",
        "SET ROLE lead;
         GRANT SELECT ON public.orders TO dev1;
         GRANT SELECT ON public.orders TO guest WITH GRANT OPTION;
         SET ROLE guest;
         GRANT SELECT ON public.orders TO PUBLIC;
         RESET ROLE",
    );

    let out = s.plan_changes();
    for line in [
        &format!(
            "- revoke grant option for SELECT on table public.orders (in database appdb), \
             granted by {owner}, cascading to the grants it made:"
        ),
        "- SELECT on table public.orders from dev1 (granted by lead)",
        "- SELECT on table public.orders from guest (granted by lead)",
        "- SELECT on table public.orders from PUBLIC (granted by guest)",
        "+ grant SELECT on table public.orders (in database appdb)",
    ] {
        assert_has(&out.stdout, line);
    }
    // dev1's grant goes with the cascade: no revoke of its own, which would find nothing.
    assert_lacks(&out.stdout, "revoke SELECT on table public.orders");
    s.apply(None).expect_success();
    assert_eq!(
        direct_privileges(&cluster, "appdb", "lead"),
        ["table public.orders: SELECT"]
    );
    assert_eq!(
        direct_privileges(&cluster, "appdb", "dev1"),
        ["table public.orders: SELECT"]
    );
    assert!(direct_privileges(&cluster, "appdb", "guest").is_empty());
    assert_eq!(
        scalar(
            &cluster,
            "appdb",
            "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a \
              WHERE c.relname = 'orders' AND a.grantee = 0"
        ),
        "0"
    );
    s.assert_converged();
}

#[test]
fn a_passed_on_privilege_is_revoked_with_cascade_with_superuser_admin() {
    a_passed_on_privilege_is_revoked_with_cascade(AdminKind::Superuser);
}

#[test]
fn a_passed_on_privilege_is_revoked_with_cascade_with_createrole_admin() {
    a_passed_on_privilege_is_revoked_with_cascade(AdminKind::CreateRole);
}
