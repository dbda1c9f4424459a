//! Membership grants that hang from an ADMIN OPTION the plan takes away (PostgreSQL 16+,
//! issue 10).
//!
//! From 16 the server records who granted each membership, and a grant made with a member's
//! ADMIN OPTION depends on that option: revoking the membership, or only its ADMIN OPTION,
//! fails with "dependent privileges exist" unless `CASCADE` removes the dependent grants too.
//! pgroster revokes with `CASCADE` and lists under the revoke every grant it removes. To know
//! them exactly, the cluster's membership statements are replayed here, in the order apply runs
//! them, on the grants read from `pg_auth_members` (every member, managed or not), with the
//! server's rule (`plan_recursive_revoke` in PostgreSQL 16's src/backend/commands/user.c): a
//! revoke reaches the grants its member made only when no other grant of the member's still
//! gives it the ADMIN OPTION, and then removes them and, in turn, what their members passed on.
//! Before 16 a membership is one grant with no dependents, and nothing here applies.

use super::{phase, Change, DependentMembership, RolePlan};
use crate::model::{CurrentCluster, RoleName};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One grant of a group (a row of `pg_auth_members`). `grantor` is `None` for a grant a
/// superuser admin makes without GRANTED BY: the server records the bootstrap superuser, a
/// grantor that no revoke of the plan names.
struct Row {
    member: RoleName,
    grantor: Option<RoleName>,
    admin: bool,
    /// False once a revoke removed it.
    live: bool,
}

/// The grants of one group, indexed as a revoke looks them up: a group may have tens of
/// thousands of members, and a plan may revoke it from each.
#[derive(Default)]
struct Grants {
    rows: Vec<Row>,
    at: HashMap<(RoleName, Option<RoleName>), usize>,
    /// The rows each role granted, live or not.
    made_by: HashMap<RoleName, Vec<usize>>,
    /// How many live rows give each member the ADMIN OPTION.
    admins: HashMap<RoleName, usize>,
}

impl Grants {
    fn push(&mut self, member: RoleName, grantor: Option<RoleName>, admin: bool) {
        let index = self.rows.len();
        if let Some(grantor) = &grantor {
            self.made_by.entry(grantor.clone()).or_default().push(index);
        }
        if admin {
            *self.admins.entry(member.clone()).or_default() += 1;
        }
        self.at.insert((member.clone(), grantor.clone()), index);
        self.rows.push(Row {
            member,
            grantor,
            admin,
            live: true,
        });
    }

    /// `GRANT group TO member [WITH ADMIN OPTION]` as `grantor`: a new grant, or the ADMIN
    /// OPTION added to the grantor's existing one.
    fn grant(&mut self, member: &RoleName, grantor: Option<RoleName>, admin: bool) {
        match self.at.get(&(member.clone(), grantor.clone())) {
            Some(&index) => {
                let row = &mut self.rows[index];
                if admin && !row.admin {
                    row.admin = true;
                    *self.admins.entry(row.member.clone()).or_default() += 1;
                }
            }
            None => self.push(member.clone(), grantor, admin),
        }
    }

    fn has_admin(&self, role: &RoleName) -> bool {
        self.admins.get(role).is_some_and(|n| *n > 0)
    }
}

/// What a revoke does to each grant it reaches; a grant it does not reach is kept.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    RemoveAdmin,
    Delete,
}

/// What one revoke does beyond its own grant.
pub(super) enum Outcome {
    /// The grants it removes as dependents; `CASCADE` only when there are any.
    Removes(Vec<DependentMembership>),
    /// An earlier revoke's cascade already removed its grant.
    AlreadyGone,
}

/// The membership changes of one cluster replayed: each revoke's outcome, and which members
/// of each group it touches held the ADMIN OPTION before and after.
struct Replayed<'c> {
    outcomes: Vec<Option<Outcome>>,
    admin_before: BTreeMap<&'c RoleName, HashMap<RoleName, usize>>,
    after: BTreeMap<&'c RoleName, Grants>,
}

/// Replays the membership changes of one cluster (the member, the change) in apply's order:
/// grants before revokes, each phase in the order given (`order.rs`). `None` before 16.
fn replay<'c>(
    current: &CurrentCluster,
    changes: &[(&RoleName, &'c Change)],
) -> Option<Replayed<'c>> {
    if current.server_version_num < 160_000 {
        return None;
    }
    let mut groups: BTreeMap<&RoleName, Grants> = changes
        .iter()
        .filter_map(|(_, change)| match change {
            Change::GrantMembership { group, .. }
            | Change::RevokeMembership { group, .. }
            | Change::RevokeMembershipAdmin { group, .. } => Some((group, Grants::default())),
            _ => None,
        })
        .collect();
    for role in current.roles.values() {
        for (group, grants) in &role.membership_grants {
            if let Some(rows) = groups.get_mut(group) {
                for g in grants {
                    rows.push(role.name.clone(), Some(g.grantor.clone()), g.options.admin);
                }
            }
        }
    }
    let admin_before = groups
        .iter()
        .map(|(group, grants)| (*group, grants.admins.clone()))
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = changes.iter().map(|_| None).collect();
    let admin_grantor = (!current.admin.superuser).then(|| RoleName::existing(&current.admin.name));
    let mut order: Vec<usize> = (0..changes.len()).collect();
    order.sort_by_key(|&i| phase(changes[i].1));
    for i in order {
        let (member, change) = changes[i];
        match change {
            Change::GrantMembership {
                group,
                options,
                granted_by,
                ..
            } => {
                if let Some(grants) = groups.get_mut(group) {
                    let grantor = granted_by.clone().or_else(|| admin_grantor.clone());
                    grants.grant(member, grantor, options.admin);
                }
            }
            Change::RevokeMembership {
                group,
                granted_by: Some(grantor),
                ..
            }
            | Change::RevokeMembershipAdmin {
                group,
                granted_by: Some(grantor),
                ..
            } => {
                if let Some(grants) = groups.get_mut(group) {
                    let admin_only = matches!(change, Change::RevokeMembershipAdmin { .. });
                    outcomes[i] = Some(revoke(grants, member, group, grantor, admin_only));
                }
            }
            _ => {}
        }
    }
    Some(Replayed {
        outcomes,
        admin_before,
        after: groups,
    })
}

/// The grants the plan's revokes remove with `CASCADE`, as the planner must know them before
/// it plans the members' own memberships: those a replay finds removed as dependents, and
/// those the plan revokes itself before a cascade reaches them (their grantor had the ADMIN
/// OPTION and has none left afterwards). The revoke of such a grant is left to the cascade,
/// so the plan shows it once, under the revoke that removes it, whatever the order of roles.
pub(super) fn removed(
    current: &CurrentCluster,
    changes: &[(&RoleName, &Change)],
) -> BTreeSet<DependentMembership> {
    let Some(replayed) = replay(current, changes) else {
        return BTreeSet::new();
    };
    let had_admin = |group: &RoleName, role: &RoleName| {
        replayed
            .admin_before
            .get(group)
            .and_then(|admins| admins.get(role))
            .is_some_and(|n| *n > 0)
    };
    let has_admin = |group: &RoleName, role: &RoleName| {
        replayed
            .after
            .get(group)
            .is_some_and(|grants| grants.has_admin(role))
    };
    let mut removed = BTreeSet::new();
    let outcomes = replayed.outcomes.iter();
    for ((member, change), outcome) in changes.iter().zip(outcomes) {
        if let Some(Outcome::Removes(dependents)) = outcome {
            removed.extend(dependents.iter().cloned());
        }
        if let Change::RevokeMembership {
            group,
            granted_by: Some(grantor),
            ..
        }
        | Change::RevokeMembershipAdmin {
            group,
            granted_by: Some(grantor),
            ..
        } = change
        {
            if had_admin(group, grantor) && !has_admin(group, grantor) {
                removed.insert(DependentMembership {
                    member: (*member).clone(),
                    group: group.clone(),
                    grantor: grantor.clone(),
                });
            }
        }
    }
    removed
}

/// Sets on each revoke of the cluster's plan the grants it removes as dependents, which makes
/// it `CASCADE` (`render::ddl`).
pub(super) fn mark_dependents(current: &CurrentCluster, roles: &mut [RolePlan]) {
    let outcomes = {
        let changes: Vec<(&RoleName, &Change)> = roles
            .iter()
            .flat_map(|r| r.changes.iter().map(move |c| (&r.role, c)))
            .collect();
        match replay(current, &changes) {
            Some(replayed) => replayed.outcomes,
            None => return,
        }
    };
    let mut outcomes = outcomes.into_iter();
    for change in roles.iter_mut().flat_map(|r| &mut r.changes) {
        let Some(Some(Outcome::Removes(found))) = outcomes.next() else {
            continue;
        };
        if let Change::RevokeMembership { cascade, .. }
        | Change::RevokeMembershipAdmin { cascade, .. } = change
        {
            *cascade = found;
        }
    }
}

/// One `REVOKE [ADMIN OPTION FOR] group FROM member GRANTED BY grantor CASCADE`, applied to
/// the group's grants.
fn revoke(
    grants: &mut Grants,
    member: &RoleName,
    group: &RoleName,
    grantor: &RoleName,
    admin_only: bool,
) -> Outcome {
    let Some(&target) = grants.at.get(&(member.clone(), Some(grantor.clone()))) else {
        return Outcome::AlreadyGone;
    };
    let mut statement = Statement::default();
    plan_recursive_revoke(grants, &mut statement, target, admin_only);
    let mut dependents = Vec::new();
    for (index, action) in statement.actions {
        let row = &mut grants.rows[index];
        if row.admin {
            if let Some(n) = grants.admins.get_mut(&row.member) {
                *n -= 1;
            }
        }
        row.admin = false;
        if action == Action::Delete {
            row.live = false;
            grants.at.remove(&(row.member.clone(), row.grantor.clone()));
            // A dependent's grantor is a member of the group, never the bootstrap one.
            if let (true, Some(grantor)) = (index != target, &row.grantor) {
                dependents.push(DependentMembership {
                    member: row.member.clone(),
                    group: group.clone(),
                    grantor: grantor.clone(),
                });
            }
        }
    }
    dependents.sort();
    Outcome::Removes(dependents)
}

/// What one statement does, decided before any of it is done, as the server decides it.
#[derive(Default)]
struct Statement {
    actions: HashMap<usize, Action>,
    /// How many of each member's grants with the ADMIN OPTION the statement removes or strips.
    admins_taken: HashMap<RoleName, usize>,
}

/// The server's `plan_recursive_revoke`, step for step: mark grant `index` (or only its ADMIN
/// OPTION) for removal; if its member then holds the ADMIN OPTION through no grant the
/// statement leaves alone, remove every grant that member made, recursively.
fn plan_recursive_revoke(
    grants: &Grants,
    statement: &mut Statement,
    index: usize,
    admin_only: bool,
) {
    let before = statement.actions.get(&index).copied();
    if before == Some(Action::Delete) || (before == Some(Action::RemoveAdmin) && admin_only) {
        return;
    }
    let row = &grants.rows[index];
    if !row.admin {
        if !admin_only {
            statement.actions.insert(index, Action::Delete);
        }
        return;
    }
    let action = if admin_only {
        Action::RemoveAdmin
    } else {
        Action::Delete
    };
    statement.actions.insert(index, action);
    if before.is_none() {
        *statement
            .admins_taken
            .entry(row.member.clone())
            .or_default() += 1;
    }
    let held = grants.admins.get(&row.member).copied().unwrap_or(0);
    let taken = statement
        .admins_taken
        .get(&row.member)
        .copied()
        .unwrap_or(0);
    if held > taken {
        return;
    }
    for &i in grants.made_by.get(&row.member).into_iter().flatten() {
        if grants.rows[i].live && statement.actions.get(&i) != Some(&Action::Delete) {
            plan_recursive_revoke(grants, statement, i, false);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
