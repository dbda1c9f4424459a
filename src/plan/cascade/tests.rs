//! The replay against what PostgreSQL 16's `plan_recursive_revoke` removes.

use super::*;
use crate::model::{CurrentRole, MembershipGrant, MembershipOptions};

fn name(n: &str) -> RoleName {
    RoleName::existing(n)
}

/// A cluster on `version` whose grants of `team` are `(member, grantor, admin)`.
fn cluster(version: i32, grants: &[(&str, &str, bool)]) -> CurrentCluster {
    let mut roles: BTreeMap<&str, CurrentRole> = BTreeMap::new();
    for (member, grantor, admin) in grants {
        let role = roles
            .entry(member)
            .or_insert_with(|| CurrentRole::bare(member));
        role.membership_grants
            .entry(name("team"))
            .or_default()
            .push(MembershipGrant {
                grantor: name(grantor),
                options: MembershipOptions {
                    admin: *admin,
                    ..MembershipOptions::default()
                },
            });
    }
    CurrentCluster::bare(version, "admin", roles.into_values())
}

fn revoke(grantor: &str) -> Change {
    Change::RevokeMembership {
        group: name("team"),
        granted_by: Some(name(grantor)),
        cascade: Vec::new(),
    }
}

fn revoke_admin(grantor: &str) -> Change {
    Change::RevokeMembershipAdmin {
        group: name("team"),
        granted_by: Some(name(grantor)),
        cascade: Vec::new(),
    }
}

fn grant(admin: bool) -> Change {
    Change::GrantMembership {
        group: name("team"),
        options: MembershipOptions {
            admin,
            ..MembershipOptions::default()
        },
        from: None,
        escalation: Vec::new(),
        granted_by: None,
    }
}

/// Each revoke's dependents as `member<-grantor`, `gone` for one already removed.
fn outcomes(current: &CurrentCluster, changes: &[(&str, Change)]) -> Vec<Vec<String>> {
    let names: Vec<RoleName> = changes.iter().map(|(m, _)| name(m)).collect();
    let pairs: Vec<(&RoleName, &Change)> =
        names.iter().zip(changes.iter().map(|(_, c)| c)).collect();
    replay(current, &pairs)
        .map(|r| r.outcomes)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| {
            o.map(|o| match o {
                Outcome::AlreadyGone => vec!["gone".to_string()],
                Outcome::Removes(d) => d
                    .iter()
                    .map(|d| format!("{}<-{}", d.member, d.grantor))
                    .collect(),
            })
        })
        .collect()
}

const PASSED_ON: &[(&str, &str, bool)] = &[
    ("lead", "postgres", true),
    ("dev1", "lead", false),
    ("guest", "lead", false),
];

#[test]
fn taking_the_admin_option_removes_the_grants_made_with_it() {
    let current = cluster(160_000, PASSED_ON);
    assert_eq!(
        outcomes(&current, &[("lead", revoke_admin("postgres"))]),
        [["dev1<-lead", "guest<-lead"]]
    );
    assert_eq!(
        outcomes(&current, &[("lead", revoke("postgres"))]),
        [["dev1<-lead", "guest<-lead"]]
    );
}

#[test]
fn a_grant_without_the_admin_option_has_no_dependents() {
    let current = cluster(160_000, PASSED_ON);
    assert_eq!(
        outcomes(&current, &[("dev1", revoke("lead"))]),
        [Vec::<String>::new()]
    );
}

#[test]
fn the_admin_option_from_another_grantor_still_supports_the_grants_until_it_goes_too() {
    let mut grants = PASSED_ON.to_vec();
    grants.push(("lead", "delegate", true));
    let current = cluster(160_000, &grants);
    assert_eq!(
        outcomes(
            &current,
            &[
                ("lead", revoke_admin("postgres")),
                ("lead", revoke_admin("delegate")),
            ]
        ),
        [vec![], vec!["dev1<-lead", "guest<-lead"]]
    );
}

/// lead passed team on to dev1 with the ADMIN OPTION, and dev1 to guest.
const CHAIN: &[(&str, &str, bool)] = &[
    ("lead", "postgres", true),
    ("dev1", "lead", true),
    ("guest", "dev1", false),
];

#[test]
fn what_dependents_passed_on_goes_with_them_and_is_not_revoked_twice() {
    let current = cluster(160_000, CHAIN);
    assert_eq!(
        outcomes(
            &current,
            &[("lead", revoke("postgres")), ("guest", revoke("dev1"))]
        ),
        [vec!["dev1<-lead", "guest<-dev1"], vec!["gone"]]
    );
}

/// Grants run before revokes: a member the plan grants the ADMIN OPTION again keeps what it
/// passed on, and only its grant from the revoked role goes.
#[test]
fn a_member_granted_the_admin_option_again_keeps_the_grants_it_made() {
    let current = cluster(160_000, CHAIN);
    assert_eq!(
        outcomes(
            &current,
            &[("lead", revoke("postgres")), ("dev1", grant(true))]
        ),
        [vec!["dev1<-lead"]]
    );
}

#[test]
fn before_16_nothing_depends_on_a_grant() {
    let current = cluster(150_000, PASSED_ON);
    assert!(outcomes(&current, &[("lead", revoke("postgres"))]).is_empty());
}
