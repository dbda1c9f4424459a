//! Memberships: granted and revoked with ADMIN OPTION, with INHERIT and SET options on PostgreSQL 16+
//! (a note before), and groups, members, memberships and grants created together in one apply.
//! Issue 9: a membership that confers superuser, BYPASSRLS, REPLICATION or the server's files and
//! programs is refused unless `allow_escalation` allows it, and shown as an escalation; a
//! membership cycle and an unknown group are refused at the `member_of` that names them.
//! Issue 10: an admin that may not `SET ROLE` to a grantor is refused at plan, not at apply; on
//! PostgreSQL 16+ each grantor's grant of a membership is revoked or changed as that grantor
//! (GRANTED BY), named in the plan, and refused at plan when the admin may not act as it.

use crate::harness::{
    assert_has, assert_lacks, catalog_snapshot, creds_path, database_entry, direct_privileges,
    dump, exec, exec_as, fixture, free_port, ident, location, member_of, memberships, password_of,
    read_credentials, registry_toml, role_exists, scalar, AdminKind, Cluster, Scenario,
    ADMIN_PASS_ENV, ADMIN_USER_ENV, CREATEROLE_ADMIN,
};

fn memberships_are_granted_revoked_and_carry_admin(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let s = Scenario::with_files(&cluster, kind, &registry, fixture!("memberships/v1.yaml"));
    s.apply_planned(&[
        "+ member_of \"grp_read\"",
        "+ member_of \"grp_admin\" (admin)",
    ]);
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
    s.apply_planned(&[
        "- member_of \"grp_read\"",
        "- member_of \"grp_admin\" admin option",
    ]);
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
    if cluster.major_version() >= 16 && kind == AdminKind::CreateRole {
        // The superuser's grant is the bootstrap superuser's, which only a superuser may
        // revoke (issue 10): refused at plan, naming that grantor.
        expect_refused_at_plan_time(
            &cluster,
            &s,
            &["its membership in \"grp_read\" was granted by \"postgres\"".to_string()],
        );
        return;
    }
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
        s.apply_planned(&["~ member_of \"grp_opts\""]);
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
    cluster.create_database_owned_by("appdb", owner);
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

/// `plan` and `apply --auto-approve` both exit 1 with every `expected` text in their output, and
/// the catalog is left as it was.
#[track_caller]
fn expect_refused_at_plan_time(cluster: &Cluster, s: &Scenario, expected: &[String]) {
    let before = catalog_snapshot(cluster);
    for args in [&["plan"][..], &["apply", "--auto-approve"]] {
        let out = s.run(args);
        assert_eq!(out.code, 1, "pgroster {args:?}\n{}", dump(&out));
        let all = format!("{}\n{}", out.stdout, out.stderr);
        for needle in expected {
            assert_has(&all, needle);
        }
    }
    assert_eq!(catalog_snapshot(cluster), before, "the catalog changed");
}

/// Issue 9: `member_of: [postgres]` let a role `SET ROLE postgres` while the plan said nothing of
/// it. Refused at plan time, where the catalog says `postgres` is a superuser and a group of the
/// cluster's own is in `pg_read_server_files`: the error names the place of the `member_of`, the
/// role, the group, what it confers through which role, and the cluster. Allowing one
/// escalation does not allow another (but `superuser` allows all); allowed by the profile, each
/// membership line says what it confers, and the membership is applied.
#[test]
fn issue9_a_membership_that_escalates_is_refused_unless_allowed() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(
        &cluster,
        "postgres",
        "CREATE ROLE file_readers; GRANT pg_read_server_files TO file_readers",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = "roles:\n  - name: ops\n    member_of: [postgres, file_readers]\n    targets: [\"dev/appdb\"]\n";
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let at = location(&s, "roles.yaml", 3, 5);
    expect_refused_at_plan_time(
        &cluster,
        &s,
        &[
            format!("{at}: role \"ops\": member_of \"postgres\" confers superuser (through \"postgres\")"),
            format!(
                "{at}: role \"ops\": member_of \"file_readers\" confers server_files (through \"pg_read_server_files\")"
            ),
            format!("127.0.0.1:{}", cluster.port),
        ],
    );
    assert!(!role_exists(&cluster, "ops"));

    s.file(
        "roles.yaml",
        &roles.replace(
            "    targets",
            "    allow_escalation: [server_files]\n    targets",
        ),
    );
    let out = s.plan();
    out.expect_code(1);
    assert_lacks(&out.stdout, "confers server_files");
    assert_has(&out.stdout, "member_of \"postgres\" confers superuser");

    s.file(
        "roles.yaml",
        "profiles:\n  break_glass: { allow_escalation: [superuser] }\nroles:\n  - name: ops\n    profile: break_glass\n    member_of: [postgres, file_readers]\n    targets: [\"dev/appdb\"]\n",
    );
    let out = s.plan_changes();
    assert_has(
        &out.stdout,
        "+ member_of \"postgres\" ESCALATION: superuser",
    );
    assert_has(
        &out.stdout,
        "+ member_of \"file_readers\" ESCALATION: server_files",
    );
    let json = s.run(&["plan", "--format", "json"]);
    assert_has(&json.stdout, "\"escalation\": [");
    s.apply(None).expect_success();
    assert_eq!(member_of(&cluster, "ops"), ["file_readers", "postgres"]);
    s.assert_converged();
}

/// Issue 9: a membership in a declared group that is a superuser, or in a predefined role that
/// reaches the server's programs, is refused by `validate` itself at the role's `member_of`,
/// before any connection; through a chain of declared groups too.
#[test]
fn issue9_a_declared_group_that_escalates_is_refused_by_validate() {
    let mut s = Scenario::new();
    s.env(ADMIN_USER_ENV, "postgres")
        .env(ADMIN_PASS_ENV, "never-sent");
    let registry = format!(
        "{}{}",
        registry_toml(&[]),
        database_entry("dev", "appdb", free_port())
    );
    let roles = "roles:\n  - name: admins\n    superuser: true\n    targets: [\"dev/*\"]\n  - name: ops\n    member_of: [admins]\n    allow_escalation: [superuser]\n    targets: [\"dev/*\"]\n  - name: deployer\n    member_of: [ops, pg_execute_server_program]\n    targets: [\"dev/*\"]\n";
    s.file("registry.toml", &registry).file("roles.yaml", roles);
    let at = location(&s, "roles.yaml", 10, 5);
    for args in [&["validate"][..], &["plan"]] {
        let out = s.run(args);
        assert_eq!(out.code, 1, "pgroster {args:?}\n{}", dump(&out));
        assert_has(
            &out.stderr,
            &format!("{at}: role `deployer`: member_of `ops` confers superuser (through `admins`)"),
        );
        assert_has(
            &out.stderr,
            &format!(
                "{at}: role `deployer`: member_of `pg_execute_server_program` confers server_program"
            ),
        );
        assert_lacks(&out.stderr, "role `ops`");
    }
    s.file(
        "roles.yaml",
        &roles.replace(
            "    targets: [\"dev/*\"]\n  - name: deployer",
            "    targets: [\"dev/*\"]\n  - name: deployer\n    allow_escalation: [superuser, server_program]",
        ),
    );
    s.run(&["validate"]).expect_success();
}

/// Issue 9: a membership cycle that only the cluster's memberships close (an undeclared group that
/// is a member of the declared role) is refused at plan time, at the role's `member_of`, instead
/// of rolling the cluster back at `GRANT`.
#[test]
fn issue9_a_membership_cycle_through_the_clusters_memberships_is_refused() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(
        &cluster,
        "postgres",
        "CREATE ROLE ring; CREATE ROLE legacy_grp; GRANT ring TO legacy_grp",
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = "roles:\n  - name: bystander_group\n    targets: [\"dev/appdb\"]\n  - name: ring\n    member_of: [legacy_grp]\n    targets: [\"dev/appdb\"]\n";
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    let at = location(&s, "roles.yaml", 5, 5);
    expect_refused_at_plan_time(
        &cluster,
        &s,
        &[format!(
            "{at}: role \"ring\": its memberships lead back to it (\"ring\" -> \"legacy_grp\" -> \"ring\")"
        )],
    );
    assert!(!role_exists(&cluster, "bystander_group"));
}

/// Issue 9: `member_of` naming a group that neither exists nor is declared was a plan error
/// without a place; it names the `member_of` now.
#[test]
fn issue9_an_unknown_group_is_reported_at_its_member_of() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let roles = "roles:\n  - name: bystander_group\n    targets: [\"dev/appdb\"]\n  - name: app_user\n    login: true\n    password: none\n    member_of: [app_rw, no_such_group]\n    targets: [\"dev/appdb\"]\n  - name: app_rw\n    targets: [\"dev/appdb\"]\n";
    let s = Scenario::with_files(&cluster, AdminKind::CreateRole, &registry, roles);
    let at = location(&s, "roles.yaml", 7, 5);
    expect_refused_at_plan_time(
        &cluster,
        &s,
        &[format!(
            "{at}: role \"app_user\": member_of \"no_such_group\", which neither exists on this cluster nor is declared for it"
        )],
    );
    assert!(!role_exists(&cluster, "bystander_group"));
}

/// Issue 10: on PostgreSQL 16+ a CREATEROLE admin that is a member of an object's owner with
/// INHERIT but not SET has the owner's privileges (`pg_has_role` USAGE) yet may not `SET ROLE`
/// to it, and revoking what the owner granted runs as the owner: the plan was clean and the apply
/// failed. The plan refuses now, naming the owner, and apply changes nothing. PostgreSQL 15 has
/// no SET option, so there the membership still lets the admin act as the owner.
#[test]
fn issue10_an_admin_that_may_not_set_role_to_the_grantor_is_refused_at_plan() {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    exec(
        &cluster,
        "appdb",
        &format!(
            "CREATE ROLE app_owner; CREATE TABLE public.orders (id int); \
             ALTER TABLE public.orders OWNER TO app_owner; \
             GRANT app_owner TO {}",
            ident(CREATEROLE_ADMIN)
        ),
    );
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let s = Scenario::with_files(
        &cluster,
        AdminKind::CreateRole,
        &registry,
        fixture!("grants/reader_selects_orders.yaml"),
    );
    s.apply(None).expect_success();
    exec_as(
        &cluster,
        "appdb",
        "app_owner",
        "GRANT INSERT ON public.orders TO reader",
    );
    if cluster.major_version() < 16 {
        // Nothing to refuse: the admin may SET ROLE to every role it is a member of.
        s.apply(None).expect_success();
        s.assert_converged();
        return;
    }
    exec(
        &cluster,
        "postgres",
        &format!(
            "GRANT app_owner TO {} WITH INHERIT TRUE, SET FALSE",
            ident(CREATEROLE_ADMIN)
        ),
    );
    let before = direct_privileges(&cluster, "appdb", "reader");
    expect_refused_at_plan_time(
        &cluster,
        &s,
        &[
            "cannot revoke privileges granted by app_owner in database appdb: the admin cannot \
             act as app_owner (it needs membership in app_owner with INHERIT and, from PostgreSQL \
             16, SET)"
                .to_string(),
        ],
    );
    assert_eq!(direct_privileges(&cluster, "appdb", "reader"), before);
}

/// Issue 10: on PostgreSQL 16+ a membership has one grant per grantor, and a REVOKE without
/// GRANTED BY reaches only the admin's own: the server warned, apply failed, and every role
/// change on the cluster (the new role here) rolled back on every run; `inherit: false, set:
/// false` left the other grantor's grant with both options. Each grant is now revoked or changed
/// as its grantor and the plan names it; a CREATEROLE admin that may not act as the grantor is
/// refused at plan. PostgreSQL 15 keeps one grant per pair, revoked as before.
fn issue10_a_membership_from_another_grantor_is_changed_and_revoked_as_that_grantor(
    kind: AdminKind,
) {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let v1 = "roles:\n  - name: grp_x\n    targets: [\"dev/appdb\"]\n  - name: member3\n    member_of: [grp_x]\n    targets: [\"dev/appdb\"]\n";
    let s = Scenario::with_files(&cluster, kind, &registry, v1);
    s.apply(None).expect_success();
    // A delegated ADMIN role grants the same membership again: a grant of its own on 16+.
    exec(
        &cluster,
        "postgres",
        "CREATE ROLE delegate; GRANT grp_x TO delegate WITH ADMIN OPTION",
    );
    exec_as(&cluster, "postgres", "delegate", "GRANT grp_x TO member3");
    let new = cluster.major_version() >= 16;
    let grants = |cluster: &Cluster| {
        scalar(
            cluster,
            "postgres",
            "SELECT count(*) FROM pg_auth_members WHERE member = 'member3'::regrole",
        )
    };
    assert_eq!(grants(&cluster), if new { "2" } else { "1" });

    let v2 = format!("{v1}  - name: newbie\n    targets: [\"dev/appdb\"]\n").replace(
        "member_of: [grp_x]",
        "member_of: [{ role: grp_x, inherit: false, set: false }]",
    );
    s.file("roles.yaml", &v2);
    if new && kind == AdminKind::CreateRole {
        expect_refused_at_plan_time(
            &cluster,
            &s,
            &[format!(
                "role \"member3\": its membership in \"grp_x\" was granted by \"delegate\", and only \
                 that grantor's grant can be revoked or changed (GRANTED BY); the admin role \"{}\" \
                 may not act as \"delegate\"",
                CREATEROLE_ADMIN
            )],
        );
        assert!(!role_exists(&cluster, "newbie"));
        exec(
            &cluster,
            "postgres",
            &format!("GRANT delegate TO {}", ident(CREATEROLE_ADMIN)),
        );
    }
    let out = s.plan_changes();
    assert_has(&out.stdout, "+ role \"newbie\"");
    if new {
        assert_has(
            &out.stdout,
            "~ member_of \"grp_x\": (inherit=true, set=true) -> (inherit=false, set=false) (granted by \"delegate\")",
        );
    } else {
        assert_lacks(&out.stdout, "granted by");
    }
    s.apply(None).expect_success();
    assert!(role_exists(&cluster, "newbie"));
    let tail = if new { " inherit=false set=false" } else { "" };
    assert_eq!(
        memberships(&cluster, "member3"),
        [format!("grp_x admin=false{tail}")]
    );
    s.assert_converged();

    let v3 = v2.replace(
        "\n    member_of: [{ role: grp_x, inherit: false, set: false }]",
        "",
    );
    s.file("roles.yaml", &v3);
    let out = s.plan_changes();
    if new {
        assert_has(
            &out.stdout,
            "- member_of \"grp_x\" (granted by \"delegate\")",
        );
    } else {
        assert_lacks(&out.stdout, "granted by");
    }
    s.apply(None).expect_success();
    assert!(
        memberships(&cluster, "member3").is_empty(),
        "{}",
        cluster.server_warnings()
    );
    s.assert_converged();
}

#[test]
fn issue10_a_membership_from_another_grantor_is_changed_and_revoked_as_that_grantor_with_superuser_admin(
) {
    issue10_a_membership_from_another_grantor_is_changed_and_revoked_as_that_grantor(
        AdminKind::Superuser,
    );
}

#[test]
fn issue10_a_membership_from_another_grantor_is_changed_and_revoked_as_that_grantor_with_createrole_admin(
) {
    issue10_a_membership_from_another_grantor_is_changed_and_revoked_as_that_grantor(
        AdminKind::CreateRole,
    );
}
