//! Issue 11, adopting a cluster: `import` declares what a hand-made cluster has, and its contract
//! holds on a deliberately messy one: with the file beside the registry, the plan only adopts
//! (markers), apply changes nothing else, and the plan after it is empty. Roles whose state no
//! declaration can give back are left out and named on stderr.

use crate::harness::{
    assert_has, assert_lacks, catalog_snapshot, exec, exec_as, parse_json, AdminKind, Cluster,
    Output, Scenario, CREATEROLE_ADMIN,
};

/// Roles, groups, odd names, settings and memberships, cluster-wide. A few hundred users in
/// nested NOLOGIN groups; on 16+ memberships with non-default options.
fn messy_roles(cluster: &Cluster) {
    exec(
        cluster,
        "postgres",
        r#"
        CREATE ROLE owner_one NOLOGIN;
        CREATE ROLE "Owner Two" NOLOGIN;
        CREATE ROLE g_read NOLOGIN;
        CREATE ROLE g_write NOLOGIN IN ROLE g_read;
        CREATE ROLE "G Admin" NOLOGIN IN ROLE g_write;
        CREATE ROLE "Quote""d" LOGIN CONNECTION LIMIT 5 VALID UNTIL '2031-01-02 03:04:05+00';
        CREATE ROLE "with space" LOGIN CREATEDB PASSWORD 'Hand-made-1';
        CREATE ROLE "ünïcødé" LOGIN NOINHERIT;
        CREATE ROLE "UPPER" LOGIN IN ROLE "G Admin";
        CREATE ROLE lead LOGIN CREATEROLE;
        GRANT g_write TO lead WITH ADMIN OPTION;
        CREATE ROLE diff_ok LOGIN;
        CREATE ROLE diff_bad LOGIN;
        CREATE ROLE only_a LOGIN;
        CREATE ROLE col_user LOGIN;
        CREATE ROLE passer LOGIN;
        CREATE ROLE receiver LOGIN;
        CREATE ROLE global_def NOLOGIN;
        CREATE ROLE setter LOGIN;
        CREATE ROLE reader_files LOGIN IN ROLE pg_read_server_files;
        ALTER ROLE setter SET statement_timeout = '5s';
        ALTER ROLE setter IN DATABASE app_a SET work_mem = '8MB';
        ALTER ROLE setter IN DATABASE app_b SET search_path = sales, "Odd.Schema";
        ALTER ROLE "with space" IN DATABASE app_a SET lock_timeout = '3s';
        ALTER ROLE "with space" IN DATABASE app_b SET lock_timeout = '3s';
        ALTER ROLE "ünïcødé" IN DATABASE other SET work_mem = '1MB';
        DO $$ BEGIN FOR i IN 1..300 LOOP
          EXECUTE format('CREATE ROLE %I LOGIN IN ROLE %I', 'user_' || i,
                         CASE i % 3 WHEN 0 THEN 'g_read' WHEN 1 THEN 'g_write' ELSE 'G Admin' END);
          IF i % 10 = 0 THEN
            EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', 'user_' || i, (i / 10) || 's');
          END IF;
          IF i % 25 = 0 THEN
            EXECUTE format('ALTER ROLE %I IN DATABASE app_b SET work_mem = %L', 'user_' || i, '16MB');
          END IF;
        END LOOP; END $$;
        "#,
    );
    if cluster.major_version() >= 16 {
        exec(
            cluster,
            "postgres",
            r#"GRANT g_read TO "ünïcødé" WITH INHERIT TRUE, SET FALSE;
               GRANT g_read TO user_1 WITH INHERIT FALSE;"#,
        );
    }
}

/// Objects and privileges in one database: grants from several grantors, column privileges,
/// default privileges for two owners, objects with odd names.
fn messy_database(cluster: &Cluster, db: &str) {
    exec(
        cluster,
        db,
        &format!(
            r#"
        CREATE SCHEMA sales AUTHORIZATION owner_one;
        CREATE SCHEMA "Odd.Schema" AUTHORIZATION "Owner Two";
        SET ROLE owner_one;
        CREATE TABLE sales.t1 (id int, secret text);
        CREATE TABLE sales.t2 (id int);
        CREATE TABLE sales.{only} (id int);
        CREATE SEQUENCE sales.s1;
        CREATE FUNCTION sales.f(x int) RETURNS int LANGUAGE sql AS 'SELECT x';
        GRANT SELECT ON sales.t2 TO passer WITH GRANT OPTION;
        RESET ROLE;
        SET ROLE "Owner Two";
        CREATE TABLE "Odd.Schema"."Mixed Case" (id int);
        CREATE TABLE "Odd.Schema"."a.b""c" (id int);
        RESET ROLE;
        GRANT USAGE ON SCHEMA sales, "Odd.Schema" TO g_read;
        GRANT USAGE ON SCHEMA sales TO passer;
        SET ROLE passer;
        GRANT SELECT ON sales.t2 TO receiver;
        RESET ROLE;
        GRANT SELECT ON ALL TABLES IN SCHEMA sales TO g_read;
        GRANT INSERT, UPDATE ON sales.t1 TO g_write;
        GRANT SELECT ON "Odd.Schema"."Mixed Case", "Odd.Schema"."a.b""c" TO "Quote""d";
        GRANT CONNECT, TEMPORARY ON DATABASE {db} TO g_read;
        GRANT SELECT (id), UPDATE (id) ON sales.t1 TO col_user;
        GRANT USAGE ON SEQUENCE sales.s1 TO g_write;
        GRANT EXECUTE ON FUNCTION sales.f(int) TO "ünïcødé";
        GRANT SELECT ON sales.{only} TO diff_ok;
        ALTER DEFAULT PRIVILEGES FOR ROLE owner_one IN SCHEMA sales GRANT SELECT ON TABLES TO g_read;
        ALTER DEFAULT PRIVILEGES FOR ROLE owner_one IN SCHEMA sales GRANT USAGE ON SEQUENCES TO "UPPER";
        ALTER DEFAULT PRIVILEGES FOR ROLE "Owner Two" IN SCHEMA "Odd.Schema"
          GRANT INSERT ON TABLES TO g_write WITH GRANT OPTION;
        "#,
            only = if db == "app_a" { "only_a" } else { "only_b" },
        ),
    );
}

/// Every ACL entry and default privilege of a database, one line each, grantor included.
fn privileges_snapshot(cluster: &Cluster, db: &str) -> Vec<Vec<Option<String>>> {
    cluster.query_strings(
        db,
        "WITH acls(label, acl) AS (
           SELECT 'database ' || datname, datacl FROM pg_database WHERE datname = current_database()
           UNION ALL SELECT 'schema ' || nspname, nspacl FROM pg_namespace
           UNION ALL SELECT 'rel ' || c.oid::regclass::text, c.relacl FROM pg_class c
           UNION ALL SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname, a.attacl
                       FROM pg_attribute a WHERE a.attacl IS NOT NULL
           UNION ALL SELECT 'function ' || p.oid::regprocedure::text, p.proacl FROM pg_proc p
           UNION ALL SELECT 'default ' || pg_get_userbyid(d.defaclrole) || ' '
                            || coalesce(d.defaclnamespace::regnamespace::text, '*') || ' '
                            || d.defaclobjtype::text, d.defaclacl FROM pg_default_acl d)
         SELECT label, pg_get_userbyid(a.grantee), pg_get_userbyid(a.grantor), a.privilege_type,
                a.is_grantable::text
           FROM acls, aclexplode(acls.acl) a ORDER BY 1, 2, 3, 4, 5",
    )
}

/// Roles (attributes, password, memberships, settings) without their comments, which adoption
/// sets, and on 16+ each membership's options and grantor.
fn roles_snapshot(cluster: &Cluster) -> Vec<Vec<Option<String>>> {
    let mut rows = catalog_snapshot(cluster);
    for row in &mut rows {
        row.remove(11);
    }
    if cluster.major_version() >= 16 {
        rows.extend(cluster.query_strings(
            "postgres",
            "SELECT pg_get_userbyid(member), pg_get_userbyid(roleid), pg_get_userbyid(grantor),
                    admin_option::text, inherit_option::text, set_option::text
               FROM pg_auth_members ORDER BY 1, 2, 3",
        ));
    }
    rows
}

fn import_from(s: &Scenario, format: &str) -> Output {
    let out = s.run(&["import", "--target", "dev/app_a", "--format", format]);
    out.expect_success();
    out
}

const QA_JANE: &str = r#"
roles:
  - name: qa_jane
    profile: devqa
    targets: ["dev/*"]
"#;

fn round_trip(cluster: &Cluster, kind: AdminKind) {
    let registry =
        crate::harness::registry_toml(&[("dev", "app_a", cluster), ("dev", "app_b", cluster)]);
    // A role pgroster made with a built-in profile, whose declaration is gone since: import
    // recognises the profile.
    let s = Scenario::with_files(cluster, kind, &registry, QA_JANE);
    s.apply(Some("creds.csv")).expect_success();
    s.file("roles.yaml", "");
    let yaml = import_from(&s, "yaml");
    let toml = import_from(&s, "toml");
    for out in [&yaml, &toml] {
        // Roles that no declaration can give back are named, with why.
        assert_has(
            &out.stderr,
            "role \"diff_bad\" is not imported: its privileges differ between its databases",
        );
        assert_has(
            &out.stderr,
            "role \"global_def\" is not imported: it holds default privileges on tables from owner_one in every schema",
        );
        assert_lacks(&out.stdout, "Hand-made-1");
        assert_lacks(&out.stdout, "password");
    }
    assert_has(&yaml.stdout, "name: Quote\"d");
    assert_has(&yaml.stdout, "name: ünïcødé");
    assert_has(&yaml.stdout, "existing: false");
    let qa_jane = "- name: qa_jane\n  profile: devqa\n  targets:\n  - dev/app_a\n  - dev/app_b\n  login: true\n- ";
    assert!(yaml.stdout.contains(qa_jane), "{}", yaml.stdout);
    assert_has(&yaml.stderr, "role(s) imported, 2 left out");
    if cluster.major_version() >= 16 {
        // Options a new grant would not have: INHERIT other than the member's attribute, no SET.
        for options in ["inherit: false\n", "inherit: true\n    set: false\n"] {
            let membership = format!("  - role: g_read\n    {options}");
            assert!(yaml.stdout.contains(&membership), "{}", yaml.stdout);
        }
    }
    let roles_before = roles_snapshot(cluster);
    let privileges_before = [
        privileges_snapshot(cluster, "app_a"),
        privileges_snapshot(cluster, "app_b"),
    ];

    s.file("roles.yaml", &yaml.stdout);
    let plan = s.run(&["plan", "--format", "json", "--detailed-exitcode"]);
    plan.expect_code(2);
    let plan_json = parse_json(&plan);
    let mut adopted = 0;
    for cluster_plan in plan_json["clusters"].as_array().unwrap() {
        assert_eq!(cluster_plan["errors"], serde_json::json!([]), "{plan_json}");
        for role in cluster_plan["roles"].as_array().unwrap() {
            assert_eq!(role["action"], "adopt", "{role}");
            for change in role["changes"].as_array().unwrap() {
                assert_eq!(change["change"], "set_marker", "{role}");
            }
            adopted += 1;
        }
    }
    assert!(adopted > 300, "{adopted} roles adopted");
    s.apply(None).expect_success();
    s.assert_converged();
    assert_eq!(roles_snapshot(cluster), roles_before);
    assert_eq!(privileges_snapshot(cluster, "app_a"), privileges_before[0]);
    assert_eq!(privileges_snapshot(cluster, "app_b"), privileges_before[1]);

    // The TOML document declares the same: in its place, the plan stays empty.
    std::fs::remove_file(s.path().join("roles.yaml")).unwrap();
    s.file("roles.toml", &toml.stdout);
    s.assert_converged();
}

fn messy_cluster() -> Cluster {
    let cluster = Cluster::start();
    for db in ["app_a", "app_b", "other"] {
        cluster.create_database(db);
    }
    messy_roles(&cluster);
    messy_database(&cluster, "app_a");
    messy_database(&cluster, "app_b");
    exec(
        &cluster,
        "app_a",
        "GRANT SELECT ON sales.t1 TO diff_bad; GRANT CONNECT ON DATABASE app_a TO only_a;
         ALTER DEFAULT PRIVILEGES FOR ROLE owner_one GRANT SELECT ON TABLES TO global_def;",
    );
    exec(&cluster, "app_b", "GRANT SELECT ON sales.t2 TO diff_bad;");
    cluster
}

#[test]
fn import_round_trip_on_a_messy_cluster_changes_nothing_but_markers_superuser_admin() {
    let cluster = messy_cluster();
    round_trip(&cluster, AdminKind::Superuser);
}

/// A CREATEROLE admin adopts what it may alter: the roles it made (on 16+ it holds ADMIN OPTION on
/// them); a superuser role, and on 16+ a role someone else made, are left out and named.
#[test]
fn import_round_trip_with_a_createrole_admin_leaves_out_what_it_may_not_alter() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    exec(
        &cluster,
        "postgres",
        "CREATE ROLE boss SUPERUSER NOLOGIN; CREATE ROLE stranger LOGIN;",
    );
    exec_as(
        &cluster,
        "postgres",
        CREATEROLE_ADMIN,
        r#"CREATE ROLE app_owner NOLOGIN; CREATE ROLE "Team Read" NOLOGIN;
           CREATE ROLE "dev.jane" LOGIN CONNECTION LIMIT 2 IN ROLE "Team Read";
           ALTER ROLE "dev.jane" IN DATABASE app_a SET work_mem = '4MB'"#,
    );
    exec(
        &cluster,
        "app_a",
        r#"CREATE SCHEMA app AUTHORIZATION app_owner;
           CREATE TABLE app.orders (id int); ALTER TABLE app.orders OWNER TO app_owner;
           GRANT USAGE ON SCHEMA app TO "Team Read";
           GRANT SELECT ON app.orders TO "Team Read";
           GRANT CONNECT ON DATABASE app_a TO "dev.jane";"#,
    );
    let registry = crate::harness::registry_toml(&[("dev", "app_a", &cluster)]);
    let s = Scenario::with_files(&cluster, AdminKind::CreateRole, &registry, "");
    let out = import_from(&s, "yaml");
    assert_has(&out.stderr, "role \"boss\" is not imported: admin");
    if cluster.major_version() >= 16 {
        assert_has(&out.stderr, "role \"stranger\" is not imported: admin");
    } else {
        assert_has(&out.stdout, "name: stranger");
    }
    assert_has(&out.stdout, "name: dev.jane");
    // `--roles` narrows to the roles its glob matches.
    let narrowed = s.run(&["import", "--target", "dev/app_a", "--roles", "dev.*"]);
    narrowed.expect_success();
    assert_has(&narrowed.stdout, "name: dev.jane");
    assert_lacks(&narrowed.stdout, "name: Team Read");
    let roles_before = roles_snapshot(&cluster);
    let privileges_before = privileges_snapshot(&cluster, "app_a");
    s.file("roles.yaml", &out.stdout);
    s.plan_changes();
    s.apply(None).expect_success();
    s.assert_converged();
    assert_eq!(roles_snapshot(&cluster), roles_before);
    assert_eq!(privileges_snapshot(&cluster, "app_a"), privileges_before);
}
