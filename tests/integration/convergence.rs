//! The reconcile loop: every kind of change (attributes, expiry, settings per database and role-wide,
//! memberships) is planned, applied, and then planned again with no changes, with either admin;
//! settings that PostgreSQL stores under its own spelling converge too.

use crate::harness::{
    assert_has, assert_lacks, attrs, comment, creds_path, fixture, logs_in, member_of,
    read_credentials, registry_toml, role_exists, settings, stored_password, with_settings,
    AdminKind, Cluster, Scenario, CREATEROLE_ADMIN,
};

fn every_kind_of_change_converges(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    cluster.create_database("app_b");
    cluster.create_database("outside");
    // pgroster's sessions run at UTC+05:30: valid_until must still mean UTC.
    cluster
        .client("postgres")
        .batch_execute(&format!(
            "ALTER ROLE postgres SET timezone = 'Asia/Kolkata'; \
             ALTER ROLE \"{CREATEROLE_ADMIN}\" SET timezone = 'Asia/Kolkata'"
        ))
        .unwrap();
    let registry = with_settings(
        &registry_toml(&[("dev", "app_a", &cluster), ("dev", "app_b", &cluster)]),
        "ignore_roles = [\"rds*\"]",
    );
    let s = Scenario::with_files(&cluster, kind, &registry, fixture!("convergence/v1.yaml"));

    // Create: attributes, per-database settings in both databases, role-wide settings, membership.
    let plan = s.plan();
    plan.expect_code(2);
    for line in [
        "+ role \"alice\"",
        "+ role \"app_rw\"",
        "+ role \"dbadmin\" (targets dev/app_a, dev/app_b)",
        "+ connection_limit = 5",
        "+ valid_until = 2030-01-02T00:00:00Z",
        "+ createdb = true",
        "+ password = (sensitive, generated)",
        "+ member_of \"app_rw\"",
        "+ statement_timeout = 30s (in database app_a)",
        "+ statement_timeout = 30s (in database app_b)",
        "+ work_mem = 8MB (all databases)",
        "Plan: 3 to add, 0 to change, 0 to destroy.",
    ] {
        assert_has(&plan.stdout, line);
    }
    s.apply(Some("creds1.json")).expect_success();
    assert_eq!(
        attrs(&cluster, "alice"),
        "login=true limit=5 until=2030-01-02 00:00:00 createdb=true createrole=false superuser=false"
    );
    assert_eq!(
        settings(&cluster, "alice"),
        [
            "app_a: search_path=app, public",
            "app_a: statement_timeout=30s",
            "app_b: search_path=app, public",
            "app_b: statement_timeout=30s",
        ]
    );
    assert_eq!(member_of(&cluster, "alice"), ["app_rw"]);
    assert_eq!(comment(&cluster, "alice"), "managed by pgroster");
    assert_eq!(member_of(&cluster, "app_rw"), Vec::<String>::new());
    assert_eq!(
        attrs(&cluster, "dbadmin"),
        "login=true limit=20 until=never createdb=true createrole=true superuser=false"
    );
    assert_eq!(
        settings(&cluster, "dbadmin"),
        [
            "(role-wide): search_path=admin, public",
            "(role-wide): work_mem=8MB"
        ]
    );
    assert_eq!(comment(&cluster, "dbadmin"), "managed by pgroster");
    assert_eq!(
        attrs(&cluster, "app_rw"),
        "login=false limit=-1 until=never createdb=false createrole=false superuser=false"
    );
    assert_eq!(stored_password(&cluster, "app_rw"), "NULL");
    let creds = read_credentials(&creds_path(&s, "creds1.json"));
    let mut roles: Vec<&str> = creds.iter().map(|c| c.role.as_str()).collect();
    roles.sort_unstable();
    // One entry per role and target; the group role has no password.
    assert_eq!(roles, ["alice", "alice", "dbadmin", "dbadmin"]);
    for c in &creds {
        assert_eq!((c.env.as_str(), c.host.as_str()), ("dev", "127.0.0.1"));
        assert_eq!(c.port, cluster.port);
        assert!(logs_in(&cluster, &c.role, &c.password, &c.database));
    }
    s.assert_converged();
    // Left alone: settings in a database outside the registry, and memberships in ignored
    // provider roles (granted by someone else; predefined `pg_*` ones are revoked, issue 10).
    cluster
        .client("postgres")
        .batch_execute(
            "ALTER ROLE alice IN DATABASE outside SET work_mem = '1MB'; \
             CREATE ROLE rds_iam; GRANT rds_iam TO alice",
        )
        .unwrap();
    s.assert_converged();

    // Change attributes and setting values in place.
    s.file("roles.yaml", fixture!("convergence/v2.yaml"));
    let plan = s.plan();
    plan.expect_code(2);
    for line in [
        "~ role \"alice\"",
        "~ connection_limit = 5 -> 7",
        "~ valid_until = 2030-01-02T00:00:00Z -> 2031-06-30T12:30:00Z",
        "~ createdb = true -> false",
        "~ search_path = app, public -> app2, public (in database app_a)",
        "~ statement_timeout = 30s -> 1min (in database app_b)",
        "~ search_path = admin, public -> admin (all databases)",
        "~ work_mem = 8MB -> 16MB (all databases)",
        "Plan: 0 to add, 2 to change, 0 to destroy.",
    ] {
        assert_has(&plan.stdout, line);
    }
    assert_lacks(&plan.stdout, "password");
    // No password is generated for existing roles, so no --credentials-out is needed.
    s.apply(None).expect_success();
    assert_eq!(
        attrs(&cluster, "alice"),
        "login=true limit=7 until=2031-06-30 12:30:00 createdb=false createrole=false superuser=false"
    );
    assert_eq!(
        settings(&cluster, "alice"),
        [
            "app_a: search_path=app2, public",
            "app_a: statement_timeout=1min",
            "app_b: search_path=app2, public",
            "app_b: statement_timeout=1min",
            "outside: work_mem=1MB",
        ]
    );
    assert_eq!(
        settings(&cluster, "dbadmin"),
        [
            "(role-wide): search_path=admin",
            "(role-wide): work_mem=16MB"
        ]
    );
    s.assert_converged();

    // Login off, membership revoked, settings removed from the config are reset.
    s.file("roles.yaml", fixture!("convergence/v3.yaml"));
    let plan = s.plan();
    plan.expect_code(2);
    for line in [
        "~ login = true -> false",
        "~ valid_until = 2031-06-30T12:30:00Z -> infinity",
        "- member_of \"app_rw\"",
        "- statement_timeout = 1min (in database app_a)",
        "- statement_timeout = 1min (in database app_b)",
        "- work_mem = 16MB (all databases)",
        "Plan: 0 to add, 2 to change, 0 to destroy.",
    ] {
        assert_has(&plan.stdout, line);
    }
    s.apply(None).expect_success();
    assert_eq!(
        attrs(&cluster, "alice"),
        "login=false limit=7 until=infinity createdb=false createrole=false superuser=false"
    );
    assert_eq!(
        settings(&cluster, "alice"),
        [
            "app_a: search_path=app2, public",
            "app_b: search_path=app2, public",
            "outside: work_mem=1MB",
        ]
    );
    assert_eq!(member_of(&cluster, "alice"), ["rds_iam"]);
    assert_eq!(
        settings(&cluster, "dbadmin"),
        ["(role-wide): search_path=admin"]
    );
    assert_eq!(comment(&cluster, "alice"), "managed by pgroster");
    s.assert_converged();

    // settings_scope: role on a role without the dba profile, and an undeclared managed role,
    // which is dropped (issue 11).
    s.file("roles.yaml", fixture!("convergence/v4.yaml"));
    let plan = s.plan();
    plan.expect_code(2);
    for line in [
        "- search_path = app2, public (in database app_a)",
        "- search_path = app2, public (in database app_b)",
        "+ search_path = app2, public (all databases)",
        "- role \"app_rw\" (destroy: managed by pgroster, declared by no config for this cluster)",
        "- DROP ROLE (step 4: once every database is clean)",
        "Plan: 0 to add, 1 to change, 1 to destroy.",
    ] {
        assert_has(&plan.stdout, line);
    }
    s.apply(None).expect_success();
    assert_eq!(
        settings(&cluster, "alice"),
        [
            "(role-wide): search_path=app2, public",
            "outside: work_mem=1MB"
        ]
    );
    assert!(!role_exists(&cluster, "app_rw"));
    s.assert_converged();
}

#[test]
fn every_kind_of_change_converges_with_superuser_admin() {
    every_kind_of_change_converges(AdminKind::Superuser);
}

#[test]
fn every_kind_of_change_converges_with_createrole_admin() {
    every_kind_of_change_converges(AdminKind::CreateRole);
}

/// PostgreSQL stores a role setting under the parameter's canonical name (`GUCArrayAdd` normalises
/// it): `ALTER ROLE .. SET timezone` is stored as `TimeZone=UTC`. The loop must still close whichever
/// spelling the config uses.
#[test]
fn mixed_case_setting_names_converge() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let roles = r#"
roles:
  - name: tz_user
    password: none
    set: { TimeZone: "UTC", DateStyle: "ISO, DMY" }
    targets: ["dev/app_a"]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    s.apply(None).expect_success();
    assert_eq!(
        settings(&cluster, "tz_user"),
        ["app_a: DateStyle=ISO, DMY", "app_a: TimeZone=UTC"]
    );
    s.assert_converged();
}

/// `local_preload_libraries` and `session_preload_libraries` are lists, like `search_path`: each
/// library is its own element, so the stored value is right and the next plan sees no drift.
#[test]
fn list_valued_settings_are_stored_as_lists_and_converge() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let roles = r#"
roles:
  - name: tracer
    password: none
    set:
      local_preload_libraries: "mylib, Other Lib"
      session_preload_libraries: "auditlib"
    targets: ["dev/app_a"]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    s.apply(None).expect_success();
    assert_eq!(
        settings(&cluster, "tracer"),
        [
            "app_a: local_preload_libraries=mylib, \"Other Lib\"",
            "app_a: session_preload_libraries=auditlib",
        ]
    );
    s.assert_converged();
}

/// `VALID UNTIL '-infinity'` means the role can never log in: it is drift from "never expires",
/// not the same thing.
#[test]
fn valid_until_minus_infinity_is_drift_from_never_expires() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let roles = r#"
roles:
  - name: locked
    password: none
    targets: ["dev/app_a"]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    s.apply(None).expect_success();
    cluster
        .client("postgres")
        .batch_execute("ALTER ROLE locked VALID UNTIL '-infinity'")
        .unwrap();
    let plan = s.plan();
    plan.expect_code(2);
    assert_has(&plan.stdout, "~ valid_until = -infinity -> infinity");
    s.apply(None).expect_success();
    assert_eq!(
        attrs(&cluster, "locked"),
        "login=false limit=-1 until=infinity createdb=false createrole=false superuser=false"
    );
    s.assert_converged();
}
