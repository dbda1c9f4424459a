//! Memberships: granted and revoked with ADMIN OPTION, with INHERIT and SET options on PostgreSQL 16+
//! (a note before), and groups, members, memberships and grants created together in one apply.

use crate::harness::{
    assert_has, assert_lacks, creds_path, direct_privileges, exec, exec_as, fixture, ident,
    memberships, password_of, read_credentials, registry_toml, AdminKind, Cluster, Scenario,
};

fn memberships_are_granted_revoked_and_carry_admin(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let s = Scenario::with_files(&cluster, kind, &registry, fixture!("memberships/v1.yaml"));
    let out = s.plan_changes();
    assert_has(&out.stdout, "+ member_of \"grp_read\"");
    assert_has(&out.stdout, "+ member_of \"grp_admin\" (admin)");
    s.apply(None).expect_success();
    let (tail_admin, tail_plain) = if cluster.major_version() >= 16 {
        (" inherit=true set=true", " inherit=true set=true")
    } else {
        ("", "")
    };
    assert_eq!(
        memberships(&cluster, "member1"),
        [
            format!("grp_admin admin=true{tail_admin}"),
            format!("grp_read admin=false{tail_plain}"),
        ]
    );
    s.assert_converged();

    // Removed from the config: revoked; admin: false takes the ADMIN OPTION back.
    s.file("roles.yaml", fixture!("memberships/v2.yaml"));
    let out = s.plan_changes();
    assert_has(&out.stdout, "- member_of \"grp_read\"");
    assert_has(&out.stdout, "- member_of \"grp_admin\" admin option");
    s.apply(None).expect_success();
    assert_eq!(
        memberships(&cluster, "member1"),
        [format!("grp_admin admin=false{tail_plain}")]
    );
    s.assert_converged();

    // A membership granted by hand (by the superuser) to the managed role is revoked too. With a
    // CREATEROLE admin on PostgreSQL 16+, a plain REVOKE only removes the admin's own grants, so
    // apply must either really revoke it or fail with a clear error; never report success and
    // leave it (drift forever).
    exec(&cluster, "postgres", "GRANT grp_read TO member1");
    let out = s.plan_changes();
    assert_has(&out.stdout, "- member_of \"grp_read\"");
    let applied = s.run(&["apply", "--auto-approve"]);
    let all = format!("{}\n{}", applied.stdout, applied.stderr);
    if applied.code == 0 {
        assert_eq!(
            memberships(&cluster, "member1"),
            [format!("grp_admin admin=false{tail_plain}")],
            "apply exited 0 but the hand-made membership is still there:\n{all}\n\
             --- plan afterwards\n{}\n--- server warnings\n{}",
            s.plan().stdout,
            cluster.server_warnings()
        );
        s.assert_converged();
    } else {
        applied.expect_code(1);
        assert_has(&all, "grp_read");
    }
}

#[test]
fn memberships_are_granted_revoked_and_carry_admin_with_superuser_admin() {
    memberships_are_granted_revoked_and_carry_admin(AdminKind::Superuser);
}

#[test]
fn memberships_are_granted_revoked_and_carry_admin_with_createrole_admin() {
    memberships_are_granted_revoked_and_carry_admin(AdminKind::CreateRole);
}

/// `{ role: g, inherit: false, set: false }`: applied on PostgreSQL 16+, a note on older servers.
#[test]
fn membership_inherit_and_set_options() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: grp_opts
    targets: ["dev/appdb"]
  - name: member2
    login: true
    password: none
    member_of: [{ role: grp_opts, inherit: false, set: false }]
    targets: ["dev/appdb"]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let out = s.plan_changes();
    if cluster.major_version() >= 16 {
        assert_has(
            &out.stdout,
            "+ member_of \"grp_opts\" (inherit=false, set=false)",
        );
        assert_lacks(&out.stdout, "need PostgreSQL 16");
        s.apply(None).expect_success();
        assert_eq!(
            memberships(&cluster, "member2"),
            ["grp_opts admin=false inherit=false set=false"]
        );
        s.assert_converged();
        // Changed by hand: the declared options come back.
        exec(
            &cluster,
            "postgres",
            "GRANT grp_opts TO member2 WITH INHERIT TRUE, SET TRUE",
        );
        let out = s.plan_changes();
        assert_has(&out.stdout, "~ member_of \"grp_opts\"");
        s.apply(None).expect_success();
        assert_eq!(
            memberships(&cluster, "member2"),
            ["grp_opts admin=false inherit=false set=false"]
        );
        s.assert_converged();
    } else {
        assert_has(&out.stdout, "need PostgreSQL 16");
        assert_has(&out.stdout, "+ member_of \"grp_opts\"");
        s.apply(None).expect_success();
        assert_eq!(memberships(&cluster, "member2"), ["grp_opts admin=false"]);
        let out = s.assert_converged();
        assert_has(&out.stdout, "need PostgreSQL 16");
    }
}

/// A group and a member created in the same apply as their grants and the membership: one apply,
/// no ordering failure, then the member reads through the group.
fn roles_memberships_and_grants_in_one_apply(kind: AdminKind) {
    let cluster = Cluster::start();
    // The objects' owner is the admin: a CREATEROLE admin can only grant on what it owns.
    let owner = kind.user();
    exec(
        &cluster,
        "postgres",
        &format!("CREATE DATABASE appdb OWNER {}", ident(owner)),
    );
    exec_as(
        &cluster,
        "appdb",
        owner,
        "CREATE SCHEMA reports; CREATE TABLE reports.daily (id int); INSERT INTO reports.daily VALUES (5)",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = r#"
roles:
  - name: newgroup
    targets: ["dev/appdb"]
    grants:
      - on: schemas
        names: [reports]
        privileges: [USAGE]
      - on: tables
        schemas: [reports]
        privileges: [SELECT]
        future: true
  - name: newmember
    login: true
    member_of: [newgroup]
    targets: ["dev/appdb"]
    grants:
      - on: database
        privileges: [CONNECT]
"#;
    let s = Scenario::with_files(&cluster, kind, &registry, roles);
    let out = s.plan_changes();
    assert_has(&out.stdout, "+ role \"newgroup\"");
    assert_has(&out.stdout, "+ role \"newmember\"");
    assert_has(&out.stdout, "+ member_of \"newgroup\"");
    s.apply(Some("creds.json")).expect_success();
    let creds = creds_path(&s, "creds.json");
    assert_eq!(memberships(&cluster, "newmember").len(), 1);
    assert_eq!(
        direct_privileges(&cluster, "appdb", "newgroup"),
        ["schema reports: USAGE", "table reports.daily: SELECT"]
    );
    assert_eq!(
        direct_privileges(&cluster, "appdb", "newmember"),
        ["database appdb: CONNECT"]
    );
    s.assert_converged();
    let password = password_of(&read_credentials(&creds), "newmember");
    let mut client = cluster.connect("newmember", &password, "appdb").unwrap();
    let id: i32 = client
        .query_one("SELECT id FROM reports.daily", &[])
        .unwrap()
        .get(0);
    assert_eq!(id, 5);
}

#[test]
fn roles_memberships_and_grants_in_one_apply_with_superuser_admin() {
    roles_memberships_and_grants_in_one_apply(AdminKind::Superuser);
}

#[test]
fn roles_memberships_and_grants_in_one_apply_with_createrole_admin() {
    roles_memberships_and_grants_in_one_apply(AdminKind::CreateRole);
}
