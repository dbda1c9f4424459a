//! A declared role's memberships checked against the cluster as the plan leaves it: what they
//! confer beyond their groups' privileges (refused unless `allow_escalation` allows it, and
//! shown on the membership line), and whether they lead back to the role. Validation checked
//! the declared roles alone; only the catalog knows the groups that exist on the cluster.

use super::diff::DiffInput;
use super::{Change, PlanError, RolePlan};
use crate::model::membership_graph::{conferred_by, cycle_through, Node};
use crate::model::{Escalation, RoleName};
use std::collections::BTreeMap;

/// What membership in each group confers, found once per group: every member of a group
/// (thousands, for a team's group) would otherwise walk the same groups again.
pub(super) type ConferredByGroup<'a> = BTreeMap<&'a RoleName, BTreeMap<Escalation, &'a RoleName>>;

/// Checks the memberships of the declared role `name` and marks the escalation of each one
/// `plan` grants.
pub(super) fn check_memberships<'a>(
    input: &DiffInput<'a>,
    name: &RoleName,
    plan: Option<&mut RolePlan>,
    conferred_by_group: &mut ConferredByGroup<'a>,
    errors: &mut Vec<PlanError>,
) {
    let Some(role) = input.desired.roles.get(name) else {
        return;
    };
    let node = |r: &RoleName| node_after(input, r);
    let mut escalations: BTreeMap<&RoleName, Vec<Escalation>> = BTreeMap::new();
    for group in role.member_of.keys() {
        let conferred = conferred_by_group
            .entry(group)
            .or_insert_with(|| conferred_by(group, node))
            .clone();
        let refused: Vec<(Escalation, RoleName)> = conferred
            .iter()
            .filter(|(escalation, _)| !escalation.allowed_by(&role.allow_escalation))
            .map(|(escalation, from)| (*escalation, (*from).clone()))
            .collect();
        if !refused.is_empty() {
            errors.push(PlanError::Escalation {
                role: role.name.clone(),
                group: group.clone(),
                conferred: refused,
                at: role.member_of_at.clone(),
            });
        }
        escalations.insert(group, conferred.into_keys().collect());
    }
    if let Some(path) = cycle_through(&role.name, node) {
        errors.push(PlanError::MembershipCycle {
            role: role.name.clone(),
            path: path.into_iter().cloned().collect(),
            at: role.member_of_at.clone(),
        });
    }
    for change in plan.into_iter().flat_map(|p| &mut p.changes) {
        if let Change::GrantMembership {
            group, escalation, ..
        } = change
        {
            if let Some(conferred) = escalations.get(&*group) {
                escalation.clone_from(conferred);
            }
        }
    }
}

/// A role as it will be once the plan has run: a declared role with its declared attributes
/// and memberships (and the undeclared ones the plan leaves in place), any other as the
/// catalog has it.
fn node_after<'a>(input: &DiffInput<'a>, role: &RoleName) -> Option<Node<'a>> {
    let current = input.current.roles.get(role);
    let Some(desired) = input.desired.roles.get(role) else {
        return current.map(|c| Node {
            attributes: Some(&c.attributes),
            member_of: c.member_of.keys().collect(),
        });
    };
    let kept = current.into_iter().flat_map(|c| {
        c.member_of
            .keys()
            .filter(|group| input.keeps_undeclared_membership(group))
    });
    Some(Node {
        attributes: Some(&desired.attributes),
        member_of: desired.member_of.keys().chain(kept).collect(),
    })
}
