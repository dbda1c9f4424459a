//! Roles that pgroster manages and no config declares on a cluster any more: dropped, in
//! steps a failure cannot leave half-done with a live login (issue 11).
//!
//! 1. In the cluster's role transaction the role becomes NOLOGIN, and the admin, when it lacks
//!    the role's privileges, is made a member (REASSIGN and DROP OWNED need them; a CREATEROLE
//!    admin may grant itself a role it administers).
//! 2. Its sessions end, once that committed.
//! 3. In every database where something depends on it (registered or not), what it owns goes
//!    to a successor (`reassign_owned_to`, else that database's owner) and its privileges go;
//!    a database that does not accept connections refuses the drop.
//!    The counts come from `pg_shdepend`, so the reviewer sees what moves. DROP OWNED revokes
//!    only what the admin may revoke, so in the registered databases (whose privileges were
//!    read) a grant by a role the admin cannot act as refuses the drop at plan time.
//! 4. DROP ROLE, after every database.
//!
//! Unmanaged roles, `ignore_roles` (which holds the admin and the bootstrap superuser) are never
//! dropped; nor is anything when `--target` narrowed the plan, since the role may be declared
//! for targets outside the selection.

use super::diff::{role_plan, DiffInput};
use super::{Change, DropRefusal, PlanError, RoleAction, RolePlan};
use crate::model::{CurrentRole, Dependencies, RoleName};
use std::collections::BTreeSet;

/// The drop of every managed role that is no longer declared on the cluster.
pub(super) fn plan_drops(
    input: &DiffInput,
    roles: &mut Vec<RolePlan>,
    errors: &mut Vec<PlanError>,
) {
    if input.narrowed {
        return;
    }
    for role in input.current.roles.values() {
        let ignored = input
            .ignore_roles
            .iter()
            .any(|g| g.matches(role.name.as_str()));
        if !role.is_managed() || ignored || input.desired.roles.contains_key(&role.name) {
            continue;
        }
        match drop_steps(input, role) {
            Ok(changes) => roles.push(RolePlan {
                role: role.name.clone(),
                action: RoleAction::Destroy,
                profile: role.marker().and_then(|m| m.profile),
                targets: Vec::new(),
                changes,
            }),
            Err(reason) => errors.push(PlanError::DropRefused {
                role: role.name.clone(),
                reason,
            }),
        }
    }
    keep_memberships_the_dropped_granted(input, roles);
}

/// On PostgreSQL 16+ DROP OWNED also removes the memberships the dropped role granted with its
/// ADMIN OPTION. A declared role that holds a declared membership only through such grants gets
/// it from the admin first (role changes commit before the drop's steps), so it keeps it and
/// the plan converges in one apply.
fn keep_memberships_the_dropped_granted(input: &DiffInput, roles: &mut Vec<RolePlan>) {
    let dropped: BTreeSet<RoleName> = roles
        .iter()
        .filter(|r| r.action == RoleAction::Destroy)
        .map(|r| r.role.clone())
        .collect();
    if dropped.is_empty() {
        return;
    }
    for member in input.desired.roles.values() {
        let Some(current) = input.current.roles.get(&member.name) else {
            continue;
        };
        for (group, want) in &member.member_of {
            let Some(grants) = current.membership_grants.get(group) else {
                continue;
            };
            let only_from_dropped =
                !grants.is_empty() && grants.iter().all(|g| dropped.contains(&g.grantor));
            if !only_from_dropped {
                continue;
            }
            let plan = match roles.iter().position(|r| r.role == member.name) {
                Some(at) => &mut roles[at],
                None => {
                    roles.push(role_plan(member, RoleAction::Update, Vec::new()));
                    let last = roles.len() - 1;
                    &mut roles[last]
                }
            };
            let regranted = plan.changes.iter().any(|c| {
                matches!(c, Change::GrantMembership { group: g, granted_by: None, .. } if g == group)
            });
            if !regranted {
                plan.changes.push(Change::GrantMembership {
                    group: group.clone(),
                    options: *want,
                    from: None,
                    escalation: Vec::new(),
                    granted_by: None,
                });
            }
        }
    }
}

fn drop_steps(input: &DiffInput, role: &CurrentRole) -> Result<Vec<Change>, DropRefusal> {
    let current = input.current;
    let admin = RoleName::existing(current.admin.name.as_str());
    if !role.admin_can_alter {
        return Err(DropRefusal::AdminMayNotDrop {
            admin,
            superuser: role.attributes.superuser,
        });
    }
    let acts_as = |name: &RoleName| {
        current.admin.superuser
            || *name == admin
            || current.roles.get(name).is_some_and(|r| r.admin_acts_as)
    };
    let registered = |database: &str| input.desired.targets.iter().any(|t| t.database == database);
    let in_database = |database: Option<&str>| -> Dependencies {
        role.dependencies
            .iter()
            .find(|d| d.database.as_deref() == database)
            .cloned()
            .unwrap_or_default()
    };
    let shared = in_database(None);
    let mut cleaned = Vec::new();
    for (database, info) in &current.database_info {
        let mut here = in_database(Some(database));
        let depends = here.owned + here.privileges > 0;
        if !info.allows_connections {
            if depends {
                return Err(DropRefusal::DatabaseClosed {
                    database: database.clone(),
                    owned: here.owned,
                    privileges: here.privileges,
                });
            }
            continue;
        }
        if info.is_template && !depends {
            continue;
        }
        // DROP OWNED revokes only what the admin may revoke: a grant made by a role it cannot
        // act as would survive (the server warns) and block DROP ROLE. Where the privileges
        // were read (the registered databases), that is known now.
        if let Some(index) = input.databases.get(database) {
            let blocking: BTreeSet<&RoleName> = index
                .held_by(&role.name)
                .iter()
                .map(|held| &held.grantor)
                .filter(|grantor| **grantor != role.name && !acts_as(grantor))
                .collect();
            if !blocking.is_empty() {
                return Err(DropRefusal::GrantorsNotActable {
                    database: database.clone(),
                    grantors: blocking.into_iter().cloned().collect(),
                });
            }
        }
        // Shared objects (databases, tablespaces) go with the first database's REASSIGN OWNED.
        if cleaned.is_empty() && !info.is_template {
            here.owned += shared.owned;
            here.privileges += shared.privileges;
        }
        // Where nothing depends on the role there is nothing to clean; something added since
        // the plan only makes DROP ROLE fail, changing nothing, until the next apply.
        if here.owned + here.privileges == 0 {
            continue;
        }
        let reassign_to = if here.owned > 0 {
            let successor = input
                .drops
                .reassign_owned_to
                .clone()
                .unwrap_or_else(|| info.owner.clone());
            // A database the role owns itself goes to the admin.
            let successor = if successor == role.name {
                admin.clone()
            } else {
                successor
            };
            if !current.roles.contains_key(&successor) {
                return Err(DropRefusal::UnknownSuccessor { successor });
            }
            if !acts_as(&successor) {
                return Err(DropRefusal::SuccessorNotActable {
                    database: database.clone(),
                    owned: here.owned,
                    successor,
                });
            }
            Some(successor)
        } else {
            None
        };
        cleaned.push(Change::DropOwned {
            database: database.clone(),
            reassign_to,
            owned: here.owned,
            privileges: here.privileges,
            registered: registered(database),
        });
    }
    let grant_to_admin = (!role.admin_acts_as && !current.admin.superuser).then_some(admin);
    let mut steps = Vec::new();
    if role.attributes.login || grant_to_admin.is_some() {
        steps.push(Change::PrepareDrop {
            disable_login: role.attributes.login,
            grant_to_admin,
        });
    }
    if input.drops.terminate_sessions {
        steps.push(Change::EndSessions);
    }
    steps.extend(cleaned);
    steps.push(Change::DropRole);
    Ok(steps)
}
