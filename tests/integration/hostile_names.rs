//! Names that break naive quoting (spaces, quotes, injection attempts, case, Unicode) in roles,
//! settings, `reset`, and the schemas and tables of grants: created, granted and revoked exactly as
//! named.

use crate::harness::{
    assert_has, assert_lacks, can_table, column, comment, creds_path, default_privileges,
    direct_privileges, exec, fixture, ident, logs_in, member_of, password_of, read_credentials,
    registry_toml, role_exists, settings, AdminKind, Cluster, Scenario, CREATEROLE_ADMIN,
};

/// The Unicode role name that `hostile_names/roles.yaml` declares.
const UNICODE_NAME: &str = "Zoë_日本_ünï";

fn hostile_names(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    cluster
        .client("postgres")
        .batch_execute("CREATE ROLE x")
        .unwrap();
    cluster.create_database("App DB");
    let registry = registry_toml(&[("dev", "app_a", &cluster), ("dev", "App DB", &cluster)]);
    let s = Scenario::with_files(
        &cluster,
        kind,
        &registry,
        fixture!("hostile_names/roles.yaml"),
    );
    s.plan().expect_code(2);
    s.apply(Some("creds.json")).expect_success();

    let mut expected = vec![
        "'; drop role x; --",
        "JSmith",
        "a\"b",
        "evil SUPERUSER",
        UNICODE_NAME,
        "x",
    ];
    expected.sort_unstable(); // The template is initdb'd with --locale=C: byte order.
    let created = column(
        &cluster,
        "postgres",
        &format!(
            "SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' \
             AND rolname NOT IN ('postgres', '{CREATEROLE_ADMIN}') ORDER BY rolname COLLATE \"C\""
        ),
    );
    assert_eq!(created, expected);
    assert!(!role_exists(&cluster, "jsmith"), "JSmith was case-folded");
    assert!(!role_exists(&cluster, "evil"));
    assert_eq!(
        column(
            &cluster,
            "postgres",
            "SELECT rolname FROM pg_roles WHERE rolsuper"
        ),
        ["postgres"]
    );
    assert_eq!(member_of(&cluster, "JSmith"), ["a\"b"]);
    assert_eq!(
        settings(&cluster, "JSmith"),
        [
            "App DB: application_name=it's \"quoted\"",
            "App DB: search_path=\"My Schema\", public",
            "app_a: application_name=it's \"quoted\"",
            "app_a: search_path=\"My Schema\", public",
        ]
    );
    let creds = read_credentials(&creds_path(&s, "creds.json"));
    assert_eq!(creds.len(), 10, "five roles, two targets each: {creds:?}");
    for c in &creds {
        assert!(logs_in(&cluster, &c.role, &c.password, &c.database));
        assert_eq!(comment(&cluster, &c.role), "managed by pgroster");
    }
    s.assert_converged();

    // `reset` quotes the same way.
    for (i, role) in ["a\"b", "'; drop role x; --", UNICODE_NAME]
        .into_iter()
        .enumerate()
    {
        let file = format!("reset{i}.json");
        s.reset(role, "dev/app_a", Some(&file)).expect_success();
        let new = password_of(&read_credentials(&creds_path(&s, &file)), role);
        assert!(logs_in(&cluster, role, &new, "app_a"));
        let old = password_of(&creds, role);
        assert!(!logs_in(&cluster, role, &old, "app_a"));
    }
    assert!(role_exists(&cluster, "x"));
    s.assert_converged();
}

#[test]
fn hostile_names_are_created_exactly_as_named_superuser_admin() {
    hostile_names(AdminKind::Superuser);
}

#[test]
fn hostile_names_are_created_exactly_as_named_createrole_admin() {
    hostile_names(AdminKind::CreateRole);
}

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
        r#"- revoke DELETE on table "My Schema"."Weird ""T""""#,
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

/// A name PostgreSQL accepts may hold a newline or an ESC. Printed raw, a hand-made role could
/// forge plan lines in a pull-request comment and drive the terminal; pgroster prints them escaped
/// in the plan text and in `roles`/`show`.
#[test]
fn control_characters_in_catalog_names_cannot_forge_plan_lines() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    let forged = "old\n  + role \"fake\" (superuser)\u{1b}[2J";
    cluster
        .client("postgres")
        .batch_execute(&format!(
            "CREATE ROLE {}; COMMENT ON ROLE {} IS 'managed by pgroster'",
            ident(forged),
            ident(forged)
        ))
        .unwrap();
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let roles = r#"
roles:
  - name: app
    password: none
    set: { application_name: "a\nb" }
    targets: ["dev/app_a"]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let plan = s.plan();
    plan.expect_code(2);
    let listing = s.run(&["roles", "--target", "dev/app_a"]);
    listing.expect_success();
    for out in [&plan.stdout, &listing.stdout] {
        assert!(
            !out.contains('\u{1b}'),
            "an ESC reached the terminal:\n{out}"
        );
        assert!(
            !out.lines()
                .any(|l| l.trim_start().starts_with("+ role \"fake\"")),
            "a forged line:\n{out}"
        );
    }
    // The plan quotes the role name as SQL does (its quotes doubled), the listing prints it raw.
    assert_has(
        &plan.stdout,
        "\"old\\n + role \"\"fake\"\" (superuser)\\u{1b}[2J\"",
    );
    assert_has(
        &listing.stdout,
        "old\\n + role \"fake\" (superuser)\\u{1b}[2J",
    );
    assert_has(&plan.stdout, "+ application_name = a\\nb");
}
