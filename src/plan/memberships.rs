//! A declared role's memberships checked against the cluster as the plan leaves it: what they
//! confer beyond their groups' privileges (refused unless `allow_escalation` allows it, and
//! shown on the membership line), and whether they lead back to the role. Validation checked
//! the declared roles alone; only the catalog knows the groups that exist on the cluster.

use super::diff::DiffInput;
use super::{Change, PlanError, RolePlan};
use crate::model::membership_graph::{MembershipGraph, Node};
use crate::model::{Escalation, RoleName};
use std::collections::BTreeMap;

/// The cluster's membership graph as the plan leaves it, for [`check_memberships`].
pub(super) fn membership_graph<'a, 'i>(
    input: &'i DiffInput<'a>,
) -> MembershipGraph<'a, impl Fn(&RoleName) -> Option<Node<'a>> + 'i> {
    let declared = input
        .desired
        .roles
        .values()
        .flat_map(|r| r.member_of.keys());
    let current = input
        .current
        .roles
        .values()
        .flat_map(|r| r.member_of.keys());
    MembershipGraph::new(|r| node_after(input, r), declared.chain(current))
}

/// Checks the memberships of the declared role `name` and marks the escalation of each one
/// `plan` grants.
pub(super) fn check_memberships<'a>(
    input: &DiffInput<'a>,
    name: &RoleName,
    plan: Option<&mut RolePlan>,
    graph: &mut MembershipGraph<'a, impl Fn(&RoleName) -> Option<Node<'a>>>,
    errors: &mut Vec<PlanError>,
) {
    let Some(role) = input.desired.roles.get(name) else {
        return;
    };
    let mut escalations: BTreeMap<&RoleName, Vec<Escalation>> = BTreeMap::new();
    for group in role.member_of.keys() {
        let conferred = graph.conferred_by(group).clone();
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
    if let Some(path) = graph.cycle_through(&role.name) {
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
