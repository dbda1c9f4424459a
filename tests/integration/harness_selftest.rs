//! Checks that the harness gives what the scenarios rely on: isolated clusters, SCRAM auth for both
//! admins, a statement log, clean shutdown, and a scrubbed environment for the binary.

use crate::harness::{registry_toml, AdminKind, Cluster, Output, Scenario, CREATEROLE_ADMIN};
use std::path::Path;

#[test]
fn harness_runs_two_clusters_at_once_on_distinct_ports() {
    let a = Cluster::start();
    let b = Cluster::start();
    assert_ne!(a.port, b.port);
    assert_ne!(a.data_dir(), b.data_dir());
    a.client("postgres")
        .batch_execute("CREATE ROLE only_on_a")
        .unwrap();
    let on = |cluster: &Cluster| {
        cluster.query_strings(
            "postgres",
            "SELECT count(*) FROM pg_roles WHERE rolname = 'only_on_a'",
        )
    };
    assert_eq!(on(&a), vec![vec![Some("1".to_owned())]]);
    assert_eq!(on(&b), vec![vec![Some("0".to_owned())]]);
    let port = |cluster: &Cluster| cluster.query_strings("postgres", "SHOW port")[0][0].clone();
    assert_eq!(port(&a), Some(a.port.to_string()));
    assert_eq!(port(&b), Some(b.port.to_string()));
}

#[test]
fn harness_scram_auth_for_both_admins_and_wrong_password_fails() {
    let cluster = Cluster::start();
    for kind in AdminKind::ALL {
        let (user, password) = cluster.admin(kind);
        let mut client = cluster.connect(&user, &password, "postgres").unwrap();
        let row = client.query_one("SELECT current_user::text", &[]).unwrap();
        assert_eq!(row.get::<_, String>(0), user);

        let err = cluster
            .connect(&user, &format!("{password}x"), "postgres")
            .err()
            .unwrap_or_else(|| panic!("{user} logged in with a wrong password"));
        let code = err.as_db_error().map(|e| e.code().clone());
        assert_eq!(
            code,
            Some(postgres::error::SqlState::INVALID_PASSWORD),
            "{err}"
        );
    }
    let stored = cluster.query_strings(
        "postgres",
        &format!(
            "SELECT rolname, left(rolpassword, 14) FROM pg_authid \
             WHERE rolname IN ('postgres', '{CREATEROLE_ADMIN}') ORDER BY rolname"
        ),
    );
    for row in &stored {
        assert_eq!(row[1].as_deref(), Some("SCRAM-SHA-256$"), "{row:?}");
    }
    assert_eq!(stored.len(), 2);
}

#[test]
fn harness_createrole_admin_is_not_a_superuser() {
    let cluster = Cluster::start();
    let (user, password) = cluster.admin(AdminKind::CreateRole);
    assert_eq!(user, CREATEROLE_ADMIN);
    let rows = cluster.query_strings(
        "postgres",
        &format!(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles \
             WHERE rolname = '{CREATEROLE_ADMIN}'"
        ),
    );
    let t = Some("t".to_owned());
    let f = Some("f".to_owned());
    assert_eq!(rows, vec![vec![f, t.clone(), t.clone(), t]]);

    // And it can do what CREATEROLE allows on every version: create a role.
    let mut admin = cluster.connect(&user, &password, "postgres").unwrap();
    admin.batch_execute("CREATE ROLE made_by_admin").unwrap();
    assert!(admin.batch_execute("CREATE ROLE su SUPERUSER").is_err());
}

#[test]
fn harness_server_log_captures_statements_and_no_admin_password() {
    let cluster = Cluster::start();
    cluster
        .client("postgres")
        .batch_execute("SELECT 'harness-log-marker'")
        .unwrap();
    let log = cluster.server_log();
    assert!(
        log.contains("statement: SELECT 'harness-log-marker'"),
        "{log}"
    );
    // The harness creates its admin with a SCRAM verifier, so tests may search the log for secrets.
    for kind in AdminKind::ALL {
        let (_, password) = cluster.admin(kind);
        assert!(!log.contains(&password), "admin password in the server log");
    }
}

#[test]
fn harness_create_database_and_version() {
    let cluster = Cluster::start();
    cluster.create_database("App_Dev");
    let rows = cluster.query_strings("App_Dev", "SELECT current_database()");
    assert_eq!(rows, vec![vec![Some("App_Dev".to_owned())]]);
    assert!(cluster.server_version_num() >= 150_000);
    // The server runs from the chosen binaries: `postgres (PostgreSQL) 18.3` -> 18.
    let out = std::process::Command::new(cluster.bin_dir().join("postgres"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8(out.stdout).unwrap();
    let major = version.split_whitespace().nth(2).unwrap().split('.').next();
    assert_eq!(major, Some(cluster.major_version().to_string().as_str()));
}

#[test]
fn harness_drop_stops_the_server_and_removes_its_dir() {
    let cluster = Cluster::start();
    let dir = cluster.data_dir().to_owned();
    let pid = std::fs::read_to_string(dir.join("postmaster.pid")).unwrap();
    let pid = pid.lines().next().unwrap().to_owned();
    let port = cluster.port;
    drop(cluster);
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "postmaster {pid} still runs"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn harness_scenario_environment_is_scrubbed() {
    let cluster = Cluster::start();
    let mut scenario = Scenario::new();
    scenario
        .with_admin(&cluster, AdminKind::CreateRole)
        .env("PGROSTER_ACTOR", "tester");
    let out = scenario.command("env").output().unwrap();
    let env = String::from_utf8(out.stdout).unwrap();
    // Whatever PG* variables the developer's shell has (PGHOST, PGPASSWORD...), only the scenario's pass.
    let mut pg_vars: Vec<&str> = env.lines().filter(|l| l.starts_with("PG")).collect();
    pg_vars.sort_unstable();
    let (_, password) = cluster.admin(AdminKind::CreateRole);
    let expected = [
        "PGROSTER_ACTOR=tester".to_owned(),
        format!("PG_ADMIN_PASS={password}"),
        format!("PG_ADMIN_USER={CREATEROLE_ADMIN}"),
    ];
    assert_eq!(pg_vars, expected);
    assert!(env.lines().any(|l| l == "NO_COLOR=1"));
    assert!(env
        .lines()
        .any(|l| l == format!("HOME={}", scenario.path().display())));
}

#[test]
fn harness_scenario_writes_files_and_registry() {
    let a = Cluster::start();
    let b = Cluster::start();
    let scenario = Scenario::new();
    let registry = registry_toml(&[("dev", "app_dev_main", &a), ("prod", "app_prod_main", &b)]);
    scenario
        .file("registry.toml", &registry)
        .file("roles/dev.yaml", "roles: []\n");
    let written = std::fs::read_to_string(scenario.path().join("registry.toml")).unwrap();
    assert_eq!(written, registry);
    assert!(scenario.path().join("roles/dev.yaml").is_file());

    let parsed: toml::Value = toml::from_str(&registry).unwrap();
    assert_eq!(
        parsed["settings"]["admin_user_env"].as_str(),
        Some("PG_ADMIN_USER")
    );
    let databases = parsed["databases"].as_array().unwrap();
    assert_eq!(databases.len(), 2);
    assert_eq!(databases[1]["env"].as_str(), Some("prod"));
    assert_eq!(databases[1]["name"].as_str(), Some("app_prod_main"));
    assert_eq!(databases[1]["host"].as_str(), Some("127.0.0.1"));
    assert_eq!(databases[1]["port"].as_integer(), Some(i64::from(b.port)));
    assert_eq!(
        scenario.audit_log(),
        scenario.path().join("pgroster-audit.db")
    );
}

#[test]
fn harness_scenario_runs_the_binary_with_config_dir_first() {
    // `run` puts `-c <dir>` before the subcommand, so `-c` must be a top-level (global) flag.
    let out: Output = Scenario::new().run(&["--help"]);
    out.expect_success();
}
