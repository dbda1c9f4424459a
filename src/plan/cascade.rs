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
use std::collections::{BTreeMap, BTreeSet};

/// One grant of a group (a row of `pg_auth_members`). `grantor` is `None` for a grant a
/// superuser admin makes without GRANTED BY: the server records the bootstrap superuser, a
/// grantor that no revoke of the plan names.
#[derive(Clone)]
struct Row {
    member: RoleName,
    grantor: Option<RoleName>,
    admin: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Keep,
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

/// The membership changes of one cluster replayed: each revoke's outcome, and the grants of
/// each group they touch as they are afterwards.
struct Replayed<'c> {
    outcomes: Vec<Option<Outcome>>,
    before: BTreeMap<&'c RoleName, Vec<Row>>,
    after: BTreeMap<&'c RoleName, Vec<Row>>,
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
    let mut rows: BTreeMap<&RoleName, Vec<Row>> = changes
        .iter()
        .filter_map(|(_, change)| match change {
            Change::GrantMembership { group, .. }
            | Change::RevokeMembership { group, .. }
            | Change::RevokeMembershipAdmin { group, .. } => Some((group, Vec::new())),
            _ => None,
        })
        .collect();
    for role in current.roles.values() {
        for (group, grants) in &role.membership_grants {
            if let Some(rows) = rows.get_mut(group) {
                rows.extend(grants.iter().map(|g| Row {
                    member: role.name.clone(),
                    grantor: Some(g.grantor.clone()),
                    admin: g.options.admin,
                }));
            }
        }
    }
    let before = rows.clone();
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
                let Some(rows) = rows.get_mut(group) else {
                    continue;
                };
                let grantor = granted_by.clone().or_else(|| admin_grantor.clone());
                match rows
                    .iter_mut()
                    .find(|r| r.member == *member && r.grantor == grantor)
                {
                    Some(row) => row.admin |= options.admin,
                    None => rows.push(Row {
                        member: member.clone(),
                        grantor,
                        admin: options.admin,
                    }),
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
                if let Some(rows) = rows.get_mut(group) {
                    let admin_only = matches!(change, Change::RevokeMembershipAdmin { .. });
                    outcomes[i] = Some(revoke(rows, member, group, grantor, admin_only));
                }
            }
            _ => {}
        }
    }
    Some(Replayed {
        outcomes,
        before,
        after: rows,
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
    let has_admin = |rows: &BTreeMap<&RoleName, Vec<Row>>, group: &RoleName, role: &RoleName| {
        rows.get(group)
            .is_some_and(|rows| rows.iter().any(|r| r.member == *role && r.admin))
    };
    let mut removed = BTreeSet::new();
    for ((member, change), outcome) in changes.iter().zip(replayed.outcomes) {
        if let Some(Outcome::Removes(dependents)) = outcome {
            removed.extend(dependents);
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
            if has_admin(&replayed.before, group, grantor)
                && !has_admin(&replayed.after, group, grantor)
            {
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
    rows: &mut Vec<Row>,
    member: &RoleName,
    group: &RoleName,
    grantor: &RoleName,
    admin_only: bool,
) -> Outcome {
    let Some(target) = rows
        .iter()
        .position(|r| r.member == *member && r.grantor.as_ref() == Some(grantor))
    else {
        return Outcome::AlreadyGone;
    };
    let mut actions = vec![Action::Keep; rows.len()];
    plan_recursive_revoke(rows, &mut actions, target, admin_only);
    let mut dependents = Vec::new();
    let mut kept = Vec::with_capacity(rows.len());
    for (index, (row, action)) in rows.drain(..).zip(actions).enumerate() {
        match action {
            Action::Keep => kept.push(row),
            Action::RemoveAdmin => kept.push(Row {
                admin: false,
                ..row
            }),
            Action::Delete if index == target => {}
            Action::Delete => {
                // A dependent's grantor is a member of the group, never the bootstrap one.
                if let Some(grantor) = row.grantor {
                    dependents.push(DependentMembership {
                        member: row.member,
                        group: group.clone(),
                        grantor,
                    });
                }
            }
        }
    }
    *rows = kept;
    dependents.sort();
    Outcome::Removes(dependents)
}

/// The server's `plan_recursive_revoke`, step for step: mark grant `index` (or only its ADMIN
/// OPTION) for removal; if its member then holds the ADMIN OPTION through no grant that stays,
/// remove every grant that member made, recursively.
fn plan_recursive_revoke(rows: &[Row], actions: &mut [Action], index: usize, admin_only: bool) {
    if actions[index] == Action::Delete || (actions[index] == Action::RemoveAdmin && admin_only) {
        return;
    }
    let row = &rows[index];
    if !admin_only {
        actions[index] = Action::Delete;
        if !row.admin {
            return;
        }
    } else {
        if !row.admin {
            return;
        }
        actions[index] = Action::RemoveAdmin;
    }
    let still_admin = rows
        .iter()
        .zip(actions.iter())
        .any(|(r, a)| r.member == row.member && r.admin && *a == Action::Keep);
    if still_admin {
        return;
    }
    for i in 0..rows.len() {
        if rows[i].grantor.as_ref() == Some(&row.member) && actions[i] != Action::Delete {
            plan_recursive_revoke(rows, actions, i, false);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
