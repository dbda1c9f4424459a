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
