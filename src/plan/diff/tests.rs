//! The diff of one cluster: roles created, changed, adopted, and the errors found before anything runs.

use super::*;
use crate::model::policy::{Mode, UnmanagedRoles};
use crate::model::{
    Attributes, ClusterKey, CurrentCluster, DatabaseInfo, Dependencies, MembershipGrant,
    MembershipOptions, Memberships, PasswordPolicy, RoleName, TargetName,
};
use crate::plan::DependentMembership;
use crate::plan::UnmanagedRole;

fn target() -> TargetName {
    TargetName {
        env: "dev".into(),
        database: "app".into(),
    }
}

fn desired_role(name: &str) -> DesiredRole {
    DesiredRole {
        name: RoleName::existing(name),
        profile: Some("devqa".into()),
        attributes: Attributes {
            login: true,
            connection_limit: 20,
            ..Attributes::default()
        },
        member_of: Memberships::new(),
        settings: BTreeMap::from([(
            SettingScope::Database("app".into()),
            BTreeMap::from([("search_path".to_string(), "app, public".to_string())]),
        )]),
        password: PasswordPolicy::Generate {
            rotation: Some("2026-11".into()),
        },
        grants: Vec::new(),
        targets: vec![target()],
        allow_escalation: BTreeSet::new(),
        member_of_at: None,
    }
}

/// The current role that applying `desired` would leave behind.
fn as_current(role: &DesiredRole) -> CurrentRole {
    CurrentRole {
        attributes: role.attributes.clone(),
        member_of: role.member_of.clone(),
        settings: role.settings.clone(),
        comment: Some(marker_of(role)),
        ..CurrentRole::bare(role.name.as_str())
    }
}

fn cluster(
    desired: Vec<DesiredRole>,
    current: Vec<CurrentRole>,
) -> (DesiredCluster, CurrentCluster) {
    let mut databases = BTreeSet::from(["app".to_string(), "postgres".to_string()]);
    databases.insert("app".into());
    (
        DesiredCluster {
            targets: BTreeSet::from([target()]),
            roles: desired.into_iter().collect(),
        },
        CurrentCluster {
            databases,
            setting_names: ["search_path", "statement_timeout", "work_mem"]
                .map(String::from)
                .into(),
            ..CurrentCluster::bare(150000, "admin", current)
        },
    )
}

fn plan(desired: &DesiredCluster, current: &CurrentCluster) -> ClusterPlan {
    plan_with(desired, current, false)
}

fn plan_with(
    desired: &DesiredCluster,
    current: &CurrentCluster,
    revoke_ignored_memberships: bool,
) -> ClusterPlan {
    plan_under(
        desired,
        current,
        revoke_ignored_memberships,
        &PlanPolicy::default(),
    )
}

/// 2026-12-03T00:00:00Z: the day the expiry tests are written against.
fn today() -> jiff::Timestamp {
    "2026-12-03T00:00:00Z".parse().unwrap()
}

fn plan_under(
    desired: &DesiredCluster,
    current: &CurrentCluster,
    revoke_ignored_memberships: bool,
    policy: &PlanPolicy,
) -> ClusterPlan {
    let ignore = vec![
        NameGlob::new("pg_*").unwrap(),
        NameGlob::new("rds*").unwrap(),
    ];
    let state = crate::model::privileges::DatabaseState {
        database: "app".into(),
        ..Default::default()
    };
    let databases = BTreeMap::from([("app".to_string(), DatabaseIndex::new(&state))]);
    diff_cluster(
        ClusterKey {
            host: "h".into(),
            port: 5432,
        },
        "h:5432".into(),
        &DiffInput {
            desired,
            current,
            databases: &databases,
            public_policy: None,
            public: &BTreeMap::new(),
            ignore_roles: &ignore,
            revoke_ignored_memberships,
            narrowed: false,
            drops: &DropSettings::default(),
            policy,
            now: today(),
        },
    )
}

#[test]
fn creates_a_missing_role_with_everything_it_needs() {
    let mut role = desired_role("jsmith");
    role.member_of
        .insert(RoleName::existing("app_rw"), MembershipOptions::default());
    let (d, c) = cluster(vec![role], vec![]);
    let mut c = c;
    c.roles.insert(CurrentRole::bare("app_rw"));
    let p = plan(&d, &c);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let kinds: Vec<&str> = p.roles[0]
        .changes
        .iter()
        .map(|ch| match ch {
            Change::CreateRole { .. } => "create",
            Change::GrantMembership { .. } => "grant",
            Change::SetSetting { .. } => "set",
            Change::SetMarker { .. } => "mark",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["create", "grant", "set", "mark"]);
}

#[test]
fn applying_the_plan_leaves_nothing_to_do() {
    let role = desired_role("jsmith");
    let (d, c) = cluster(vec![role.clone()], vec![as_current(&role)]);
    assert!(plan(&d, &c).roles.is_empty());
}

/// The groups whose memberships of the role `plan` revokes.
fn revoked_groups(p: &ClusterPlan) -> Vec<&str> {
    p.roles
        .iter()
        .flat_map(|r| &r.changes)
        .filter_map(|c| match c {
            Change::RevokeMembership { group, .. } => Some(group.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn undeclared_memberships_in_predefined_roles_are_revoked_and_provider_roles_kept_by_default() {
    let role = desired_role("jsmith");
    let mut current = as_current(&role);
    for group in ["pg_write_all_data", "pg_execute_server_program", "rds_iam"] {
        current
            .member_of
            .insert(RoleName::existing(group), MembershipOptions::default());
    }
    let (d, c) = cluster(vec![role], vec![current]);
    assert_eq!(
        revoked_groups(&plan(&d, &c)),
        ["pg_execute_server_program", "pg_write_all_data"]
    );
    assert_eq!(
        revoked_groups(&plan_with(&d, &c, true)),
        ["pg_execute_server_program", "pg_write_all_data", "rds_iam"]
    );
}

#[test]
fn detects_attribute_setting_membership_and_rotation_drift() {
    let role = desired_role("jsmith");
    let mut current = as_current(&role);
    current.attributes.connection_limit = 50;
    current.attributes.createdb = true;
    current.member_of.insert(
        RoleName::existing("stale_group"),
        MembershipOptions::default(),
    );
    current
        .settings
        .entry(SettingScope::Database("app".into()))
        .or_default()
        .insert("work_mem".into(), "64MB".into());
    current.comment = Some("managed by pgroster; profile=devqa; rotation=2026-10".into());
    let (d, c) = cluster(vec![role], vec![current]);
    let p = plan(&d, &c);
    let changes = &p.roles[0].changes;
    assert_eq!(p.roles[0].action, RoleAction::Update);
    assert!(matches!(&changes[0], Change::AlterAttributes { changes } if changes.len() == 2));
    assert!(changes
        .iter()
        .any(|c| matches!(c, Change::ResetPassword { .. })));
    assert!(changes.iter().any(
        |c| matches!(c, Change::RevokeMembership { group, .. } if group.as_str() == "stale_group")
    ));
    assert!(changes
        .iter()
        .any(|c| matches!(c, Change::ResetSetting { name, .. } if name == "work_mem")));
}

#[test]
fn an_unmanaged_existing_role_is_adopted_without_a_new_password() {
    let role = desired_role("jsmith");
    let mut current = as_current(&role);
    current.comment = None;
    let (d, c) = cluster(vec![role], vec![current]);
    let p = plan(&d, &c);
    assert_eq!(p.roles[0].action, RoleAction::Adopt);
    assert!(!p.roles[0]
        .changes
        .iter()
        .any(|c| matches!(c, Change::ResetPassword { .. })));
}

#[test]
fn settings_outside_the_targets_are_not_touched() {
    let role = desired_role("jsmith");
    let mut current = as_current(&role);
    current.settings.insert(
        SettingScope::Database("other".into()),
        BTreeMap::from([("work_mem".into(), "1MB".into())]),
    );
    let (d, c) = cluster(vec![role], vec![current]);
    assert!(plan(&d, &c).roles.is_empty());
}

#[test]
fn undeclared_managed_roles_are_dropped_in_steps_and_unmanaged_ones_left() {
    let mut gone = as_current(&desired_role("gone"));
    gone.attributes.login = true;
    gone.dependencies = vec![Dependencies {
        database: Some("app".into()),
        owned: 2,
        privileges: 3,
    }];
    let mut stranger = as_current(&desired_role("stranger"));
    stranger.comment = None;
    let (d, mut c) = cluster(vec![], vec![gone, stranger]);
    c.database_info.insert(
        "app".into(),
        DatabaseInfo {
            owner: RoleName::existing("app_owner"),
            allows_connections: true,
            is_template: false,
        },
    );
    let mut owner = as_current(&desired_role("app_owner"));
    owner.comment = None;
    c.roles.insert(owner);
    let p = plan(&d, &c);
    let dropped: Vec<&str> = p
        .roles
        .iter()
        .filter(|r| r.action == RoleAction::Destroy)
        .map(|r| r.role.as_str())
        .collect();
    assert_eq!(dropped, ["gone"], "the unmanaged role stays: {:?}", p.roles);
    let gone = p.roles.iter().find(|r| r.role.as_str() == "gone").unwrap();
    assert_eq!(
        gone.changes,
        [
            Change::PrepareDrop {
                disable_login: true,
                grant_to_admin: None
            },
            Change::EndSessions,
            Change::DropOwned {
                database: "app".into(),
                reassign_to: Some(RoleName::existing("app_owner")),
                owned: 2,
                privileges: 3,
                registered: true,
            },
            Change::DropRole,
        ]
    );
}

#[test]
fn a_createrole_admin_cannot_make_superusers() {
    let mut role = desired_role("root2");
    role.attributes.superuser = true;
    let (d, mut c) = cluster(vec![role], vec![]);
    c.admin.superuser = false;
    let p = plan(&d, &c);
    assert!(
        p.errors[0].to_string().contains("SUPERUSER"),
        "{:?}",
        p.errors
    );
}

#[test]
fn unknown_groups_and_missing_databases_are_errors() {
    let mut role = desired_role("x");
    role.member_of
        .insert(RoleName::existing("nope"), MembershipOptions::default());
    let (d, mut c) = cluster(vec![role], vec![]);
    c.databases.remove("app");
    let p = plan(&d, &c);
    assert_eq!(p.errors.len(), 2, "{:?}", p.errors);
}

#[test]
fn membership_options_are_compared_only_where_declared_and_only_on_16() {
    let mut role = desired_role("lead");
    role.member_of.insert(
        RoleName::existing("app_rw"),
        MembershipOptions {
            admin: false,
            inherit: Some(false),
            set: None,
        },
    );
    let mut current = as_current(&role);
    current.member_of.insert(
        RoleName::existing("app_rw"),
        MembershipOptions {
            admin: true,
            inherit: Some(true),
            set: Some(true),
        },
    );
    let (d, mut c) = cluster(vec![role], vec![current]);
    c.server_version_num = 160002;
    let p = plan(&d, &c);
    let changes = &p.roles[0].changes;
    assert!(changes.iter().any(|ch| matches!(ch, Change::GrantMembership { from: Some(_), options, .. } if options.inherit == Some(false))));
    assert!(changes
        .iter()
        .any(|ch| matches!(ch, Change::RevokeMembershipAdmin { .. })));
    c.server_version_num = 150004;
    let p = plan(&d, &c);
    assert!(
        p.notes.iter().any(|n| n.contains("need PostgreSQL 16")),
        "{:?}",
        p.notes
    );
    assert!(!p.roles[0]
        .changes
        .iter()
        .any(|ch| matches!(ch, Change::GrantMembership { .. })));
}

/// On 16+ each grantor's grant is its own: only the grants that differ are changed, each as its
/// grantor, and an undeclared membership is revoked once per grantor.
#[test]
fn memberships_are_changed_and_revoked_per_grantor_on_16() {
    let mut role = desired_role("lead");
    let app_rw = RoleName::existing("app_rw");
    let old = RoleName::existing("old");
    role.member_of.insert(
        app_rw.clone(),
        MembershipOptions {
            admin: false,
            inherit: Some(false),
            set: None,
        },
    );
    let mut current = as_current(&role);
    let grant = |grantor: &str, admin: bool, inherit: bool| MembershipGrant {
        grantor: RoleName::existing(grantor),
        options: MembershipOptions {
            admin,
            inherit: Some(inherit),
            set: Some(true),
        },
    };
    current.member_of.insert(
        app_rw.clone(),
        MembershipOptions {
            admin: true,
            inherit: Some(true),
            set: Some(true),
        },
    );
    current
        .member_of
        .insert(old.clone(), MembershipOptions::default());
    current.membership_grants = BTreeMap::from([
        (
            app_rw.clone(),
            vec![
                grant("postgres", false, false),
                grant("delegate", true, true),
            ],
        ),
        (
            old.clone(),
            vec![
                grant("postgres", false, true),
                grant("delegate", false, true),
            ],
        ),
    ]);
    let (d, mut c) = cluster(vec![role], vec![current]);
    c.server_version_num = 160002;
    let p = plan(&d, &c);
    let by = |name: &str| Some(RoleName::existing(name));
    let membership_changes: Vec<(&str, &str, Option<RoleName>)> = p.roles[0]
        .changes
        .iter()
        .filter_map(|ch| match ch {
            Change::GrantMembership {
                group, granted_by, ..
            } => Some(("grant", group.as_str(), granted_by.clone())),
            Change::RevokeMembershipAdmin {
                group, granted_by, ..
            } => Some(("revoke_admin", group.as_str(), granted_by.clone())),
            Change::RevokeMembership {
                group, granted_by, ..
            } => Some(("revoke", group.as_str(), granted_by.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        membership_changes,
        [
            ("grant", "app_rw", by("delegate")),
            ("revoke_admin", "app_rw", by("delegate")),
            ("revoke", "old", by("postgres")),
            ("revoke", "old", by("delegate")),
        ]
    );
}

/// What a membership lacks (ADMIN OPTION, an option declared true) is added with the admin's
/// own grant, so another grantor's grant is not touched for it.
#[test]
fn a_missing_option_is_added_with_the_admins_own_grant_on_16() {
    let mut role = desired_role("lead");
    let app_rw = RoleName::existing("app_rw");
    let want = MembershipOptions {
        admin: true,
        inherit: Some(true),
        set: None,
    };
    role.member_of.insert(app_rw.clone(), want);
    let mut current = as_current(&role);
    let held = MembershipOptions {
        admin: false,
        inherit: Some(false),
        set: Some(true),
    };
    current.member_of.insert(app_rw.clone(), held);
    current.membership_grants = BTreeMap::from([(
        app_rw.clone(),
        vec![MembershipGrant {
            grantor: RoleName::existing("postgres"),
            options: held,
        }],
    )]);
    let (d, mut c) = cluster(vec![role], vec![current]);
    c.server_version_num = 160002;
    let p = plan(&d, &c);
    let grants: Vec<&Change> = p.roles[0]
        .changes
        .iter()
        .filter(|ch| matches!(ch, Change::GrantMembership { .. }))
        .collect();
    assert_eq!(
        grants,
        [&Change::GrantMembership {
            group: app_rw,
            options: want,
            from: Some(held),
            escalation: Vec::new(),
            granted_by: None,
        }]
    );
}

/// `lead` holds `team` with the ADMIN OPTION from postgres and granted it to `dev1` and to the
/// undeclared `guest`; `lead` is declared without the option, `dev1` as `dev1_team` says.
fn passed_on(dev1_team: bool) -> ClusterPlan {
    let team = RoleName::existing("team");
    let mut lead = desired_role("lead");
    lead.member_of
        .insert(team.clone(), MembershipOptions::default());
    let mut dev1 = desired_role("dev1");
    if dev1_team {
        dev1.member_of
            .insert(team.clone(), MembershipOptions::default());
    }
    let held = |role: &DesiredRole, grantor: &str, admin: bool| {
        let options = MembershipOptions {
            admin,
            ..MembershipOptions::default()
        };
        let mut current = as_current(role);
        current.member_of.insert(team.clone(), options);
        current.membership_grants = BTreeMap::from([(
            team.clone(),
            vec![MembershipGrant {
                grantor: RoleName::existing(grantor),
                options,
            }],
        )]);
        current
    };
    let current = vec![
        held(&lead, "postgres", true),
        held(&dev1, "lead", false),
        held(&desired_role("guest"), "lead", false),
        as_current(&desired_role("team")),
    ];
    let (d, mut c) = cluster(vec![lead, dev1], current);
    c.server_version_num = 160002;
    plan(&d, &c)
}

fn membership_changes<'p>(p: &'p ClusterPlan, role: &str) -> Vec<&'p Change> {
    p.roles
        .iter()
        .filter(|r| r.role.as_str() == role)
        .flat_map(|r| &r.changes)
        .filter(|c| {
            matches!(
                c,
                Change::GrantMembership { .. }
                    | Change::RevokeMembership { .. }
                    | Change::RevokeMembershipAdmin { .. }
            )
        })
        .collect()
}

/// Issue 10: the revoke lists what its CASCADE removes, and a declared member whose grant goes
/// with it is granted the membership again by the admin, so one apply converges.
#[test]
fn a_revoked_admin_option_lists_the_grants_made_with_it_and_a_declared_member_is_granted_again() {
    let p = passed_on(true);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let dependent = |member: &str| DependentMembership {
        member: RoleName::existing(member),
        group: RoleName::existing("team"),
        grantor: RoleName::existing("lead"),
    };
    assert_eq!(
        membership_changes(&p, "lead"),
        [&Change::RevokeMembershipAdmin {
            group: RoleName::existing("team"),
            granted_by: Some(RoleName::existing("postgres")),
            cascade: vec![dependent("dev1"), dependent("guest")],
        }]
    );
    assert_eq!(
        membership_changes(&p, "dev1"),
        [&Change::GrantMembership {
            group: RoleName::existing("team"),
            options: MembershipOptions::default(),
            from: None,
            escalation: Vec::new(),
            granted_by: None,
        }]
    );
}

/// The cascade removes an undeclared membership of a managed role: revoked again after it, the
/// grant would be missing and the server's WARNING would roll the cluster back. `dev1` sorts
/// before `lead`, so its own revoke would even run first; it is still left to the cascade, so
/// the plan shows the grant once, under the revoke that removes it.
#[test]
fn a_grant_the_cascade_removes_is_not_revoked_again() {
    let p = passed_on(false);
    assert!(membership_changes(&p, "dev1").is_empty(), "{p:#?}");
    assert!(matches!(
        membership_changes(&p, "lead")[..],
        [Change::RevokeMembershipAdmin { cascade, .. }] if cascade.len() == 2
    ));
}

/// No grant made with lead's ADMIN OPTION: the revoke stays a plain one (no CASCADE).
#[test]
fn a_revoke_with_nothing_dependent_lists_nothing() {
    let team = RoleName::existing("team");
    let mut lead = desired_role("lead");
    lead.member_of
        .insert(team.clone(), MembershipOptions::default());
    let mut current = as_current(&lead);
    let options = MembershipOptions {
        admin: true,
        ..MembershipOptions::default()
    };
    current.member_of.insert(team.clone(), options);
    current.membership_grants = BTreeMap::from([(
        team.clone(),
        vec![MembershipGrant {
            grantor: RoleName::existing("postgres"),
            options,
        }],
    )]);
    let (d, mut c) = cluster(vec![lead], vec![current, as_current(&desired_role("team"))]);
    c.server_version_num = 160002;
    let p = plan(&d, &c);
    assert!(matches!(
        membership_changes(&p, "lead")[..],
        [Change::RevokeMembershipAdmin { cascade, .. }] if cascade.is_empty()
    ));
}

#[test]
fn roles_made_by_hand_are_listed_with_what_makes_them_dangerous() {
    let mut rogue = as_current(&desired_role("rogue"));
    rogue.comment = None;
    rogue.attributes.superuser = true;
    rogue.attributes.login = true;
    rogue.member_of.insert(
        RoleName::existing("pg_read_all_data"),
        MembershipOptions::default(),
    );
    let mut provider = as_current(&desired_role("rds_admin"));
    provider.comment = None;
    let (d, c) = cluster(vec![], vec![rogue, provider]);
    let p = plan(&d, &c);
    assert_eq!(
        p.unmanaged,
        [UnmanagedRole {
            role: RoleName::existing("rogue"),
            attributes: vec!["SUPERUSER".into(), "LOGIN".into()],
            predefined: vec![RoleName::existing("pg_read_all_data")],
        }],
        "ignored roles are not listed"
    );
    let ignore = PlanPolicy {
        unmanaged_roles: UnmanagedRoles::Ignore,
        ..PlanPolicy::default()
    };
    assert!(plan_under(&d, &c, false, &ignore).unmanaged.is_empty());
}

#[test]
fn access_that_ends_within_the_warning_or_has_ended_is_listed() {
    let mut soon = desired_role("soon");
    soon.attributes.valid_until = Some("2026-12-10T00:00:00Z".into());
    let mut gone = desired_role("gone");
    gone.attributes.valid_until = Some("2026-12-01T00:00:00Z".into());
    let mut later = desired_role("later");
    later.attributes.valid_until = Some("2027-06-01T00:00:00Z".into());
    let (d, c) = cluster(vec![soon, gone, later], vec![]);
    let p = plan(&d, &c);
    let listed: Vec<(&str, bool)> = p
        .expiring
        .iter()
        .map(|e| (e.role.as_str(), e.expired))
        .collect();
    assert_eq!(listed, [("gone", true), ("soon", false)]);
}

#[test]
fn additive_mode_keeps_what_adds_and_drops_what_takes_away() {
    let mut role = desired_role("kept");
    role.member_of.insert(
        RoleName::existing("new_group"),
        MembershipOptions::default(),
    );
    let mut existing = as_current(&desired_role("kept"));
    existing.member_of.insert(
        RoleName::existing("old_group"),
        MembershipOptions::default(),
    );
    let gone = as_current(&desired_role("gone"));
    let (d, mut c) = cluster(vec![role], vec![existing, gone]);
    for group in ["new_group", "old_group"] {
        let mut g = as_current(&desired_role(group));
        g.comment = None;
        c.roles.insert(g);
    }
    let additive = PlanPolicy {
        mode: Mode::Additive,
        ..PlanPolicy::default()
    };
    let authoritative = plan(&d, &c);
    assert!(authoritative
        .roles
        .iter()
        .any(|r| r.action == RoleAction::Destroy));
    let p = plan_under(&d, &c, false, &additive);
    assert!(p.roles.iter().all(|r| r.action != RoleAction::Destroy));
    let changes: Vec<&Change> = p.roles.iter().flat_map(|r| &r.changes).collect();
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::GrantMembership { .. })),
        "{changes:?}"
    );
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, Change::RevokeMembership { .. })),
        "{changes:?}"
    );
}

/// `postgres` and any other superuser role are ignored (never altered), but an undeclared
/// membership in one makes the member a superuser: revoked like a predefined role's.
#[test]
fn an_undeclared_membership_in_an_ignored_superuser_role_is_revoked() {
    let role = desired_role("jsmith");
    let mut current = as_current(&role);
    for group in ["rds_root", "rds_iam"] {
        current
            .member_of
            .insert(RoleName::existing(group), MembershipOptions::default());
    }
    let (d, mut c) = cluster(vec![role], vec![current]);
    for (group, superuser) in [("rds_root", true), ("rds_iam", false)] {
        let mut g = as_current(&desired_role(group));
        g.comment = None;
        g.attributes.superuser = superuser;
        c.roles.insert(g);
    }
    assert_eq!(revoked_groups(&plan(&d, &c)), ["rds_root"]);
}
