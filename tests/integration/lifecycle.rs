//! The rest of an account's life (issue 11): access taken away when a role is no longer
//! targeted, dropped when no longer declared, and a config spread over folders.

use crate::harness::{
    assert_has, assert_lacks, default_privileges, direct_privileges, exec, exec_as, ident,
    registry_toml, role_exists, scalar, single_cluster, with_settings, AdminKind, Cluster,
    Scenario,
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
    s.apply_planned(&[
        "- revoke CONNECT, TEMPORARY on database a2 (in database a2)",
        "- revoke SELECT on table public.orders (in database a2)",
    ]);
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

/// The database `scratch` is on the cluster but not in the registry.
/// The databases are the admin's: a CREATEROLE admin grants on `public` and takes a dropped
/// role's objects as their owner.
fn cluster_with_unregistered_database(kind: AdminKind) -> (Cluster, Scenario) {
    let (cluster, mut s) = single_cluster(&[("dev", "a1")], kind);
    cluster.create_database("scratch");
    for db in ["a1", "scratch"] {
        exec(
            &cluster,
            "postgres",
            &format!("ALTER DATABASE {db} OWNER TO {}", ident(kind.user())),
        );
    }
    s.env("JSMITH_PW", "jsmith-secret-pw");
    (cluster, s)
}

const JSMITH: &str = r#"
roles:
  - name: jsmith
    login: true
    password: { env: JSMITH_PW }
    targets: ["dev/a1"]
    grants: [{ on: schemas, names: [public], privileges: [USAGE, CREATE] }]
"#;

/// Tables owned by `jsmith` in a1 and in the unregistered `scratch`, and a privilege the
/// admin granted there.
fn jsmith_owns_things(cluster: &Cluster, admin: AdminKind) {
    exec(
        cluster,
        "scratch",
        "GRANT CREATE ON SCHEMA public TO jsmith",
    );
    for db in ["a1", "scratch"] {
        exec_as(
            cluster,
            db,
            "jsmith",
            "CREATE TABLE public.mine (id int); INSERT INTO public.mine VALUES (1)",
        );
    }
    exec_as(
        cluster,
        "scratch",
        admin.user(),
        "CREATE TABLE public.theirs (id int); GRANT SELECT ON public.theirs TO jsmith",
    );
}

/// Issue 11's drop: a role deleted from the config that owns tables in two databases (one
/// not registered) and holds a privilege there is planned for destruction with what moves,
/// then dropped; its tables stay, owned by the successor; the next plan is empty.
fn a_role_no_longer_declared_is_dropped(kind: AdminKind) {
    let (cluster, s) = cluster_with_unregistered_database(kind);
    s.file("roles.yaml", JSMITH);
    s.apply(None).expect_success();
    jsmith_owns_things(&cluster, kind);

    s.file("roles.yaml", "roles: []\n");
    let out = s.plan_changes();
    let successor = kind.user();
    for line in [
        "- role \"jsmith\" (destroy: managed by pgroster, declared by no config for this cluster)",
        "= false (step 1: committed with the role changes)",
        "- sessions ended (step 2: pg_terminate_backend, once step 1 committed)",
        &format!("- in database a1: REASSIGN OWNED to {successor} (1 object), DROP OWNED"),
        &format!(
            "- in database scratch (not registered): REASSIGN OWNED to {successor} (1 object), \
             DROP OWNED"
        ),
        "- DROP ROLE (step 4: once every database is clean)",
        "0 to add, 0 to change, 1 to destroy",
    ] {
        assert_has(&out.stdout, line);
    }
    let out = s.apply(None);
    out.expect_success();
    assert_has(&out.stdout, "1 destroyed");
    assert!(!role_exists(&cluster, "jsmith"));
    for db in ["a1", "scratch"] {
        assert_eq!(
            scalar(
                &cluster,
                db,
                "SELECT pg_get_userbyid(relowner) || ':' || (SELECT count(*) FROM public.mine) \
                   FROM pg_class WHERE relname = 'mine'"
            ),
            format!("{successor}:1"),
            "the table in {db} stays, with its rows, owned by the successor"
        );
    }
    s.assert_converged();
}

#[test]
fn a_role_no_longer_declared_is_dropped_with_superuser_admin() {
    a_role_no_longer_declared_is_dropped(AdminKind::Superuser);
}

#[test]
fn a_role_no_longer_declared_is_dropped_with_createrole_admin() {
    a_role_no_longer_declared_is_dropped(AdminKind::CreateRole);
}

/// What a CREATEROLE admin cannot do is refused at plan, naming why, instead of failing at
/// apply: revoking a privilege granted by a role it cannot act as (DROP OWNED would leave it),
/// and giving the role's objects to a database owner it cannot act as.
#[test]
fn a_drop_the_createrole_admin_cannot_do_is_refused_at_plan() {
    let (cluster, s) = cluster_with_unregistered_database(AdminKind::CreateRole);
    s.file("roles.yaml", JSMITH);
    s.apply(None).expect_success();
    exec_as(
        &cluster,
        "a1",
        "jsmith",
        "CREATE TABLE public.mine (id int)",
    );
    // `public` is owned by pg_database_owner: with the database, its grants change hands.
    exec(&cluster, "postgres", "ALTER DATABASE a1 OWNER TO postgres");
    s.file("roles.yaml", "roles: []\n");
    let refused = |expected: &str| {
        let out = s.run(&["plan"]);
        out.expect_code(1);
        assert_has(
            &out.stderr,
            "role \"jsmith\" is managed by pgroster and no longer declared, but cannot be dropped",
        );
        assert_has(&out.stderr, expected);
        assert!(role_exists(&cluster, "jsmith"));
    };
    refused(
        "in database a1 it holds privileges granted by \"pg_database_owner\", which the admin \
         cannot act as",
    );
    exec(
        &cluster,
        "a1",
        "REVOKE CREATE, USAGE ON SCHEMA public FROM jsmith",
    );
    refused("its 1 object(s) in database a1 would go to \"postgres\"");
    refused("set reassign_owned_to");

    // Named as the successor, the admin takes the objects itself.
    let registry = registry_toml(&[("dev", "a1", &cluster)]);
    s.file(
        "registry.toml",
        &with_settings(&registry, "reassign_owned_to = \"roster_admin\"\n"),
    );
    s.apply(None).expect_success();
    assert!(!role_exists(&cluster, "jsmith"));
    assert_eq!(
        scalar(
            &cluster,
            "a1",
            "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'mine'"
        ),
        "roster_admin"
    );
    s.assert_converged();
}

/// The drop ends the role's open session: NOLOGIN first, then pg_terminate_backend.
#[test]
fn a_drop_ends_the_roles_open_session() {
    let (cluster, s) = cluster_with_unregistered_database(AdminKind::Superuser);
    s.file("roles.yaml", JSMITH);
    s.apply(None).expect_success();
    let mut session = cluster.connect("jsmith", "jsmith-secret-pw", "a1").unwrap();
    session.batch_execute("SELECT 1").unwrap();
    s.file("roles.yaml", "roles: []\n");
    s.apply(None).expect_success();
    assert!(
        session.batch_execute("SELECT 1").is_err(),
        "the session of the dropped role must have been ended"
    );
    assert!(!role_exists(&cluster, "jsmith"));
}

/// Killed right after the role transaction committed (NOLOGIN): the role can no longer log
/// in, nothing is dropped yet, and the next apply finishes the drop.
#[test]
fn a_drop_interrupted_after_its_first_step_is_finished_by_the_next_apply() {
    let (cluster, mut s) = cluster_with_unregistered_database(AdminKind::Superuser);
    s.file("roles.yaml", JSMITH);
    s.apply(None).expect_success();
    jsmith_owns_things(&cluster, AdminKind::Superuser);
    s.file("roles.yaml", "roles: []\n");
    s.env("PGROSTER_FAULT_ABORT_AT", "after commit");
    let killed = s.apply(None);
    assert_ne!(killed.code, 0, "the run was aborted");
    assert!(role_exists(&cluster, "jsmith"));
    assert!(
        cluster.connect("jsmith", "jsmith-secret-pw", "a1").is_err(),
        "step 1 committed: no login is left behind"
    );
    s.env("PGROSTER_FAULT_ABORT_AT", "");
    let out = s.plan_changes();
    assert_lacks(&out.stdout, "= false (step 1");
    s.apply(None).expect_success();
    assert!(!role_exists(&cluster, "jsmith"));
    s.assert_converged();
}

/// A renamed or deleted file must not wipe a cluster: more drops than `max_destroy` on one
/// cluster are refused, changing nothing, unless `--allow-destroy`.
#[test]
fn the_max_destroy_guard_refuses_a_plan_that_drops_too_many_roles() {
    let (cluster, s) = single_cluster(&[("dev", "a1")], AdminKind::Superuser);
    let registry = registry_toml(&[("dev", "a1", &cluster)]);
    s.file(
        "registry.toml",
        &with_settings(&registry, "max_destroy = 2\n"),
    );
    let mut roles = String::from("roles:\n");
    for i in 0..3 {
        roles.push_str(&format!(
            "  - name: u{i}\n    password: none\n    targets: [dev]\n"
        ));
    }
    s.file("roles.yaml", &roles);
    s.apply(None).expect_success();
    s.file("roles.yaml", "roles: []\n");
    let out = s.apply(None);
    out.expect_code(1);
    assert_has(
        &out.stderr,
        &format!(
            "the plan drops more roles than max_destroy (2) allows on one cluster: 3 on {}:{}",
            cluster.host(),
            cluster.port
        ),
    );
    for i in 0..3 {
        assert!(role_exists(&cluster, &format!("u{i}")));
    }
    s.run(&["apply", "--auto-approve", "--allow-destroy"])
        .expect_success();
    for i in 0..3 {
        assert!(!role_exists(&cluster, &format!("u{i}")));
    }
    s.assert_converged();
}

/// `additive`: a safe first run on a hand-made cluster. Nothing is revoked, dropped or reset;
/// the mode is in the plan's header, in JSON and in the audit log.
#[test]
fn additive_mode_never_takes_anything_away() {
    let (cluster, s) = single_cluster(&[("dev", "a1")], AdminKind::Superuser);
    exec(&cluster, "a1", "CREATE TABLE public.orders (id int)");
    s.file(
        "roles.yaml",
        r#"
roles:
  - name: gone
    password: none
    targets: [dev]
  - name: kept
    password: none
    targets: [dev]
    set: { work_mem: 8MB }
"#,
    );
    s.apply(None).expect_success();
    exec(
        &cluster,
        "a1",
        "GRANT SELECT ON public.orders TO kept; CREATE ROLE hand_made",
    );
    s.file(
        "roles.yaml",
        "roles:\n  - name: kept\n    password: none\n    targets: [dev]\n    member_of: [hand_made]\n",
    );
    let out = s.run(&["plan", "--mode", "additive", "--detailed-exitcode"]);
    out.expect_code(2);
    assert_has(
        &out.stdout,
        "Mode: additive: nothing is revoked, dropped or reset",
    );
    assert_has(&out.stdout, "+ member_of");
    assert_lacks(&out.stdout, "- revoke");
    assert_lacks(&out.stdout, "(destroy");
    assert_lacks(&out.stdout, "- work_mem");
    let json = s.run(&["plan", "--mode", "additive", "--format", "json"]);
    assert_has(&json.stdout, r#""mode": "additive""#);
    s.run(&["apply", "--auto-approve", "--mode", "additive"])
        .expect_success();
    assert!(role_exists(&cluster, "gone"));
    assert_eq!(
        direct_privileges(&cluster, "a1", "kept"),
        ["table public.orders: SELECT"]
    );
    let audit = s.run(&["audit", "--format", "json"]);
    assert_has(&audit.stdout, "apply --mode additive");
    // Authoritative again, the rest is taken away.
    s.apply(None).expect_success();
    assert!(!role_exists(&cluster, "gone"));
    assert!(direct_privileges(&cluster, "a1", "kept").is_empty());
    s.assert_converged();
}

/// A role made by hand is visible to a drift check: listed with its dangerous attributes and
/// predefined-role memberships; `unmanaged_roles = "drift"` makes it a change for
/// `--detailed-exitcode`; `roles` tells ignored from unknown.
#[test]
fn a_role_made_by_hand_is_listed_as_unmanaged() {
    let (cluster, s) = single_cluster(&[("dev", "a1")], AdminKind::Superuser);
    s.file("roles.yaml", "roles: []\n");
    exec(
        &cluster,
        "postgres",
        "CREATE ROLE rogue LOGIN BYPASSRLS; GRANT pg_read_all_data TO rogue",
    );
    let out = s.run(&["plan", "--detailed-exitcode"]);
    out.expect_code(0);
    assert_has(
        &out.stdout,
        "unmanaged: role \"rogue\" (not declared, not managed by pgroster): BYPASSRLS, LOGIN; \
         member of pg_read_all_data",
    );
    let json = s.run(&["plan", "--format", "json"]);
    assert_has(&json.stdout, r#""unmanaged": ["#);
    let registry = registry_toml(&[("dev", "a1", &cluster)]);
    s.file(
        "registry.toml",
        &with_settings(&registry, "unmanaged_roles = \"drift\"\n"),
    );
    s.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    let roles = s.run(&["roles", "--target", "dev/a1"]);
    let rogue = roles
        .stdout
        .lines()
        .find(|l| l.starts_with("rogue"))
        .unwrap();
    assert!(rogue.trim_end().ends_with("no"), "{rogue}");
    let postgres = roles
        .stdout
        .lines()
        .find(|l| l.starts_with("postgres"))
        .unwrap();
    assert!(postgres.trim_end().ends_with("ignored"), "{postgres}");
}

/// Access about to end, and ended, is warned about in the plan, in text and JSON.
#[test]
fn expiring_access_is_warned_about() {
    let (_cluster, s) = single_cluster(&[("dev", "a1")], AdminKind::Superuser);
    let soon = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(5 * 24))
        .unwrap()
        .strftime("%Y-%m-%d")
        .to_string();
    s.file(
        "roles.yaml",
        &format!(
            "roles:\n  - name: contractor\n    password: none\n    targets: [dev]\n    \
             valid_until: \"{soon}\"\n  - name: intern\n    password: none\n    \
             targets: [dev]\n    valid_until: \"2020-01-01\"\n"
        ),
    );
    let out = s.plan_changes();
    assert_has(
        &out.stdout,
        &format!("warning: role \"contractor\" expires (valid_until {soon}T00:00:00Z)"),
    );
    assert_has(
        &out.stdout,
        "warning: role \"intern\" expired (valid_until 2020-01-01T00:00:00Z)",
    );
    let json = s.run(&["plan", "--format", "json"]);
    assert_has(&json.stdout, r#""expired": true"#);
}

/// PostgreSQL 16+: DROP OWNED also removes the memberships the dropped role granted with its
/// ADMIN OPTION. A declared member that holds its membership only through such a grant gets it
/// from the admin first, so it keeps it and the next plan is empty.
#[test]
fn a_member_keeps_a_membership_the_dropped_role_had_granted() {
    let (cluster, s) = single_cluster(&[("dev", "a1")], AdminKind::Superuser);
    if cluster.major_version() < 16 {
        return;
    }
    let roles = |with_lead: bool| {
        let lead = "  - name: lead\n    password: none\n    targets: [dev]\n    \
                    member_of: [{ role: team, admin: true }]\n";
        format!(
            "roles:\n  - name: team\n    password: none\n    targets: [dev]\n  - name: dev1\n    \
             password: none\n    targets: [dev]\n    member_of: [team]\n{}",
            if with_lead { lead } else { "" }
        )
    };
    s.file("roles.yaml", &roles(true));
    s.apply(None).expect_success();
    exec(
        &cluster,
        "postgres",
        "REVOKE team FROM dev1 GRANTED BY postgres; SET ROLE lead; GRANT team TO dev1; RESET ROLE",
    );
    s.assert_converged();

    s.file("roles.yaml", &roles(false));
    s.apply_planned(&["- role \"lead\" (destroy", "+ member_of \"team\""]);
    assert!(!role_exists(&cluster, "lead"));
    assert_eq!(
        scalar(
            &cluster,
            "postgres",
            "SELECT string_agg(pg_get_userbyid(grantor), ',') FROM pg_auth_members \
              WHERE roleid = 'team'::regrole AND member = 'dev1'::regrole"
        ),
        "postgres"
    );
    s.assert_converged();
}
