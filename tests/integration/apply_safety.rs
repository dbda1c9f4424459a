//! What stops a run before it changes anything: `apply` without `--auto-approve` off a terminal, a
//! wrong admin password (the cluster and target named, the password never echoed), and an admin that
//! may not manage roles.

use crate::harness::{
    assert_no_ansi, assert_nowhere, assert_stderr_has, catalog_snapshot, dump, parse_json,
    role_count, role_exists, single_cluster, AdminKind, ADMIN_PASS_ENV, ADMIN_USER_ENV,
};
use serde_json::Value;
use std::process::Stdio;

#[test]
fn apply_without_auto_approve_off_a_terminal_changes_nothing() {
    let (cluster, scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    scenario.file(
        "roles.yaml",
        "roles:\n  - name: app_rw\n    targets: [\"dev/*\"]\n  - name: jsmith\n    login: true\n    password: none\n    targets: [\"dev/*\"]\n",
    );
    let before = catalog_snapshot(&cluster);
    let count = role_count(&cluster);
    // `run` gives stdin from /dev/null; a pipe with `yes` in it is no terminal either.
    let out = scenario.run(&["apply"]);
    out.expect_code(1);
    assert_stderr_has(&out, "--auto-approve");
    assert_no_ansi(&out);
    let mut piped = scenario
        .pgroster(&["apply"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let _ = piped.stdin.take().unwrap().write_all(b"yes\n");
    }
    let piped = piped.wait_with_output().unwrap();
    assert_eq!(
        piped.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert_eq!(role_count(&cluster), count);
    assert_eq!(
        catalog_snapshot(&cluster),
        before,
        "apply changed the catalog"
    );
    assert!(!role_exists(&cluster, "app_rw"));
    // Nothing was recorded either.
    let audit = scenario.run(&["audit", "--format", "json"]);
    audit.expect_success();
    assert_eq!(parse_json(&audit), serde_json::json!([]));
}

#[test]
fn wrong_admin_password_names_the_cluster_and_target_and_never_echoes_the_password() {
    let (cluster, mut scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    let wrong = "Wr0ng-Admin-Passw0rd-5d1e";
    scenario.env(ADMIN_PASS_ENV, wrong);
    scenario.file(
        "roles.yaml",
        "roles:\n  - name: app_rw\n    targets: [\"dev/*\"]\n",
    );
    let before = catalog_snapshot(&cluster);
    let cluster_name = format!("127.0.0.1:{}", cluster.port);
    let mut outputs = Vec::new();
    for args in [
        &["plan"][..],
        &["plan", "--format", "json"],
        &["plan", "--detailed-exitcode"],
        &["apply", "--auto-approve"],
    ] {
        let out = scenario.run(args);
        assert_eq!(out.code, 1, "pgroster {args:?}\n{}", dump(&out));
        assert_nowhere(&out, wrong);
        assert!(
            format!("{}{}", out.stdout, out.stderr).contains(&cluster_name),
            "pgroster {args:?} does not name {cluster_name}\n{}",
            dump(&out)
        );
        outputs.push((args, out));
    }
    let json: Value = serde_json::from_str(&outputs[1].1.stdout).unwrap();
    assert_eq!(json["has_errors"], true);
    // The read commands fail the same way.
    let roles = scenario.run(&["roles", "--target", "dev/app_dev"]);
    roles.expect_code(1);
    assert_nowhere(&roles, wrong);
    assert_stderr_has(&roles, &cluster_name);
    assert_eq!(catalog_snapshot(&cluster), before);
    assert!(!cluster.server_log().contains(wrong));

    // An error belongs on stderr, where a CI log shows it even when stdout goes to a file.
    for (args, out) in &outputs {
        assert!(
            out.stderr.contains(&cluster_name) && out.stderr.contains("dev/app_dev"),
            "pgroster {args:?}: stderr does not name the cluster {cluster_name} and target dev/app_dev\n{}",
            dump(out)
        );
    }
}

#[test]
fn admin_without_superuser_or_createrole_cannot_manage_roles() {
    let (cluster, mut scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    let password = "Plain-Admin-Pw-33b0";
    let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
    cluster
        .client("postgres")
        .batch_execute(&format!(
            "CREATE ROLE plain_admin LOGIN PASSWORD {}",
            postgres_protocol::escape::escape_literal(&verifier)
        ))
        .unwrap();
    // It can log in: the failure is about what it may do, not about connecting.
    cluster.connect("plain_admin", password, "app_dev").unwrap();
    scenario
        .env(ADMIN_USER_ENV, "plain_admin")
        .env(ADMIN_PASS_ENV, password);
    scenario.file(
        "roles.yaml",
        "roles:\n  - name: app_rw\n    targets: [\"dev/*\"]\n",
    );
    let before = catalog_snapshot(&cluster);
    let mut outputs = Vec::new();
    for args in [
        &["plan"][..],
        &["plan", "--detailed-exitcode"],
        &["apply", "--auto-approve"],
    ] {
        let out = scenario.run(args);
        assert_eq!(out.code, 1, "pgroster {args:?}\n{}", dump(&out));
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains("cannot manage roles") && all.contains("plain_admin"),
            "pgroster {args:?}\n{}",
            dump(&out)
        );
        assert_nowhere(&out, password);
        outputs.push((args, out));
    }
    let json = scenario.run(&["plan", "--format", "json"]);
    json.expect_code(1);
    assert_eq!(parse_json(&json)["has_errors"], true);
    assert_eq!(catalog_snapshot(&cluster), before);
    assert!(!role_exists(&cluster, "app_rw"));

    // Nothing was applied, so apply must not report success (it exits 1).
    let (_, apply) = outputs.last().unwrap();
    assert!(
        !apply.stdout.contains("Apply complete"),
        "apply reports \"Apply complete!\" although the only cluster was skipped for errors\n{}",
        dump(apply)
    );
}
