//! The built-in profiles on a real cluster: `dba` (CREATEDB CREATEROLE, role-wide settings)
//! converges with either admin, and `readonly`, logged in with its generated password, can read and do
//! nothing else. Name templates expand each placeholder once (issue 9).

use crate::harness::{
    assert_has, attrs, comment, creds_path, default_privileges, direct_privileges, exec, logs_in,
    password_of, read_credentials, registry_toml, role_exists, scalar, settings, sqlstate,
    AdminKind, Cluster, Scenario, CREATEROLE_ADMIN,
};
use postgres::error::SqlState;

/// The built-in `dba` profile: CREATEDB CREATEROLE, connection limit 20, settings role-wide.
fn dba_profile(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    cluster.create_database("app_b");
    if matches!(kind, AdminKind::CreateRole) {
        // The dba profile grants on the databases; a CREATEROLE admin can only grant on what
        // it owns (pgroster refuses at plan time otherwise), as on managed services.
        let mut client = cluster.client("postgres");
        for db in ["app_a", "app_b"] {
            client
                .batch_execute(&format!("ALTER DATABASE {db} OWNER TO {CREATEROLE_ADMIN}"))
                .unwrap();
        }
    }
    let registry = registry_toml(&[("dev", "app_a", &cluster), ("dev", "app_b", &cluster)]);
    let roles = r#"
roles:
  - name: dba1
    profile: dba
    search_path: [admin, public]
    set: { work_mem: "8MB" }
    targets: ["dev/*"]
"#;
    let s = Scenario::with_files(&cluster, kind, &registry, roles);
    let plan = s.plan();
    plan.expect_code(2);
    assert_has(
        &plan.stdout,
        "+ role \"dba1\" (profile dba, targets dev/app_a, dev/app_b)",
    );
    assert_has(
        &plan.stdout,
        "+ search_path = admin, public (all databases)",
    );
    s.apply(Some("creds.json")).expect_success();
    assert_eq!(
        attrs(&cluster, "dba1"),
        "login=true limit=20 until=never createdb=true createrole=true superuser=false"
    );
    assert_eq!(
        settings(&cluster, "dba1"),
        [
            "(role-wide): search_path=admin, public",
            "(role-wide): work_mem=8MB"
        ]
    );
    assert_eq!(
        comment(&cluster, "dba1"),
        "managed by pgroster; profile=dba"
    );
    let password = password_of(&read_credentials(&creds_path(&s, "creds.json")), "dba1");
    assert!(logs_in(&cluster, "dba1", &password, "app_b"));
    s.assert_converged();

    s.file("roles.yaml", &roles.replace("[admin, public]", "[admin]"));
    let plan = s.plan();
    plan.expect_code(2);
    assert_has(
        &plan.stdout,
        "~ search_path = admin, public -> admin (all databases)",
    );
    s.apply(None).expect_success();
    assert_eq!(
        settings(&cluster, "dba1"),
        [
            "(role-wide): search_path=admin",
            "(role-wide): work_mem=8MB"
        ]
    );
    s.assert_converged();
}

#[test]
fn dba_profile_role_wide_settings_converge_superuser_admin() {
    dba_profile(AdminKind::Superuser);
}

#[test]
fn dba_profile_role_wide_settings_converge_createrole_admin() {
    dba_profile(AdminKind::CreateRole);
}

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

/// Issue 9: a placeholder's value was expanded again, so `servername: "{port}"` with `port: 8080`
/// built `8080_8080`. The name template is expanded in one pass: the role is `{port}_8080`,
/// exactly as the values say, created once and then left alone.
#[test]
fn issue9_a_placeholder_value_is_not_expanded_again() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = "roles:\n  - profile: app\n    servername: \"{port}\"\n    port: 8080\n    password: none\n    targets: [\"dev/appdb\"]\n";
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    s.apply_planned(&["+ role \"{port}_8080\""]);
    assert!(role_exists(&cluster, "{port}_8080"));
    assert!(!role_exists(&cluster, "8080_8080"));
    s.assert_converged();
}
