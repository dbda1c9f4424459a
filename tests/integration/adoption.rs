//! Roles made by hand before pgroster: an existing role is adopted without resetting its password,
//! and a declared role joins a hand-made group. On PostgreSQL 16+ a CREATEROLE admin needs ADMIN
//! OPTION on them first, and the plan says so. Issue 10: an adopted role's undeclared
//! memberships in predefined `pg_*` roles are revoked; those in other ignored (provider) roles
//! only when `revoke_ignored_memberships` says so.

use crate::harness::{
    assert_has, assert_lacks, attrs, comment, fixture, lit, logs_in, member_of, random_secret,
    registry_toml, role_exists, settings, stored_password, with_settings, AdminKind, Cluster,
    Scenario, CREATEROLE_ADMIN,
};

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

/// A CREATEROLE admin may never alter a superuser role, on any version: the plan names that cause,
/// not the ADMIN OPTION that PostgreSQL 16+ asks for other roles.
#[test]
fn a_createrole_admin_is_told_that_a_superuser_role_needs_a_superuser_admin() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    cluster
        .client("postgres")
        .batch_execute("CREATE ROLE boss SUPERUSER NOLOGIN")
        .unwrap();
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let roles = r#"
roles:
  - name: boss
    password: none
    connection_limit: 3
    targets: ["dev/app_a"]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::CreateRole, &registry, roles);
    let plan = s.plan();
    plan.expect_code(1);
    let all = format!("{}{}", plan.stdout, plan.stderr);
    assert_has(
        &all,
        "role \"boss\" exists and is a superuser: only a superuser may alter it",
    );
    assert_lacks(&all, "ADMIN OPTION");
    s.apply(None).expect_code(1);
    assert_eq!(
        attrs(&cluster, "boss"),
        "login=false limit=-1 until=never createdb=false createrole=false superuser=true"
    );
}

/// Issue 10: a role adopted as `readonly` kept `pg_write_all_data` and
/// `pg_execute_server_program` (it wrote any table and ran `COPY ... TO PROGRAM`) with an empty
/// plan, because memberships in ignored roles were never revoked. Predefined roles are revoked
/// like any other group; a provider role (`rds_iam` here) is left unless
/// `revoke_ignored_memberships` is set. A CREATEROLE admin on PostgreSQL 16+ without ADMIN OPTION
/// on the predefined roles gets a plan error naming them, and apply changes nothing.
fn issue10_memberships_in_predefined_roles_are_revoked(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    cluster
        .client("postgres")
        .batch_execute(
            "CREATE ROLE legacy_ro LOGIN; CREATE ROLE rds_iam NOLOGIN; \
             GRANT pg_write_all_data, pg_execute_server_program, rds_iam TO legacy_ro",
        )
        .unwrap();
    let all_three = ["pg_execute_server_program", "pg_write_all_data", "rds_iam"];
    let registry = with_settings(
        &registry_toml(&[("prod", "app_a", &cluster)]),
        "ignore_roles = [\"rds*\"]",
    );
    let roles = r#"
roles:
  - name: legacy_ro
    login: true
    password: none
    targets: ["prod/app_a"]
"#;
    let s = Scenario::with_files(&cluster, kind, &registry, roles);
    if kind == AdminKind::CreateRole && cluster.major_version() >= 16 {
        let plan = s.plan();
        plan.expect_code(1);
        let all = format!("{}{}", plan.stdout, plan.stderr);
        for group in ["pg_write_all_data", "pg_execute_server_program"] {
            assert_has(
                &all,
                &format!(
                    "role \"legacy_ro\": the admin role \"{CREATEROLE_ADMIN}\" may not grant or \
                     revoke membership in \"{group}\" (it needs ADMIN OPTION on \"{group}\""
                ),
            );
        }
        assert_lacks(&all, "membership in \"rds_iam\"");
        s.apply(None).expect_code(1);
        assert_eq!(member_of(&cluster, "legacy_ro"), all_three);
        assert_eq!(comment(&cluster, "legacy_ro"), "NULL");
        return;
    }
    let plan = s.plan();
    plan.expect_code(2);
    assert_has(&plan.stdout, "- member_of \"pg_write_all_data\"");
    assert_has(&plan.stdout, "- member_of \"pg_execute_server_program\"");
    assert_lacks(&plan.stdout, "rds_iam");
    s.apply(None).expect_success();
    assert_eq!(member_of(&cluster, "legacy_ro"), ["rds_iam"]);
    s.assert_converged();

    s.file(
        "registry.toml",
        &with_settings(&registry, "revoke_ignored_memberships = true"),
    );
    let plan = s.plan();
    plan.expect_code(2);
    assert_has(&plan.stdout, "- member_of \"rds_iam\"");
    s.apply(None).expect_success();
    assert_eq!(member_of(&cluster, "legacy_ro"), Vec::<String>::new());
    s.assert_converged();
}

#[test]
fn issue10_memberships_in_predefined_roles_are_revoked_superuser_admin() {
    issue10_memberships_in_predefined_roles_are_revoked(AdminKind::Superuser);
}

#[test]
fn issue10_memberships_in_predefined_roles_are_revoked_createrole_admin() {
    issue10_memberships_in_predefined_roles_are_revoked(AdminKind::CreateRole);
}

/// `postgres` is always ignored (never altered), but an undeclared membership in it makes the
/// member a superuser at will (`SET ROLE postgres`): revoked like a predefined role's.
#[test]
fn issue10_an_undeclared_membership_in_postgres_is_revoked() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    cluster
        .client("postgres")
        .batch_execute("CREATE ROLE legacy_ro LOGIN; GRANT postgres TO legacy_ro")
        .unwrap();
    let registry = registry_toml(&[("prod", "app_a", &cluster)]);
    let roles = "roles:\n  - name: legacy_ro\n    login: true\n    password: none\n    targets: [\"prod/app_a\"]\n";
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let plan = s.plan_changes();
    assert_has(&plan.stdout, "- member_of \"postgres\"");
    s.apply(None).expect_success();
    assert!(member_of(&cluster, "legacy_ro").is_empty());
    s.assert_converged();
}
