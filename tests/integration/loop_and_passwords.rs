//! The reconcile loop end to end against real clusters, and everything about passwords.
//!
//! Every scenario that changes something is followed by `plan --detailed-exitcode` exiting 0 ("test
//! the loop"). Scenarios whose outcome depends on the admin run once with the superuser and once with
//! the non-superuser CREATEROLE admin, each on a fresh cluster (roles are cluster-wide). Assertions read
//! the catalogs directly (pg_roles, pg_authid, pg_auth_members, pg_db_role_setting, pg_shdescription).

use crate::harness::{
    assert_has, assert_lacks, assert_mode_0600, attrs, audit_entries, column, comment, creds_path,
    database_entry, fixture, free_port, lit, logs_in, member_of, password_of, random_secret,
    read_credentials, registry_toml, role_count, role_exists, run_id, settings, stored_password,
    text_of, AdminKind, Cluster, Scenario, CREATEROLE_ADMIN,
};
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------
// 1. Every kind of change converges
// ---------------------------------------------------------------------------------------------

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
    let registry = registry_toml(&[("dev", "app_a", &cluster), ("dev", "app_b", &cluster)]);
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
    // Left alone: settings in a database outside the registry, and memberships in ignored roles
    // (granted by someone else).
    cluster
        .client("postgres")
        .batch_execute(
            "ALTER ROLE alice IN DATABASE outside SET work_mem = '1MB'; GRANT pg_monitor TO alice",
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
    assert_eq!(member_of(&cluster, "alice"), ["pg_monitor"]);
    assert_eq!(
        settings(&cluster, "dbadmin"),
        ["(role-wide): search_path=admin"]
    );
    assert_eq!(comment(&cluster, "alice"), "managed by pgroster");
    s.assert_converged();

    // settings_scope: role on a role without the dba profile, and an undeclared managed role.
    s.file("roles.yaml", fixture!("convergence/v4.yaml"));
    let plan = s.plan();
    plan.expect_code(2);
    for line in [
        "- search_path = app2, public (in database app_a)",
        "- search_path = app2, public (in database app_b)",
        "+ search_path = app2, public (all databases)",
        "note: role \"app_rw\" is managed by pgroster but no longer declared; it is left in place",
        "Plan: 0 to add, 1 to change, 0 to destroy.",
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
    assert!(role_exists(&cluster, "app_rw"));
    assert_eq!(comment(&cluster, "app_rw"), "managed by pgroster");
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

// ---------------------------------------------------------------------------------------------
// 2. Adoption of a hand-made role
// ---------------------------------------------------------------------------------------------

fn adoption(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    let hand_password = random_secret("Hand-");
    let verifier = postgres_protocol::password::scram_sha_256(hand_password.as_bytes());
    cluster
        .client("postgres")
        .batch_execute(&format!(
            "CREATE ROLE legacy LOGIN CONNECTION LIMIT 2 PASSWORD {}",
            lit(&verifier)
        ))
        .unwrap();
    let verifier_before = stored_password(&cluster, "legacy");
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let s = Scenario::with_files(&cluster, kind, &registry, fixture!("adoption/roles.yaml"));

    if kind == AdminKind::CreateRole && cluster.major_version() >= 16 {
        // PostgreSQL 16+: a CREATEROLE admin may only alter roles it has ADMIN OPTION on.
        let plan = s.plan();
        plan.expect_code(1);
        let all = format!("{}{}", plan.stdout, plan.stderr);
        assert_has(&all, "role \"legacy\"");
        assert_has(&all, "ADMIN OPTION");
        let apply = s.apply(None);
        apply.expect_code(1);
        assert_eq!(comment(&cluster, "legacy"), "NULL");
        assert_eq!(
            attrs(&cluster, "legacy"),
            "login=true limit=2 until=never createdb=false createrole=false superuser=false"
        );
        assert_eq!(settings(&cluster, "legacy"), Vec::<String>::new());
        // What the error asks for: a superuser grants ADMIN OPTION; then the role is adoptable.
        cluster
            .client("postgres")
            .batch_execute(&format!(
                "GRANT legacy TO \"{CREATEROLE_ADMIN}\" WITH ADMIN OPTION"
            ))
            .unwrap();
    }

    let plan = s.plan();
    plan.expect_code(2);
    for line in [
        "~ role \"legacy\" (adopt: exists, not yet managed by pgroster)",
        "~ connection_limit = 2 -> 3",
        "+ statement_timeout = 10s (in database app_a)",
        "+ comment = \"managed by pgroster; rotation=2026-11\"",
        "Plan: 0 to add, 1 to change, 0 to destroy.",
    ] {
        assert_has(&plan.stdout, line);
    }
    // Not even with a rotation key: adoption records the key, it does not reset the password.
    assert_lacks(&plan.stdout, "password");
    // Adoption generates no password, so apply needs no --credentials-out.
    s.apply(None).expect_success();
    assert_eq!(
        comment(&cluster, "legacy"),
        "managed by pgroster; rotation=2026-11"
    );
    assert_eq!(
        attrs(&cluster, "legacy"),
        "login=true limit=3 until=never createdb=false createrole=false superuser=false"
    );
    assert_eq!(
        settings(&cluster, "legacy"),
        ["app_a: statement_timeout=10s"]
    );
    assert_eq!(stored_password(&cluster, "legacy"), verifier_before);
    assert!(logs_in(&cluster, "legacy", &hand_password, "app_a"));
    s.assert_converged();
}

#[test]
fn adoption_marks_a_hand_made_role_without_resetting_its_password_superuser_admin() {
    adoption(AdminKind::Superuser);
}

#[test]
fn adoption_by_createrole_admin_needs_admin_option_on_postgres_16_and_later() {
    adoption(AdminKind::CreateRole);
}

/// Granting membership in a group is a change to the group: on PostgreSQL 16+ a CREATEROLE admin
/// needs ADMIN OPTION on it, and the plan must say so rather than the apply failing.
fn membership_in_a_hand_made_group(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    cluster
        .client("postgres")
        .batch_execute("CREATE ROLE legacy_grp NOLOGIN")
        .unwrap();
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let roles = r#"
roles:
  - name: newbie
    password: none
    member_of: [legacy_grp]
    targets: ["dev/app_a"]
"#;
    let s = Scenario::with_files(&cluster, kind, &registry, roles);
    if kind == AdminKind::CreateRole && cluster.major_version() >= 16 {
        let plan = s.plan();
        let all = format!("{}{}", plan.stdout, plan.stderr);
        plan.expect_code(1);
        assert_has(&all, "\"legacy_grp\"");
        assert_has(&all, "ADMIN OPTION");
        s.apply(None).expect_code(1);
        assert!(!role_exists(&cluster, "newbie"));
        cluster
            .client("postgres")
            .batch_execute(&format!(
                "GRANT legacy_grp TO \"{CREATEROLE_ADMIN}\" WITH ADMIN OPTION"
            ))
            .unwrap();
    }
    let plan = s.plan();
    plan.expect_code(2);
    assert_has(&plan.stdout, "+ member_of \"legacy_grp\"");
    s.apply(None).expect_success();
    assert_eq!(member_of(&cluster, "newbie"), ["legacy_grp"]);
    assert_eq!(
        comment(&cluster, "legacy_grp"),
        "NULL",
        "the group is not adopted"
    );
    s.assert_converged();
}

#[test]
fn membership_in_a_hand_made_group_superuser_admin() {
    membership_in_a_hand_made_group(AdminKind::Superuser);
}

#[test]
fn membership_in_a_hand_made_group_needs_admin_option_on_16_and_later_createrole_admin() {
    membership_in_a_hand_made_group(AdminKind::CreateRole);
}

// ---------------------------------------------------------------------------------------------
// 3. Passwords: delivery, rotation, env, none, and no secret anywhere it should not be
// ---------------------------------------------------------------------------------------------

fn passwords(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let config = fixture!("passwords/roles.yaml");
    let mut s = Scenario::with_files(&cluster, kind, &registry, config);
    let declared = ["gen1", "gen2", "rot", "envrole", "nopw", "grp"];

    // The declared password's variable is not set: refused before anything changes.
    let out = s.apply(Some("creds0.json"));
    out.expect_code(1);
    assert_has(&out.stderr, "MY_PASS");
    for role in declared {
        assert!(!role_exists(&cluster, role), "{role} was created");
    }
    // Quotes, a backslash and a space: sent as a verifier, it needs no quoting.
    let env_password = random_secret("Env'\"\\ $-");
    s.env("MY_PASS", &env_password);

    let plan = s.plan();
    plan.expect_code(2);
    assert_has(&plan.stdout, "+ password = (sensitive, from environment)");
    assert_has(&plan.stdout, "+ password = (sensitive, generated)");

    // Stdout is a pipe and there is no --credentials-out: refused before anything changes.
    let before = role_count(&cluster);
    let refused = s.apply(None);
    refused.expect_code(1);
    assert_has(&refused.stderr, "--credentials-out");
    assert_eq!(role_count(&cluster), before);
    for role in declared {
        assert!(!role_exists(&cluster, role), "{role} was created");
    }

    // With --credentials-out: a new 0600 file, and every generated password logs in.
    let first = creds_path(&s, "creds1.json");
    s.apply(Some("creds1.json")).expect_success();
    assert_mode_0600(&first);
    let creds = read_credentials(&first);
    let mut roles: Vec<&str> = creds.iter().map(|c| c.role.as_str()).collect();
    roles.sort_unstable();
    assert_eq!(roles, ["gen1", "gen2", "rot"]);
    for c in &creds {
        assert_eq!(
            (c.env.as_str(), c.database.as_str(), c.host.as_str(), c.port),
            ("dev", "app_a", "127.0.0.1", cluster.port)
        );
        assert_eq!(
            c.password.len(),
            32,
            "generated passwords are 32 characters"
        );
        assert!(logs_in(&cluster, &c.role, &c.password, "app_a"));
        assert!(stored_password(&cluster, &c.role).starts_with("SCRAM-SHA-256$"));
    }
    let mut secrets: Vec<String> = creds.iter().map(|c| c.password.clone()).collect();
    assert!(logs_in(&cluster, "envrole", &env_password, "app_a"));
    assert!(stored_password(&cluster, "envrole").starts_with("SCRAM-SHA-256$"));
    assert_eq!(stored_password(&cluster, "nopw"), "NULL");
    assert_eq!(stored_password(&cluster, "grp"), "NULL");
    assert_eq!(comment(&cluster, "rot"), "managed by pgroster; rotation=a");
    assert_eq!(
        comment(&cluster, "envrole"),
        "managed by pgroster; rotation=1"
    );
    s.assert_converged();

    // The same --credentials-out path again: the file exists, so nothing changes.
    let more = format!("{config}  - name: gen3\n    login: true\n    targets: [\"dev/app_a\"]\n");
    s.file("roles.yaml", &more);
    let first_contents = std::fs::read(&first).unwrap();
    let before = role_count(&cluster);
    let clash = s.apply(Some("creds1.json"));
    clash.expect_code(1);
    assert_has(&clash.stderr, "creds1.json");
    assert_eq!(role_count(&cluster), before);
    assert!(!role_exists(&cluster, "gen3"));
    assert_eq!(std::fs::read(&first).unwrap(), first_contents);
    s.apply(Some("creds2.json")).expect_success();
    let gen3 = password_of(&read_credentials(&creds_path(&s, "creds2.json")), "gen3");
    assert!(logs_in(&cluster, "gen3", &gen3, "app_a"));
    secrets.push(gen3);
    s.assert_converged();

    // Rotation: a new key means a new password; the old one stops working. Generated, and from
    // the environment (a new value with a new key).
    let old_rot = password_of(&creds, "rot");
    s.file(
        "roles.yaml",
        &more
            .replace("rotate: \"a\"", "rotate: \"b\"")
            .replace("rotate: \"1\"", "rotate: \"2\""),
    );
    let new_env_password = random_secret("Env2-");
    s.env("MY_PASS", &new_env_password);
    // The JSON plan too (its output joins the transcript searched for secrets below).
    s.run(&["plan", "--format", "json"]).expect_success();
    let plan = s.plan();
    plan.expect_code(2);
    assert_has(
        &plan.stdout,
        "~ password = (sensitive, generated; rotation a -> b)",
    );
    assert_has(
        &plan.stdout,
        "~ password = (sensitive, from environment; rotation 1 -> 2)",
    );
    assert_has(
        &plan.stdout,
        "~ comment = \"managed by pgroster; rotation=a\" -> \"managed by pgroster; rotation=b\"",
    );
    assert_has(&plan.stdout, "Plan: 0 to add, 2 to change, 0 to destroy.");
    s.apply(Some("creds3.json")).expect_success();
    let rotated = read_credentials(&creds_path(&s, "creds3.json"));
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    let new_rot = password_of(&rotated, "rot");
    assert_ne!(new_rot, old_rot);
    assert!(logs_in(&cluster, "rot", &new_rot, "app_a"));
    assert!(!logs_in(&cluster, "rot", &old_rot, "app_a"));
    assert_eq!(comment(&cluster, "rot"), "managed by pgroster; rotation=b");
    assert!(logs_in(&cluster, "envrole", &new_env_password, "app_a"));
    assert!(!logs_in(&cluster, "envrole", &env_password, "app_a"));
    assert_eq!(
        comment(&cluster, "envrole"),
        "managed by pgroster; rotation=2"
    );
    // The others kept theirs.
    assert!(logs_in(
        &cluster,
        "gen1",
        &password_of(&creds, "gen1"),
        "app_a"
    ));
    secrets.push(new_rot);
    secrets.push(new_env_password);
    s.assert_converged();

    // No secret anywhere: output of every run (audit included), server log, audit file.
    audit_entries(&s);
    // Its random tail too: a leak through a quoted SQL literal would double the quote and backslash.
    secrets.push(env_password[env_password.len() - 24..].to_owned());
    secrets.push(env_password);
    let log = cluster.server_log();
    assert!(
        log.contains("SCRAM-SHA-256$"),
        "pgroster sends verifiers, which the statement log shows"
    );
    let mut audit_bytes = std::fs::read(s.audit_log()).unwrap();
    let wal = PathBuf::from(format!("{}-wal", s.audit_log().display()));
    if let Ok(more) = std::fs::read(wal) {
        audit_bytes.extend(more);
    }
    let transcript = s.transcript();
    for secret in &secrets {
        assert!(
            !transcript.contains(secret.as_str()),
            "a secret in the output:\n{transcript}"
        );
        assert!(!log.contains(secret.as_str()), "a secret in the server log");
        assert!(
            !audit_bytes
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "a secret in the audit log"
        );
    }
}

#[test]
fn passwords_delivered_once_rotated_and_never_leaked_superuser_admin() {
    passwords(AdminKind::Superuser);
}

#[test]
fn passwords_delivered_once_rotated_and_never_leaked_createrole_admin() {
    passwords(AdminKind::CreateRole);
}

// ---------------------------------------------------------------------------------------------
// 4. pgroster reset
// ---------------------------------------------------------------------------------------------

fn reset(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    cluster
        .client("postgres")
        .batch_execute("CREATE ROLE handmade LOGIN")
        .unwrap();
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let s = Scenario::with_files(&cluster, kind, &registry, fixture!("passwords/reset.yaml"));
    s.apply(Some("creds.json")).expect_success();
    let old = password_of(&read_credentials(&creds_path(&s, "creds.json")), "resetme");
    assert!(logs_in(&cluster, "resetme", &old, "app_a"));

    let reset_file = creds_path(&s, "reset.json");
    let out = s.reset("resetme", "dev/app_a", Some("reset.json"));
    out.expect_success();
    assert_mode_0600(&reset_file);
    let creds = read_credentials(&reset_file);
    assert_eq!(creds.len(), 1, "{creds:?}");
    assert_eq!(
        (
            creds[0].env.as_str(),
            creds[0].database.as_str(),
            creds[0].port
        ),
        ("dev", "app_a", cluster.port)
    );
    let new = password_of(&creds, "resetme");
    assert_ne!(new, old);
    assert!(logs_in(&cluster, "resetme", &new, "app_a"));
    assert!(!logs_in(&cluster, "resetme", &old, "app_a"));
    assert!(!out.stdout.contains(&new) && !out.stderr.contains(&new));
    let log = cluster.server_log();
    assert!(
        !log.contains(&new) && !log.contains(&old),
        "a password in the server log"
    );

    let entries = audit_entries(&s);
    let resets: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| text_of(e, "action") == "reset_password")
        .collect();
    assert_eq!(resets.len(), 1, "{entries:?}");
    assert_eq!(text_of(resets[0], "role"), "resetme");
    assert_eq!(text_of(resets[0], "env"), "dev");
    assert_eq!(text_of(resets[0], "database"), "app_a");
    assert_eq!(text_of(resets[0], "outcome"), "ok");
    assert_eq!(text_of(resets[0], "command"), "reset");
    assert!(!serde_json::to_string(&entries).unwrap().contains(&new));
    // A reset is not drift: the marker is unchanged.
    s.assert_converged();

    // Refused: an ignored role, an unmanaged role, and no way to deliver the password.
    let postgres_before = stored_password(&cluster, "postgres");
    let handmade_before = stored_password(&cluster, "handmade");
    let refused_file = creds_path(&s, "refused.json");
    let out = s.reset("postgres", "dev/app_a", Some("refused.json"));
    out.expect_code(1);
    assert_has(&out.stderr, "ignore_roles");
    let out = s.reset("handmade", "dev/app_a", Some("refused.json"));
    out.expect_code(1);
    assert_has(&out.stderr, "not managed by pgroster");
    let out = s.reset("resetme", "dev/app_a", None);
    out.expect_code(1);
    assert_has(&out.stderr, "--credentials-out");
    assert!(!refused_file.exists(), "a refused reset created its file");
    assert_eq!(stored_password(&cluster, "postgres"), postgres_before);
    assert_eq!(stored_password(&cluster, "handmade"), handmade_before);
    assert!(logs_in(&cluster, "resetme", &new, "app_a"));
    let resets = audit_entries(&s)
        .iter()
        .filter(|e| text_of(e, "action") == "reset_password")
        .count();
    assert_eq!(resets, 1, "refused resets must not be audited as changes");
}

#[test]
fn reset_sets_a_new_password_audited_and_refuses_unmanaged_roles_superuser_admin() {
    reset(AdminKind::Superuser);
}

#[test]
fn reset_sets_a_new_password_audited_and_refuses_unmanaged_roles_createrole_admin() {
    reset(AdminKind::CreateRole);
}

// ---------------------------------------------------------------------------------------------
// 5. Hostile names
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 6. Several clusters: each in its own transaction
// ---------------------------------------------------------------------------------------------

fn multi_cluster(kind: AdminKind) {
    let a = Cluster::start();
    let b = Cluster::start();
    a.create_database("app_a");
    b.create_database("app_b");
    let registry = registry_toml(&[("dev", "app_a", &a), ("prod", "app_b", &b)]);
    let v1 = fixture!("multi_cluster/v1.yaml");
    let s = Scenario::with_files(&a, kind, &registry, v1);

    // Both clusters change in one apply.
    let plan = s.plan();
    plan.expect_code(2);
    assert_has(&plan.stdout, &format!("# cluster 127.0.0.1:{}", a.port));
    assert_has(&plan.stdout, &format!("# cluster 127.0.0.1:{}", b.port));
    assert_has(&plan.stdout, "Plan: 4 to add, 0 to change, 0 to destroy.");
    s.apply(Some("creds1.json")).expect_success();
    for (cluster, user, other) in [(&a, "a_user", "b_user"), (&b, "b_user", "a_user")] {
        assert!(role_exists(cluster, "both_grp"));
        assert!(role_exists(cluster, user));
        assert!(
            !role_exists(cluster, other),
            "{other} leaked to the wrong cluster"
        );
        assert_eq!(member_of(cluster, user), ["both_grp"]);
    }
    let creds = read_credentials(&creds_path(&s, "creds1.json"));
    for c in &creds {
        let cluster = if c.role == "a_user" { &a } else { &b };
        assert_eq!(c.port, cluster.port, "{c:?}");
        assert!(logs_in(cluster, &c.role, &c.password, &c.database));
    }
    assert_eq!(creds.len(), 2, "{creds:?}");
    s.assert_converged();

    // PostgreSQL rejects b_bad's setting at ALTER ROLE time: all of B rolls back, A commits.
    let v2 = format!(
        "{}{}",
        v1.replace("connection_limit: 4", "connection_limit: 9"),
        fixture!("multi_cluster/v2_more_roles.yaml").replace("TIMEOUT", "banana")
    );
    s.file("roles.yaml", &v2);
    let b_roles_before = role_count(&b);
    let out = s.apply(Some("creds2.json"));
    out.expect_code(1);
    assert_has(&out.stderr, &format!("127.0.0.1:{}", b.port));
    assert_has(&out.stderr, "banana");
    assert_has(&out.stderr, "b_bad");
    assert_has(&out.stderr, "rolled back");
    assert!(
        role_exists(&a, "a_new"),
        "cluster A's changes were not committed"
    );
    assert!(!role_exists(&b, "b_new"), "cluster B was not rolled back");
    assert!(!role_exists(&b, "b_bad"), "cluster B was not rolled back");
    assert_eq!(role_count(&b), b_roles_before);
    assert_eq!(
        attrs(&b, "b_user"),
        "login=true limit=4 until=never createdb=false createrole=false superuser=false"
    );
    // Only the committed cluster's password is delivered, and it works.
    let creds = read_credentials(&creds_path(&s, "creds2.json"));
    let roles: Vec<&str> = creds.iter().map(|c| c.role.as_str()).collect();
    assert_eq!(roles, ["a_new"]);
    assert!(logs_in(&a, "a_new", &creds[0].password, "app_a"));

    let run = run_id(&out);
    let entries: Vec<serde_json::Value> = audit_entries(&s)
        .into_iter()
        .filter(|e| text_of(e, "run_id") == run)
        .collect();
    let on = |cluster: &Cluster| -> Vec<&serde_json::Value> {
        entries
            .iter()
            .filter(|e| e["port"].as_u64() == Some(u64::from(cluster.port)))
            .collect()
    };
    let (on_a, on_b) = (on(&a), on(&b));
    assert!(!on_a.is_empty() && !on_b.is_empty(), "{entries:#?}");
    for e in &on_a {
        assert_eq!(text_of(e, "outcome"), "ok", "{e}");
    }
    assert!(on_a
        .iter()
        .any(|e| text_of(e, "role") == "a_new" && text_of(e, "action") == "create_role"));
    let failed: Vec<_> = on_b
        .iter()
        .filter(|e| text_of(e, "outcome").starts_with("failed: "))
        .collect();
    assert_eq!(failed.len(), 1, "{on_b:#?}");
    assert_eq!(text_of(failed[0], "role"), "b_bad");
    assert!(
        text_of(failed[0], "outcome").contains("banana"),
        "{}",
        failed[0]
    );
    let rolled_back = on_b
        .iter()
        .filter(|e| text_of(e, "outcome").starts_with("rolled back"))
        .count();
    assert_eq!(rolled_back, on_b.len() - 1, "{on_b:#?}");
    assert!(on_b
        .iter()
        .any(|e| text_of(e, "role") == "b_new" && text_of(e, "action") == "create_role"));

    // The loop: B still has its changes pending (A none); fixed, they apply and converge.
    let plan = s.plan();
    plan.expect_code(2);
    assert_has(&plan.stdout, "+ role \"b_new\"");
    assert_lacks(&plan.stdout, "a_new");
    s.file("roles.yaml", &v2.replace("banana", "5s"));
    s.apply(Some("creds3.json")).expect_success();
    assert!(role_exists(&b, "b_new") && role_exists(&b, "b_bad"));
    assert_eq!(settings(&b, "b_bad"), ["app_b: statement_timeout=5s"]);
    assert_eq!(
        attrs(&b, "b_user"),
        "login=true limit=9 until=never createdb=false createrole=false superuser=false"
    );
    s.assert_converged();
}

#[test]
fn multi_cluster_failure_rolls_back_only_that_cluster_superuser_admin() {
    multi_cluster(AdminKind::Superuser);
}

#[test]
fn multi_cluster_failure_rolls_back_only_that_cluster_createrole_admin() {
    multi_cluster(AdminKind::CreateRole);
}

// ---------------------------------------------------------------------------------------------
// 7. An unreachable cluster
// ---------------------------------------------------------------------------------------------

#[test]
fn unreachable_cluster_is_named_while_the_reachable_one_is_still_planned() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    let port = free_port();
    let registry = format!(
        "{}{}",
        registry_toml(&[("dev", "app_a", &cluster)]),
        database_entry("qa", "app_q", port)
    );
    let roles = r#"
roles:
  - name: r_reach
    targets: ["dev/*"]
  - name: r_q
    targets: ["qa/*"]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    for args in [&["plan"][..], &["plan", "--detailed-exitcode"][..]] {
        let out = s.run(args);
        out.expect_code(1);
        assert_has(&out.stdout, "qa/app_q");
        assert_has(&out.stdout, &format!("127.0.0.1:{port}"));
        assert_has(&out.stdout, "+ role \"r_reach\"");
        assert_has(
            &out.stdout,
            &format!("# cluster 127.0.0.1:{}", cluster.port),
        );
    }
    // The reachable cluster alone: planned, applied, converged.
    let out = s.run(&["plan", "--target", "dev", "--detailed-exitcode"]);
    out.expect_code(2);
    assert_lacks(&out.stdout, "app_q");
    s.run(&["apply", "--target", "dev", "--auto-approve"])
        .expect_success();
    assert!(role_exists(&cluster, "r_reach"));
    assert!(!role_exists(&cluster, "r_q"));
    let out = s.run(&["plan", "--target", "dev", "--detailed-exitcode"]);
    out.expect_code(0);
    // And the whole fleet still reports the unreachable target.
    let out = s.plan();
    out.expect_code(1);
    assert_has(&out.stdout, "qa/app_q");
}

// ---------------------------------------------------------------------------------------------
// Setting names PostgreSQL stores in its own spelling
// ---------------------------------------------------------------------------------------------

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
