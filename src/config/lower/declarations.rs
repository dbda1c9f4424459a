//! One cluster's role instances -> one role per name. A role declared twice (or once for
//! several databases of the cluster) merges when the declarations agree; where they disagree
//! the error names both places.

use super::super::error::ConfigError;
use super::super::{Config, Origin};
use crate::model::{Attributes, ClusterKey, DesiredRole, RoleMap, SettingScope};

/// Where two declarations of one role on one cluster disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Disagreement {
    /// Each differing attribute as `name first vs second`.
    #[error("{}", .0.join(", "))]
    Attributes(Vec<String>),
    #[error("member_of differs")]
    MemberOf,
    #[error("allow_escalation differs")]
    AllowEscalation,
    #[error("grants differ")]
    Grants,
    #[error("password differs")]
    Password,
    #[error("profile {} vs {}", .0.as_deref().unwrap_or("(none)"), .1.as_deref().unwrap_or("(none)"))]
    Profile(Option<String>, Option<String>),
    #[error("setting {name} in {scope}: `{first}` vs `{second}`")]
    Setting {
        name: String,
        scope: SettingScope,
        first: String,
        second: String,
    },
}

/// Merges `roles`, one cluster's instances, by name. Sorted and merged in place rather than
/// collected into a map role by role, which holds every instance twice. Returns each role's
/// first declaration too, in the map's order.
pub(super) fn merge_declarations<'o>(
    config: &Config,
    cluster: &ClusterKey,
    mut roles: Vec<(DesiredRole, &'o Origin)>,
    errors: &mut Vec<ConfigError>,
) -> (RoleMap<DesiredRole>, Vec<&'o Origin>) {
    // By name, then in declaration order, so that "first" is the one declared first. The
    // instances of one declaration differ only in what merging adds up.
    roles.sort_unstable_by(|(a, a_origin), (b, b_origin)| {
        a.name
            .cmp(&b.name)
            .then(a_origin.order().cmp(&b_origin.order()))
    });
    roles.dedup_by(|(later, later_origin), (first, first_origin)| {
        if later.name != first.name {
            return false;
        }
        if let Err(why) = merge_role(first, later) {
            errors.push(ConfigError {
                location: config.location(later_origin, None),
                message: format!(
                    "role `{}` is declared twice on cluster {cluster} and the declarations disagree ({why}); \
                     other declaration at {}",
                    first.name,
                    config.location(first_origin, None),
                ),
            });
        }
        true
    });
    let origins = roles.iter().map(|(_, origin)| *origin).collect();
    // Collected in place, into the buffer the instances held: `unzip` would hold both.
    let roles = roles.into_iter().map(|(role, _)| role).collect();
    (RoleMap::from_vec(roles), origins)
}

/// Adds `other`'s targets and settings to `existing`, the same role declared again.
fn merge_role(existing: &mut DesiredRole, other: &mut DesiredRole) -> Result<(), Disagreement> {
    if existing.attributes != other.attributes {
        return Err(Disagreement::Attributes(differences(
            &existing.attributes,
            &other.attributes,
        )));
    }
    if existing.member_of != other.member_of {
        return Err(Disagreement::MemberOf);
    }
    if existing.allow_escalation != other.allow_escalation {
        return Err(Disagreement::AllowEscalation);
    }
    if existing.grants != other.grants {
        return Err(Disagreement::Grants);
    }
    if existing.password != other.password {
        return Err(Disagreement::Password);
    }
    if existing.profile != other.profile {
        return Err(Disagreement::Profile(
            existing.profile.clone(),
            other.profile.clone(),
        ));
    }
    for (scope, values) in std::mem::take(&mut other.settings) {
        let slot = existing.settings.entry(scope.clone()).or_default();
        for (name, value) in values {
            match slot.get(&name) {
                Some(first) if *first != value => {
                    return Err(Disagreement::Setting {
                        name,
                        scope,
                        first: first.clone(),
                        second: value,
                    });
                }
                _ => {
                    slot.insert(name, value);
                }
            }
        }
    }
    existing.targets.append(&mut other.targets);
    existing.targets.sort();
    existing.targets.dedup();
    Ok(())
}

fn differences(a: &Attributes, b: &Attributes) -> Vec<String> {
    a.diff(b)
        .iter()
        .map(|c| format!("{} {} vs {}", c.attribute, c.from, c.to))
        .collect()
}
