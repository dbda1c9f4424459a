//! The rest of an account's life (issue 11): access taken away when a role is no longer
//! targeted, dropped when no longer declared, and a config spread over folders.

use crate::harness::{
    assert_has, default_privileges, direct_privileges, exec, single_cluster, AdminKind,
};

/// Narrowing `targets` from `dev/*` to `dev/a1` used to leave the role's table privileges,
/// CONNECT and TEMPORARY in a2 (an access leak): they are revoked like any undeclared privilege.
#[test]
fn narrowing_targets_revokes_what_the_role_held_in_the_dropped_targets() {
    let (cluster, s) = single_cluster(&[("dev", "a1"), ("dev", "a2")], AdminKind::Superuser);
    for db in ["a1", "a2"] {
        exec(&cluster, db, "CREATE TABLE public.orders (id int)");
    }
    let roles = |targets: &str| {
        format!(
            r#"
roles:
  - name: jsmith
    login: true
    password: none
    targets: {targets}
    grants:
      - {{ on: database, privileges: [CONNECT, TEMPORARY] }}
      - {{ on: tables, schemas: [public], privileges: [SELECT], future: true }}
"#
        )
    };
    s.file("roles.yaml", &roles(r#"["dev/*"]"#));
    s.apply(None).expect_success();
    for db in ["a1", "a2"] {
        assert_eq!(
            direct_privileges(&cluster, db, "jsmith"),
            [
                format!("database {db}: CONNECT"),
                format!("database {db}: TEMPORARY"),
                "table public.orders: SELECT".to_string(),
            ]
        );
    }
    s.assert_converged();

    s.file("roles.yaml", &roles(r#"["dev/a1"]"#));
    let out = s.plan_changes();
    assert_has(
        &out.stdout,
        "- revoke CONNECT, TEMPORARY on database a2 (in database a2)",
    );
    assert_has(
        &out.stdout,
        "- revoke SELECT on table public.orders (in database a2)",
    );
    s.apply(None).expect_success();
    assert!(direct_privileges(&cluster, "a2", "jsmith").is_empty());
    assert!(default_privileges(&cluster, "a2", "jsmith").is_empty());
    assert_eq!(direct_privileges(&cluster, "a1", "jsmith").len(), 3);
    s.assert_converged();
}

/// A repo of access lists is organised in folders: the config directory is read recursively,
/// in path order, hidden entries skipped; `validate` says which files it read, and an error in
/// a nested file names that file.
#[test]
fn a_nested_config_folder_is_read_and_its_files_are_named() {
    let (_cluster, s) = single_cluster(&[("dev", "appdb")], AdminKind::Superuser);
    s.file(
        "users/team-a/people.yaml",
        "roles:\n  - name: alice\n    password: none\n    targets: [dev]\n",
    );
    s.file(
        "users/team-b.yaml",
        "roles:\n  - name: bob\n    password: none\n    targets: [dev]\n",
    );
    s.file(".git/hooks.yaml", "this: [is not config\n");
    s.file(
        "users/.draft.yaml",
        "roles:\n  - name: carol\n    targets: [nowhere]\n",
    );
    let out = s.run(&["validate"]);
    out.expect_success();
    assert_has(
        &out.stdout,
        "Read 3 file(s): registry.toml, users/team-a/people.yaml, users/team-b.yaml",
    );
    assert_has(&out.stdout, "2 role(s) across clusters");
    let out = s.plan_changes();
    assert_has(&out.stdout, "+ role \"alice\"");
    assert_has(&out.stdout, "+ role \"bob\"");

    s.file(
        "users/team-b.yaml",
        "roles:\n  - name: bob\n    password: none\n    targets: [dev]\n    logn: true\n",
    );
    let out = s.run(&["validate"]);
    out.expect_code(1);
    assert_has(
        &out.stderr,
        &crate::harness::location(&s, "users/team-b.yaml", 5, 5),
    );
}
