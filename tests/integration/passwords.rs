//! Passwords: generated ones delivered once in a new 0600 `--credentials-out` file, taken from the
//! environment, rotated by key, or `none`; `pgroster reset`; and no secret in any output, the server
//! log or the audit log.

use crate::harness::{
    assert_has, assert_mode_0600, audit_entries, comment, creds_path, fixture, logs_in,
    password_of, random_secret, read_credentials, registry_toml, role_count, role_exists,
    stored_password, text_of, AdminKind, Cluster, Scenario,
};
use std::path::PathBuf;

/// How many SCRAM verifiers the server log holds (the harness logs one, setting up its admin).
fn logged_verifiers(cluster: &Cluster) -> usize {
    cluster.server_log().matches("SCRAM-SHA-256$").count()
}

fn passwords(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    let harness_verifiers = logged_verifiers(&cluster);
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
    // pgroster sends verifiers; the statement log (log_statement=all) shows them only when the
    // admin may not turn it off for its transaction.
    assert_eq!(
        logged_verifiers(&cluster) > harness_verifiers,
        kind == AdminKind::CreateRole,
        "verifiers in the server log"
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

/// Role `name`, whose password comes from `VERIFIER_PASS` under rotation key `key`.
fn env_password_roles(name: &str, key: &str) -> String {
    format!(
        "roles:\n  - name: {name}\n    login: true\n    \
         password: {{ env: VERIFIER_PASS, rotate: \"{key}\" }}\n    targets: [\"dev/app_a\"]\n"
    )
}

#[test]
fn verifiers_stay_out_of_the_server_log_when_the_admin_may_and_the_plan_says_when_not() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    // The harness starts every server with log_statement=all; said here too, as a user would.
    crate::harness::exec(
        &cluster,
        "postgres",
        "ALTER SYSTEM SET log_statement = 'all'",
    );
    crate::harness::exec(&cluster, "postgres", "SELECT pg_reload_conf()");
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let note = "the server logs statements";
    let harness_verifiers = logged_verifiers(&cluster);

    // A superuser admin: no note, and no verifier in the log after a create and a rotation.
    let mut s = Scenario::with_files(
        &cluster,
        AdminKind::Superuser,
        &registry,
        &env_password_roles("chosen", "1"),
    );
    s.env("VERIFIER_PASS", &random_secret("Chosen-"));
    let plan = s.plan_changes();
    assert!(!plan.stdout.contains(note), "{}", plan.stdout);
    s.apply(None).expect_success();
    s.file("roles.yaml", &env_password_roles("chosen", "2"));
    s.env("VERIFIER_PASS", &random_secret("Chosen2-"));
    s.apply(None).expect_success();
    assert!(
        cluster.server_log().contains("SET LOCAL log_statement"),
        "the server logs statements"
    );
    assert_eq!(
        logged_verifiers(&cluster),
        harness_verifiers,
        "a verifier in the server log"
    );

    // A CREATEROLE admin without the privilege: the plan says the verifiers will be logged.
    // Its own role, which PostgreSQL 16+ lets it alter; `chosen` stays declared, or it would
    // be dropped, which this admin may not do on 16+ (issue 11).
    s.with_admin(&cluster, AdminKind::CreateRole);
    let with_chosen = |key: &str| {
        format!(
            "{}{}",
            env_password_roles("chosen_cr", key),
            env_password_roles("chosen", "2").replacen("roles:\n", "", 1)
        )
    };
    s.file("roles.yaml", &with_chosen("1"));
    let plan = s.plan_changes();
    assert_has(&plan.stdout, note);
    assert_has(&plan.stdout, crate::harness::CREATEROLE_ADMIN);
    s.apply(None).expect_success();
    assert!(logged_verifiers(&cluster) > harness_verifiers);

    // Granted the settings (PostgreSQL 15+), it keeps them out, and the plan says nothing.
    crate::harness::exec(
        &cluster,
        "postgres",
        &format!(
            "GRANT SET ON PARAMETER log_statement, log_min_duration_statement, \
             log_min_error_statement TO {}",
            crate::harness::CREATEROLE_ADMIN
        ),
    );
    s.file("roles.yaml", &with_chosen("2"));
    let plan = s.plan_changes();
    assert!(!plan.stdout.contains(note), "{}", plan.stdout);
    let before = logged_verifiers(&cluster);
    s.apply(None).expect_success();
    assert_eq!(
        logged_verifiers(&cluster),
        before,
        "a verifier in the server log"
    );
    s.assert_converged();
}

#[test]
fn a_rolled_back_cluster_withdraws_its_passwords_and_a_run_that_delivered_nothing_leaves_no_file() {
    let dev = Cluster::start();
    let stg = Cluster::start();
    dev.create_database("app_a");
    stg.create_database("app_a");
    let registry = registry_toml(&[("dev", "app_a", &dev), ("stg", "app_a", &stg)]);
    // The server refuses `work_mem = 1` (below its minimum) when apply sets it, so stg's role
    // changes roll back, and its generated password with them.
    let roles = |stg_work_mem: &str| {
        format!(
            "roles:\n  - name: gen_dev\n    login: true\n    targets: [\"dev/app_a\"]\n  \
             - name: gen_stg\n    login: true\n    targets: [\"stg/app_a\"]\n  \
             - name: bad_stg\n    targets: [\"stg/app_a\"]\n    \
             set: {{ work_mem: \"{stg_work_mem}\" }}\n"
        )
    };
    let s = Scenario::with_files(&dev, AdminKind::Superuser, &registry, &roles("1"));

    let out = s.apply(Some("mixed.json"));
    out.expect_code(1);
    let mixed = creds_path(&s, "mixed.json");
    assert!(
        out.stdout.contains("removed from it"),
        "{}",
        crate::harness::dump(&out)
    );
    assert_mode_0600(&mixed);
    let creds = read_credentials(&mixed);
    let kept: Vec<&str> = creds.iter().map(|c| c.role.as_str()).collect();
    assert_eq!(
        kept,
        ["gen_dev"],
        "only the committed cluster's password is live"
    );
    assert!(logs_in(&dev, "gen_dev", &creds[0].password, "app_a"));
    assert!(!role_exists(&stg, "gen_stg"));

    // Only stg has changes, and they roll back: the file is removed, and its path is free.
    let out = s.apply(Some("stg.json"));
    out.expect_code(1);
    assert_has(&out.stdout, "removed: none of its 1 password(s) is live");
    assert!(!creds_path(&s, "stg.json").exists());
    s.file("roles.yaml", &roles("64MB"));
    s.apply(Some("stg.json")).expect_success();
    let creds = read_credentials(&creds_path(&s, "stg.json"));
    assert!(logs_in(
        &stg,
        "gen_stg",
        &password_of(&creds, "gen_stg"),
        "app_a"
    ));
    s.assert_converged();
}
