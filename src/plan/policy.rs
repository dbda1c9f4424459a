//! What `[settings]` does to a cluster's plan beyond the diff: roles nobody declared are listed
//! (`unmanaged_roles`), declared roles whose access ends soon are warned about
//! (`expiry_warning`), and in `additive` mode nothing is taken away (issue 11).

use super::diff::DiffInput;
use super::{Change, ClusterPlan, ExpiringRole, RoleAction, UnmanagedRole};
use crate::model::policy::{Mode, UnmanagedRoles};

/// Every role on the cluster that is neither declared, managed nor ignored, with its
/// dangerous attributes and predefined-role memberships: a drift check must see a role made
/// by hand.
pub(super) fn unmanaged(input: &DiffInput) -> Vec<UnmanagedRole> {
    if input.policy.unmanaged_roles == UnmanagedRoles::Ignore {
        return Vec::new();
    }
    input
        .current
        .roles
        .values()
        .filter(|role| {
            !role.is_managed()
                && !input.desired.roles.contains_key(&role.name)
                && !input
                    .ignore_roles
                    .iter()
                    .any(|g| g.matches(role.name.as_str()))
        })
        .map(|role| {
            let a = &role.attributes;
            let attributes = [
                (a.superuser, "SUPERUSER"),
                (a.bypassrls, "BYPASSRLS"),
                (a.replication, "REPLICATION"),
                (a.createrole, "CREATEROLE"),
                (a.createdb, "CREATEDB"),
                (a.login, "LOGIN"),
            ]
            .into_iter()
            .filter(|(has, _)| *has)
            .map(|(_, name)| name.to_string())
            .collect();
            // PostgreSQL reserves the `pg_` prefix for its predefined roles.
            let predefined = role
                .member_of
                .keys()
                .filter(|g| g.as_str().starts_with("pg_"))
                .cloned()
                .collect();
            UnmanagedRole {
                role: role.name.clone(),
                attributes,
                predefined,
            }
        })
        .collect()
}

/// Declared roles whose `valid_until` has passed, or falls within `expiry_warning` of `now`.
pub(super) fn expiring(input: &DiffInput) -> Vec<ExpiringRole> {
    let soon = input.now.checked_add(input.policy.expiry_warning).ok();
    input
        .desired
        .roles
        .values()
        .filter_map(|role| {
            let valid_until = role.attributes.valid_until.as_deref()?;
            let ends = if valid_until == "-infinity" {
                jiff::Timestamp::MIN
            } else {
                valid_until.parse::<jiff::Timestamp>().ok()?
            };
            let expired = ends <= input.now;
            (expired || soon.is_some_and(|soon| ends <= soon)).then(|| ExpiringRole {
                role: role.name.clone(),
                valid_until: valid_until.to_string(),
                expired,
            })
        })
        .collect()
}

/// `additive`: the plan keeps only what adds. Revokes, drops and removed settings go; a role
/// left with nothing to do leaves the plan.
pub(super) fn apply_mode(input: &DiffInput, plan: &mut ClusterPlan) {
    if input.policy.mode != Mode::Additive {
        return;
    }
    let takes_away = |change: &Change| {
        matches!(
            change,
            Change::Revoke { .. }
                | Change::RevokeDefault { .. }
                | Change::RevokeMembership { .. }
                | Change::RevokeMembershipAdmin { .. }
                | Change::ResetSetting { .. }
        )
    };
    plan.roles.retain(|r| r.action != RoleAction::Destroy);
    for role in &mut plan.roles {
        role.changes.retain(|c| !takes_away(c));
    }
    plan.roles.retain(|r| !r.changes.is_empty());
    plan.public.clear();
}
