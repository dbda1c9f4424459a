//! `--compact`: a role's changes counted by kind on one line (`1 attribute, 2 memberships,
//! 5 grants`), for plans too long to read change by change. The signs are the text plan's.

use super::text::change_lines;
use crate::plan::{Change, RoleAction, RolePlan};
use std::collections::BTreeMap;

/// What a change is about, in the order the counts are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Attribute,
    Password,
    Comment,
    Membership,
    Setting,
    Grant,
    DefaultPrivilege,
    DropStep,
}

impl Kind {
    fn noun(self, count: usize) -> &'static str {
        let (one, many) = match self {
            Kind::Attribute => ("attribute", "attributes"),
            Kind::Password => ("password", "passwords"),
            Kind::Comment => ("comment", "comments"),
            Kind::Membership => ("membership", "memberships"),
            Kind::Setting => ("setting", "settings"),
            Kind::Grant => ("grant", "grants"),
            Kind::DefaultPrivilege => ("default privilege", "default privileges"),
            Kind::DropStep => ("drop step", "drop steps"),
        };
        if count == 1 {
            one
        } else {
            many
        }
    }
}

/// `role "x"`'s changes counted: `1 attribute, 2 memberships (1 added, 1 removed), 5 grants`.
/// A kind's breakdown by sign is written only when it differs from the role's own sign.
pub(crate) fn role_counts(role: &RolePlan) -> String {
    let sign = match role.action {
        RoleAction::Create => '+',
        RoleAction::Update | RoleAction::Adopt => '~',
        RoleAction::Destroy => '-',
    };
    counts_with_sign(role.changes.iter(), sign)
}

/// The changes under a `~` heading (PUBLIC in a database) counted as [`role_counts`] does.
pub(crate) fn counts(changes: &[&Change]) -> String {
    counts_with_sign(changes.iter().copied(), '~')
}

fn counts_with_sign<'a>(changes: impl Iterator<Item = &'a Change>, heading_sign: char) -> String {
    // Per kind, how many changes of each sign (`+`, `~`, `-`).
    let mut by_kind: BTreeMap<Kind, BTreeMap<char, usize>> = BTreeMap::new();
    for change in changes {
        for (kind, sign, count) in counted(change) {
            *by_kind.entry(kind).or_default().entry(sign).or_default() += count;
        }
    }
    if by_kind.is_empty() {
        return "no changes".to_string();
    }
    let parts: Vec<String> = by_kind
        .into_iter()
        .map(|(kind, signs)| {
            let total: usize = signs.values().sum();
            let mut part = format!("{total} {}", kind.noun(total));
            if signs.keys().any(|s| *s != heading_sign) {
                let breakdown: Vec<String> = ['+', '~', '-']
                    .iter()
                    .filter_map(|s| signs.get(s).map(|n| format!("{n} {}", verb(*s))))
                    .collect();
                part.push_str(&format!(" ({})", breakdown.join(", ")));
            }
            part
        })
        .collect();
    parts.join(", ")
}

fn verb(sign: char) -> &'static str {
    match sign {
        '+' => "added",
        '-' => "removed",
        _ => "changed",
    }
}

/// A change as (kind, sign, count) entries: each line the text plan writes for it with a sign
/// of its own counts once (a revoke's cascade lines belong to it and are not counted), so the
/// counts and the full plan cannot disagree.
fn counted(change: &Change) -> Vec<(Kind, char, usize)> {
    let kind = match change {
        Change::CreateRole { .. } | Change::AlterAttributes { .. } => Kind::Attribute,
        Change::ResetPassword { .. } => Kind::Password,
        Change::SetMarker { .. } => Kind::Comment,
        Change::GrantMembership { .. }
        | Change::RevokeMembership { .. }
        | Change::RevokeMembershipAdmin { .. } => Kind::Membership,
        Change::SetSetting { .. } | Change::ResetSetting { .. } => Kind::Setting,
        Change::Grant { .. } | Change::Revoke { .. } => Kind::Grant,
        Change::GrantDefault { .. } | Change::RevokeDefault { .. } => Kind::DefaultPrivilege,
        Change::PrepareDrop { .. }
        | Change::EndSessions
        | Change::DropOwned { .. }
        | Change::DropRole => Kind::DropStep,
    };
    let has_password = matches!(
        change,
        Change::CreateRole {
            password: Some(_),
            ..
        }
    );
    let lines = change_lines(change);
    let mut signed: Vec<char> = lines
        .iter()
        .filter_map(|line| line.chars().next())
        .filter(|sign| !sign.is_whitespace())
        .collect();
    let mut entries = Vec::new();
    // `CREATE ROLE`'s last line is its password, counted as such.
    if has_password {
        if let Some(sign) = signed.pop() {
            entries.push((Kind::Password, sign, 1));
        }
    }
    entries.extend(signed.into_iter().map(|sign| (kind, sign, 1)));
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    #[test]
    fn each_role_is_one_line_of_counts() {
        let plan = fixture::plan();
        let lines: Vec<String> = plan.clusters[0]
            .roles
            .iter()
            .map(|role| format!("{}: {}", role.role, role_counts(role)))
            .collect();
        insta::assert_snapshot!("role_counts", lines.join("\n"));
    }

    #[test]
    fn counts_add_up_to_the_signed_lines_of_the_full_plan() {
        let plan = fixture::plan();
        for role in &plan.clusters[0].roles {
            let signed_lines: usize = role
                .changes
                .iter()
                .flat_map(change_lines)
                .filter(|l| !l.starts_with(' '))
                .count();
            let counted: usize = role
                .changes
                .iter()
                .flat_map(counted)
                .map(|(_, _, n)| n)
                .sum();
            assert_eq!(signed_lines, counted, "{}", role.role);
        }
    }
}
