//! The declared memberships of one cluster's roles, checked without the cluster: a role that is
//! a member of itself or of a cycle, and a membership in a declared group or a predefined role
//! that confers more than the role's `allow_escalation` allows. The groups that exist only on
//! the cluster are checked again at plan time (`plan::memberships`).

use super::super::error::ConfigError;
use super::super::{Config, Origin};
use crate::model::membership_graph::{MembershipGraph, Node};
use crate::model::{DesiredRole, RoleMap, RoleName};

/// Checks every role of `roles`; `origins` are their declarations, in the same order.
pub(super) fn check_memberships(
    config: &Config,
    roles: &RoleMap<DesiredRole>,
    origins: &[&Origin],
    errors: &mut Vec<ConfigError>,
) {
    let node = |name: &RoleName| {
        roles.get(name).map(|role| Node {
            attributes: Some(&role.attributes),
            member_of: role.member_of.keys().collect(),
        })
    };
    let mut graph = MembershipGraph::new(node, roles.values().flat_map(|r| r.member_of.keys()));
    for (role, origin) in roles.values().zip(origins) {
        let mut error = |message: String| {
            errors.push(ConfigError {
                location: config.location(origin, Some("member_of")),
                message: format!("role `{}`: {message}", role.name),
            })
        };
        if let Some(path) = graph.cycle_through(&role.name) {
            let path: Vec<String> = path.iter().map(|r| format!("`{r}`")).collect();
            error(format!(
                "its memberships lead back to it ({}); PostgreSQL refuses a membership cycle",
                path.join(" -> ")
            ));
            continue;
        }
        for group in role.member_of.keys() {
            let refused: Vec<String> = graph
                .conferred_by(group)
                .iter()
                .filter(|(escalation, _)| !escalation.allowed_by(&role.allow_escalation))
                .map(|(escalation, from)| format!("{escalation} (through `{from}`)"))
                .collect();
            if !refused.is_empty() {
                error(format!(
                    "member_of `{group}` confers {}, which its allow_escalation does not allow; \
                     add them to allow_escalation (on the role or its profile) if this is meant",
                    refused.join(", ")
                ));
            }
        }
    }
}
