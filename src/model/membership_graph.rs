//! Walks over the membership graph, on either side: what membership in a group confers beyond
//! the group's own privileges (an escalation), and whether a role's memberships lead back to it.
//!
//! A member can `SET ROLE` to a group, and so to every group that group is in: it acts with
//! their attributes. Attributes are not inherited, but SET ROLE needs no inheritance, and the
//! predefined roles' powers are inherited without SET ROLE (docs: Role Membership, Predefined
//! Roles). The walk counts every membership whatever its `inherit`/`set` options, so that what
//! the plan says does not hang on which option carries which power.

use super::{Attributes, RoleName};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A power that membership in a group can confer, named as `allow_escalation` spells it.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    /// A SUPERUSER role is reachable.
    Superuser,
    /// A BYPASSRLS role is reachable: row security policies no longer apply.
    Bypassrls,
    /// A REPLICATION role is reachable: streaming every table's data.
    Replication,
    /// `pg_read_server_files` or `pg_write_server_files`: the server's files as its OS user.
    ServerFiles,
    /// `pg_execute_server_program`: programs run on the server as its OS user.
    ServerProgram,
}

impl Escalation {
    /// The escalation a predefined role confers by its name (docs: Predefined Roles).
    fn of_predefined(name: &str) -> Option<Escalation> {
        match name {
            "pg_read_server_files" | "pg_write_server_files" => Some(Escalation::ServerFiles),
            "pg_execute_server_program" => Some(Escalation::ServerProgram),
            _ => None,
        }
    }

    /// Whether `allowed` (an `allow_escalation`) allows this. A superuser can do everything the
    /// others confer, so allowing `superuser` allows them all.
    pub(crate) fn allowed_by(self, allowed: &BTreeSet<Escalation>) -> bool {
        allowed.contains(&self) || allowed.contains(&Escalation::Superuser)
    }

    /// What a role's attributes confer: a superuser's are said as `superuser` alone, which is
    /// all of them.
    fn of_attributes(attributes: &Attributes) -> impl Iterator<Item = Escalation> {
        let superuser = attributes.superuser;
        [
            (Escalation::Superuser, superuser),
            (Escalation::Bypassrls, attributes.bypassrls && !superuser),
            (
                Escalation::Replication,
                attributes.replication && !superuser,
            ),
        ]
        .into_iter()
        .filter(|(_, has)| *has)
        .map(|(escalation, _)| escalation)
    }
}

impl std::fmt::Display for Escalation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Escalation::Superuser => "superuser",
            Escalation::Bypassrls => "bypassrls",
            Escalation::Replication => "replication",
            Escalation::ServerFiles => "server_files",
            Escalation::ServerProgram => "server_program",
        })
    }
}

/// One role as a walk sees it: its attributes when known, and the groups it is a member of.
pub struct Node<'a> {
    pub attributes: Option<&'a Attributes>,
    pub member_of: Vec<&'a RoleName>,
}

/// Every declared role's memberships checked in turn, over one graph: what a group confers is
/// walked once per group rather than once per member (a team's group has thousands), and a
/// role no role is a member of cannot be on a cycle, so it is not walked at all.
pub struct MembershipGraph<'a, F> {
    node: F,
    groups: BTreeSet<&'a RoleName>,
    conferred: BTreeMap<&'a RoleName, BTreeMap<Escalation, &'a RoleName>>,
}

impl<'a, F: Fn(&RoleName) -> Option<Node<'a>>> MembershipGraph<'a, F> {
    /// `groups`: every role that `node` may list as a member_of, or more.
    pub fn new(node: F, groups: impl IntoIterator<Item = &'a RoleName>) -> Self {
        MembershipGraph {
            node,
            groups: groups.into_iter().collect(),
            conferred: BTreeMap::new(),
        }
    }

    /// See [`conferred_by`].
    pub(crate) fn conferred_by(
        &mut self,
        group: &'a RoleName,
    ) -> &BTreeMap<Escalation, &'a RoleName> {
        let node = &self.node;
        self.conferred
            .entry(group)
            .or_insert_with(|| conferred_by(group, node))
    }

    /// See [`cycle_through`].
    pub(crate) fn cycle_through(&self, role: &'a RoleName) -> Option<Vec<&'a RoleName>> {
        if !self.groups.contains(role) {
            return None;
        }
        cycle_through(role, &self.node)
    }
}

/// What membership in `group` confers, each escalation with the role it comes from (`group`
/// itself or a group it is in). `node` describes a role, `None` when it is unknown.
pub(crate) fn conferred_by<'a>(
    group: &'a RoleName,
    node: impl Fn(&RoleName) -> Option<Node<'a>>,
) -> BTreeMap<Escalation, &'a RoleName> {
    let mut conferred = BTreeMap::new();
    let mut seen = BTreeSet::from([group]);
    let mut next = vec![group];
    while let Some(role) = next.pop() {
        let known = node(role);
        let from_attributes = known.as_ref().and_then(|n| n.attributes);
        let escalations = Escalation::of_predefined(role.as_str()).into_iter().chain(
            from_attributes
                .into_iter()
                .flat_map(Escalation::of_attributes),
        );
        for escalation in escalations {
            conferred.entry(escalation).or_insert(role);
        }
        for parent in known.into_iter().flat_map(|n| n.member_of) {
            if seen.insert(parent) {
                next.push(parent);
            }
        }
    }
    conferred
}

/// The memberships that lead from `role` back to it, `role` first and last
/// (`a -> b -> a`), or `None` when there is no such cycle.
pub(crate) fn cycle_through<'a>(
    role: &'a RoleName,
    node: impl Fn(&RoleName) -> Option<Node<'a>>,
) -> Option<Vec<&'a RoleName>> {
    // Breadth first, so that the shortest cycle is the one reported.
    let mut came_from: BTreeMap<&RoleName, &RoleName> = BTreeMap::new();
    let mut frontier = vec![role];
    while !frontier.is_empty() {
        let mut following = Vec::new();
        for from in frontier {
            for group in node(from).into_iter().flat_map(|n| n.member_of) {
                if group == role {
                    let mut path = vec![from];
                    let mut at = from;
                    while let Some(previous) = came_from.get(at) {
                        path.push(*previous);
                        at = previous;
                    }
                    path.reverse();
                    path.push(role);
                    return Some(path);
                }
                if !came_from.contains_key(group) {
                    came_from.insert(group, from);
                    following.push(group);
                }
            }
        }
        frontier = following;
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn name(n: &str) -> RoleName {
        RoleName::existing(n)
    }

    struct Graph(BTreeMap<RoleName, (Attributes, Vec<RoleName>)>);

    impl Graph {
        fn new(edges: &[(&str, &[&str])]) -> Graph {
            Graph(
                edges
                    .iter()
                    .map(|(role, groups)| {
                        let groups = groups.iter().map(|g| name(g)).collect();
                        (name(role), (Attributes::default(), groups))
                    })
                    .collect(),
            )
        }

        fn node(&self, role: &RoleName) -> Option<Node<'_>> {
            self.0.get(role).map(|(attributes, groups)| Node {
                attributes: Some(attributes),
                member_of: groups.iter().collect(),
            })
        }
    }

    #[test]
    fn escalation_is_found_through_groups_and_predefined_role_names() {
        let mut graph = Graph::new(&[
            ("ops", &["admins"]),
            ("admins", &["pg_read_server_files"]),
            ("app_rw", &[]),
        ]);
        if let Some((attributes, _)) = graph.0.get_mut(&name("admins")) {
            attributes.bypassrls = true;
        }
        let ops = name("ops");
        let conferred = conferred_by(&ops, |r| graph.node(r));
        let names: Vec<(String, &str)> = conferred
            .iter()
            .map(|(e, from)| (e.to_string(), from.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("bypassrls".to_string(), "admins"),
                ("server_files".to_string(), "pg_read_server_files"),
            ]
        );
        let all = BTreeSet::from([Escalation::Superuser]);
        assert!(conferred.keys().all(|e| e.allowed_by(&all)));
        let files = BTreeSet::from([Escalation::ServerFiles]);
        assert!(!Escalation::Bypassrls.allowed_by(&files));
        let app_rw = name("app_rw");
        assert!(conferred_by(&app_rw, |r| graph.node(r)).is_empty());
        // A group nobody knows confers what its name does, and nothing else.
        let program = name("pg_execute_server_program");
        assert_eq!(
            conferred_by(&program, |_| None).keys().collect::<Vec<_>>(),
            [&Escalation::ServerProgram]
        );
    }

    #[test]
    fn a_cycle_is_reported_as_the_shortest_path_back() {
        let graph = Graph::new(&[
            ("a", &["b", "x"]),
            ("b", &["c"]),
            ("c", &["a"]),
            ("x", &[]),
            ("self", &["self"]),
        ]);
        let path = |role: &str| {
            let role = name(role);
            cycle_through(&role, |r| graph.node(r))
                .map(|p| p.iter().map(|r| r.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(path("a").unwrap(), ["a", "b", "c", "a"]);
        assert_eq!(path("self").unwrap(), ["self", "self"]);
        assert_eq!(path("x"), None);
    }
}
