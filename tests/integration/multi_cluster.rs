//! Several clusters in one run: each applies in its own transaction (a failure rolls back that cluster
//! only, and the audit log says so), an unreachable cluster is named while the others are still
//! planned, and `--target` narrows plan and apply to the selected cluster (a glob that selects
//! nothing is an error). One server registered under two addresses is refused, and a missing
//! admin password is named by the variable it was looked for in.

use crate::harness::{
    assert_has, assert_lacks, assert_line, assert_stderr_has, assert_stdout_has, attrs,
    audit_entries, catalog_snapshot, creds_path, database_entry, dump, fixture, free_port, logs_in,
    member_of, read_credentials, registry_toml, role_count, role_exists, run_id, settings, text_of,
    AdminKind, Cluster, Scenario, ADMIN_USER_ENV,
};
use std::net::TcpListener;

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

#[test]
fn target_narrows_plan_and_apply_to_the_selected_cluster() {
    let dev = Cluster::start();
    let prod = Cluster::start();
    dev.create_database("app_dev");
    prod.create_database("app_prod");
    let mut scenario = Scenario::new();
    scenario
        .file(
            "registry.toml",
            &registry_toml(&[("dev", "app_dev", &dev), ("prod", "app_prod", &prod)]),
        )
        .file(
            "roles.yaml",
            "roles:\n  - name: shared_group\n    targets: [\"dev/*\", \"prod/*\"]\n",
        );
    // Both clusters have the same admin passwords (one template per test process).
    scenario.with_admin(&dev, AdminKind::Superuser);
    let dev_header = format!("# cluster 127.0.0.1:{}", dev.port);
    let prod_header = format!("# cluster 127.0.0.1:{}", prod.port);

    let full = scenario.run(&["plan"]);
    full.expect_success();
    assert_stdout_has(&full, &dev_header);
    assert_stdout_has(&full, &prod_header);
    assert_line(&full, "Plan: 2 to add, 0 to change, 0 to destroy.");

    for glob in ["dev/*", "dev"] {
        let out = scenario.run(&["plan", "--target", glob]);
        out.expect_success();
        assert_stdout_has(&out, &dev_header);
        assert!(!out.stdout.contains(&prod_header), "{}", dump(&out));
        assert!(
            !out.stdout.contains(&format!(":{}", prod.port)),
            "{}",
            dump(&out)
        );
        assert_line(&out, "Plan: 1 to add, 0 to change, 0 to destroy.");
    }
    let prod_before = catalog_snapshot(&prod);
    let out = scenario.run(&["apply", "--auto-approve", "--target", "dev/*"]);
    out.expect_success();
    assert!(role_exists(&dev, "shared_group"));
    assert!(!role_exists(&prod, "shared_group"));
    assert_eq!(catalog_snapshot(&prod), prod_before, "prod was changed");

    // The full plan now has only prod's half left.
    let out = scenario.run(&["plan", "--detailed-exitcode"]);
    out.expect_code(2);
    assert_line(&out, "Plan: 1 to add, 0 to change, 0 to destroy.");
    let prod_section: String = out
        .stdout
        .split("# cluster ")
        .find(|s| s.starts_with(&format!("127.0.0.1:{}", prod.port)))
        .unwrap_or_default()
        .to_string();
    assert!(
        prod_section.contains("+ role \"shared_group\""),
        "{}",
        dump(&out)
    );
    scenario
        .run(&["plan", "--target", "dev/*", "--detailed-exitcode"])
        .expect_success();
}

#[test]
fn one_server_registered_under_two_addresses_is_refused_naming_both_issue_9() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    // 127.0.0.1 and localhost reach one server; each address declares the role differently.
    let registry = registry_toml(&[("dev", "app_a", &cluster), ("prod", "app_a", &cluster)]);
    let registry = {
        let at = registry.rfind("host = \"127.0.0.1\"").unwrap();
        format!(
            "{}host = \"localhost\"{}",
            &registry[..at],
            &registry[at + "host = \"127.0.0.1\"".len()..]
        )
    };
    let roles = r#"
roles:
  - name: limited
    login: true
    password: none
    connection_limit: 5
    targets: ["dev/*"]
  - name: limited
    login: true
    password: none
    connection_limit: 10
    targets: ["prod/*"]
"#;
    // Two clusters copied from one template share their system identifier and are still told
    // apart (every test with two clusters shows it); these two addresses share the server.
    let s = Scenario::with_files(&cluster, AdminKind::CreateRole, &registry, roles);
    let ip = format!("127.0.0.1:{}", cluster.port);
    let name = format!("localhost:{}", cluster.port);
    let before = catalog_snapshot(&cluster);
    for args in [
        &["plan", "--detailed-exitcode"][..],
        &["apply", "--auto-approve"][..],
    ] {
        let out = s.run(args);
        out.expect_code(1);
        for (this, this_target, other, other_target) in [
            (&ip, "dev/app_a", &name, "prod/app_a"),
            (&name, "prod/app_a", &ip, "dev/app_a"),
        ] {
            assert_stderr_has(
                &out,
                &format!(
                    "{this}: targets {this_target}: {this} and {other} (targets {other_target}) \
                     are two registry addresses of one PostgreSQL server"
                ),
            );
        }
        assert_lacks(&out.stdout, "+ role \"limited\"");
    }
    assert!(!role_exists(&cluster, "limited"));
    assert_eq!(catalog_snapshot(&cluster), before);
    let json = s.run(&["plan", "--format", "json"]);
    assert_has(&json.stdout, "\"code\": \"same_server\"");
}

#[test]
fn a_target_glob_that_matches_nothing_is_an_error_on_every_command_issue_9() {
    // Every entry's address answers nothing and records who connects.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let registry = format!(
        "{}{}{}",
        registry_toml(&[]),
        database_entry("dev", "app_a", port),
        database_entry("prod", "app_p", port)
    );
    let mut s = Scenario::new();
    s.file("registry.toml", &registry).file(
        "roles.yaml",
        "roles:\n  - name: r1\n    targets: [\"dev/*\"]\n",
    );
    s.env(ADMIN_USER_ENV, "postgres");
    let known = "envs: dev, prod; targets: dev/app_a, prod/app_p";
    for (args, text) in [
        (&["plan", "--detailed-exitcode", "--target", "de"][..], "de"),
        (
            &["plan", "--target", "dev", "--target", "prod/app_x"][..],
            "prod/app_x",
        ),
        (&["apply", "--auto-approve", "--target", "de"][..], "de"),
        (&["roles", "--target", "de/app_a"][..], "de/app_a"),
        (&["show", "r1", "--target", "dev/app"][..], "dev/app"),
        (
            &["reset", "r1", "--target", "dev/app", "--auto-approve"][..],
            "dev/app",
        ),
    ] {
        let (out, peers) = s.run_beside(&listener, args);
        out.expect_code(1);
        assert_stderr_has(
            &out,
            &format!("--target `{text}` matches no database in the registry; {known}"),
        );
        assert_eq!(out.stdout, "", "{}", dump(&out));
        assert_eq!(peers, [], "{args:?} connected before refusing");
    }
    // A glob that matches does connect: the check above could have seen it.
    let (_, peers) = s.run_beside(&listener, &["plan", "--target", "de*"]);
    assert!(!peers.is_empty());
}

#[test]
fn a_missing_admin_password_names_the_variable_it_was_expected_in_issue_9() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let roles = "roles:\n  - name: r1\n    targets: [\"dev/*\"]\n";
    let mut s = Scenario::new();
    s.file("registry.toml", &registry).file("roles.yaml", roles);
    s.env(ADMIN_USER_ENV, "postgres");
    let out = s.plan();
    out.expect_code(1);
    assert_stderr_has(
        &out,
        "the server asks for a password and none was found: set PG_ADMIN_PASS \
         (settings.admin_password_env) or PGPASSWORD, or add the cluster to the password file",
    );
    // Another configured name is the one named.
    s.file(
        "registry.toml",
        &registry.replace(
            "admin_password_env = \"PG_ADMIN_PASS\"",
            "admin_password_env = \"DB_SECRET\"",
        ),
    );
    let out = s.run(&["roles", "--target", "dev/app_a"]);
    out.expect_code(1);
    assert_stderr_has(
        &out,
        "set DB_SECRET (settings.admin_password_env) or PGPASSWORD",
    );
    assert_lacks(&out.stderr, "PG_ADMIN_PASS");
}
