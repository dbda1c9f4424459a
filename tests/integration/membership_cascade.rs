//! Issue 10: on PostgreSQL 16+ a membership granted with another role's ADMIN OPTION depends on
//! it, and revoking that option (or the whole membership) failed with "dependent privileges
//! exist", rolling the cluster back on every run. The revoke now runs with `CASCADE`, the plan
//! lists under it every grant it removes, a declared member whose grant goes is granted the
//! membership again by the admin, and one apply converges. A revoke with nothing dependent stays
//! plain. PostgreSQL 15 records no such dependency: the same revoke just works and the grants the
//! role made stay.

use crate::harness::{
    assert_has, assert_lacks, exec, exec_as, memberships, registry_toml, scalar, AdminKind,
    Cluster, Scenario,
};

/// `team`; `lead` and `lead2` hold it with the ADMIN OPTION; `dev0` is in no group; `dev1` is
/// declared as `dev1`.
fn roles(lead: &str, dev1: &str) -> String {
    format!(
        "roles:\n  - name: team\n    targets: [\"dev/appdb\"]\n\
         \x20 - name: dev0\n    targets: [\"dev/appdb\"]\n\
         {lead}\
         \x20 - name: lead2\n    member_of: [{{ role: team, admin: true }}]\n    targets: [\"dev/appdb\"]\n\
         \x20 - name: dev1\n{dev1}    targets: [\"dev/appdb\"]\n"
    )
}

const LEAD_ADMIN: &str =
    "  - name: lead\n    member_of: [{ role: team, admin: true }]\n    targets: [\"dev/appdb\"]\n";
const LEAD_MEMBER: &str = "  - name: lead\n    member_of: [team]\n    targets: [\"dev/appdb\"]\n";
const LEAD_ALONE: &str = "  - name: lead\n    targets: [\"dev/appdb\"]\n";
const DEV1_IN_TEAM: &str = "    member_of: [team]\n";

/// Who granted `member` its membership in `group`, one row per grant.
fn grantors(cluster: &Cluster, member: &str) -> String {
    scalar(
        cluster,
        "postgres",
        &format!(
            "SELECT coalesce(string_agg(gr.rolname, ',' ORDER BY gr.rolname), '') \
               FROM pg_auth_members am JOIN pg_roles m ON m.oid = am.member \
               JOIN pg_roles gr ON gr.oid = am.grantor \
              WHERE m.rolname = '{member}' AND am.roleid = 'team'::regrole"
        ),
    )
}

/// The revoke `lead_after` makes of lead's membership: its ADMIN OPTION (`LEAD_MEMBER`) or the
/// whole membership (`LEAD_ALONE`).
fn a_revoke_removes_the_grants_made_with_the_admin_option(kind: AdminKind, lead_after: &str) {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let s = Scenario::with_files(&cluster, kind, &registry, &roles(LEAD_ADMIN, ""));
    s.apply(None).expect_success();
    // lead passes team on: to the managed dev1, and to guest, which pgroster does not manage.
    exec(&cluster, "postgres", "CREATE ROLE guest");
    exec_as(
        &cluster,
        "postgres",
        "lead",
        "GRANT team TO dev1; GRANT team TO guest",
    );
    s.file("roles.yaml", &roles(LEAD_ADMIN, DEV1_IN_TEAM));
    s.assert_converged();
    let new = cluster.major_version() >= 16;
    // Who granted lead its membership: the admin's grant, recorded as the bootstrap superuser
    // when the admin is one.
    let admin_grant = AdminKind::Superuser.user();
    let by_admin = match kind {
        AdminKind::Superuser => admin_grant,
        AdminKind::CreateRole => kind.user(),
    };

    // dev0 declares no group, so its grant from lead is revoked by the next apply; its revoke
    // runs before lead's (roles in name order), yet on 16+ the cascade removes the grant, and a
    // second revoke would find nothing and warn.
    exec_as(&cluster, "postgres", "lead", "GRANT team TO dev0");

    s.file("roles.yaml", &roles(lead_after, DEV1_IN_TEAM));
    let out = s.plan_changes();
    let revoked = if lead_after == LEAD_ALONE {
        format!("- member_of \"team\" (granted by \"{by_admin}\")")
    } else {
        format!("- member_of \"team\" admin option (granted by \"{by_admin}\")")
    };
    if new {
        assert_has(
            &out.stdout,
            &format!("{revoked}, cascading to the grants it made:"),
        );
        assert_has(
            &out.stdout,
            "- \"dev1\" member_of \"team\" (granted by \"lead\")",
        );
        assert_has(
            &out.stdout,
            "- \"guest\" member_of \"team\" (granted by \"lead\")",
        );
        assert_has(
            &out.stdout,
            "- \"dev0\" member_of \"team\" (granted by \"lead\")",
        );
        assert_lacks(&out.stdout, "role \"dev0\"");
        // dev1 declares team: granted again by the admin before the revoke removes lead's grant.
        assert_has(&out.stdout, "~ role \"dev1\"");
        assert_has(&out.stdout, "+ member_of \"team\"");
    } else {
        assert_has(
            &out.stdout,
            &revoked.replace(&format!(" (granted by \"{by_admin}\")"), ""),
        );
        assert_lacks(&out.stdout, "cascading");
        assert_lacks(&out.stdout, "role \"dev1\"");
        assert_has(&out.stdout, "~ role \"dev0\"");
    }
    s.apply(None).expect_success();
    assert_eq!(memberships(&cluster, "dev1").len(), 1, "{}", s.transcript());
    assert!(memberships(&cluster, "dev0").is_empty());
    if new {
        assert_eq!(grantors(&cluster, "dev1"), by_admin);
        assert!(memberships(&cluster, "guest").is_empty());
    } else {
        // Nothing depends on a grant before 16: the grants lead made stay.
        assert_eq!(grantors(&cluster, "dev1"), "lead");
        assert_eq!(grantors(&cluster, "guest"), "lead");
    }
    let lead = memberships(&cluster, "lead");
    if lead_after == LEAD_ALONE {
        assert!(lead.is_empty(), "{lead:?}");
    } else {
        assert!(lead[0].starts_with("team admin=false"), "{lead:?}");
    }
    assert!(
        cluster.server_warnings().is_empty(),
        "{}",
        cluster.server_warnings()
    );
    s.assert_converged();
}

#[test]
fn issue10_revoking_a_used_admin_option_cascades_to_the_grants_made_with_it_with_superuser_admin() {
    a_revoke_removes_the_grants_made_with_the_admin_option(AdminKind::Superuser, LEAD_MEMBER);
}

#[test]
fn issue10_revoking_a_used_admin_option_cascades_to_the_grants_made_with_it_with_createrole_admin()
{
    a_revoke_removes_the_grants_made_with_the_admin_option(AdminKind::CreateRole, LEAD_MEMBER);
}

#[test]
fn issue10_revoking_a_membership_whose_admin_option_was_used_cascades_with_superuser_admin() {
    a_revoke_removes_the_grants_made_with_the_admin_option(AdminKind::Superuser, LEAD_ALONE);
}

#[test]
fn issue10_revoking_a_membership_whose_admin_option_was_used_cascades_with_createrole_admin() {
    a_revoke_removes_the_grants_made_with_the_admin_option(AdminKind::CreateRole, LEAD_ALONE);
}

/// lead2 never used its ADMIN OPTION: its revoke is the plain statement, on every version.
fn a_revoke_with_nothing_dependent_is_plain(kind: AdminKind) {
    let cluster = Cluster::start();
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &cluster)]);
    let s = Scenario::with_files(&cluster, kind, &registry, &roles(LEAD_ADMIN, ""));
    s.apply(None).expect_success();
    let v2 = roles(LEAD_ADMIN, "").replace(
        "name: lead2\n    member_of: [{ role: team, admin: true }]",
        "name: lead2\n    member_of: [team]",
    );
    s.file("roles.yaml", &v2);
    let out = s.plan_changes();
    assert_has(&out.stdout, "- member_of \"team\" admin option");
    assert_lacks(&out.stdout, "cascading");
    s.apply(None).expect_success();
    let log = cluster.server_log();
    let revoke = log
        .lines()
        .find(|l| l.contains("REVOKE ADMIN OPTION FOR \"team\" FROM \"lead2\""))
        .unwrap_or_else(|| panic!("no revoke in the server log:\n{log}"));
    assert!(!revoke.contains("CASCADE"), "{revoke}");
    s.assert_converged();
}

#[test]
fn issue10_a_revoke_with_nothing_dependent_is_plain_with_superuser_admin() {
    a_revoke_with_nothing_dependent_is_plain(AdminKind::Superuser);
}

#[test]
fn issue10_a_revoke_with_nothing_dependent_is_plain_with_createrole_admin() {
    a_revoke_with_nothing_dependent_is_plain(AdminKind::CreateRole);
}
