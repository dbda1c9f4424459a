//! `pgroster reset`: the one-change plan of an immediate password reset, and the roles it
//! refuses. Pure, like the diff: the caller reads the cluster.

use super::{Change, ClusterPlan, PasswordSource, Plan, RoleAction, RolePlan};
use crate::model::{ClusterKey, CurrentCluster, RoleName, TargetName};
use crate::registry::NameGlob;

/// Why a role's password is not reset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResetError {
    #[error("role \"{role}\" matches ignore_roles pattern `{pattern}`; pgroster never touches it")]
    Ignored { role: RoleName, pattern: String },
    #[error("role \"{role}\" does not exist on {cluster} (target {target})")]
    Missing {
        role: RoleName,
        cluster: ClusterKey,
        target: TargetName,
    },
    #[error("role \"{role}\" on {cluster} is not managed by pgroster; declare it first")]
    Unmanaged { role: RoleName, cluster: ClusterKey },
    #[error("role \"{role}\" cannot log in (NOLOGIN); it has no use for a password")]
    NoLogin { role: RoleName },
}

/// Refuses a role that `ignore_roles` covers; checked before any cluster is read.
pub fn refuse_ignored(role: &RoleName, ignore_roles: &[NameGlob]) -> Result<(), ResetError> {
    match ignore_roles.iter().find(|g| g.matches(role.as_str())) {
        Some(glob) => Err(ResetError::Ignored {
            role: role.clone(),
            pattern: glob.text.clone(),
        }),
        None => Ok(()),
    }
}

/// The plan that gives `role` a new generated password on `cluster`, run as any planned reset
/// is (audited, under the lock). The role must exist, log in, and be managed or `declared`.
pub fn reset_plan(
    role: &RoleName,
    target: &TargetName,
    cluster: &ClusterKey,
    cluster_name: &str,
    current: &CurrentCluster,
    declared: bool,
) -> Result<Plan, ResetError> {
    let Some(existing) = current.roles.get(role) else {
        return Err(ResetError::Missing {
            role: role.clone(),
            cluster: cluster.clone(),
            target: target.clone(),
        });
    };
    if !existing.is_managed() && !declared {
        return Err(ResetError::Unmanaged {
            role: role.clone(),
            cluster: cluster.clone(),
        });
    }
    if !existing.attributes.login {
        return Err(ResetError::NoLogin { role: role.clone() });
    }
    let reset = ClusterPlan {
        cluster: cluster.clone(),
        name: cluster_name.to_string(),
        targets: vec![target.clone()],
        server_version_num: Some(current.server_version_num),
        roles: vec![RolePlan {
            role: role.clone(),
            action: RoleAction::Update,
            profile: None,
            targets: vec![target.clone()],
            changes: vec![Change::ResetPassword {
                password: PasswordSource::Generated,
                from_rotation: None,
                to_rotation: None,
            }],
        }],
        public: Vec::new(),
        notes: Vec::new(),
        unmanaged: Vec::new(),
        expiring: Vec::new(),
        errors: Vec::new(),
    };
    Ok(Plan::new(vec![reset], Vec::new(), Vec::new()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{Attributes, CurrentRole};

    fn role(name: &str, login: bool, comment: Option<&str>) -> CurrentRole {
        CurrentRole {
            attributes: Attributes {
                login,
                ..Attributes::default()
            },
            comment: comment.map(str::to_string),
            ..CurrentRole::bare(name)
        }
    }

    fn cluster() -> (ClusterKey, TargetName, CurrentCluster) {
        let current = CurrentCluster {
            databases: ["app".to_string()].into(),
            ..CurrentCluster::bare(
                150000,
                "admin",
                [
                    role("managed", true, Some("managed by pgroster; profile=devqa")),
                    role("by_hand", true, None),
                    role("group", false, Some("managed by pgroster")),
                ],
            )
        };
        let key = ClusterKey {
            host: "pg".into(),
            port: 5432,
        };
        let target = TargetName {
            env: "dev".into(),
            database: "app".into(),
        };
        (key, target, current)
    }

    #[test]
    fn a_managed_login_role_gets_one_generated_password_and_nothing_else() {
        let (key, target, current) = cluster();
        let role = RoleName::existing("managed");
        let plan = reset_plan(&role, &target, &key, "pg:5432", &current, false).unwrap();
        assert_eq!(plan.summary.change, 1);
        let roles = &plan.clusters[0].roles;
        assert_eq!(roles.len(), 1);
        assert_eq!(
            roles[0].changes,
            [Change::ResetPassword {
                password: PasswordSource::Generated,
                from_rotation: None,
                to_rotation: None,
            }]
        );
    }

    #[test]
    fn a_declared_role_is_reset_before_it_carries_the_marker() {
        let (key, target, current) = cluster();
        let role = RoleName::existing("by_hand");
        assert!(reset_plan(&role, &target, &key, "pg:5432", &current, true).is_ok());
        let refused = reset_plan(&role, &target, &key, "pg:5432", &current, false).unwrap_err();
        assert!(matches!(refused, ResetError::Unmanaged { .. }), "{refused}");
    }

    #[test]
    fn missing_nologin_and_ignored_roles_are_refused() {
        let (key, target, current) = cluster();
        let missing = RoleName::existing("nobody");
        let err = reset_plan(&missing, &target, &key, "pg:5432", &current, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "role \"nobody\" does not exist on pg:5432 (target dev/app)"
        );
        let group = RoleName::existing("group");
        let err = reset_plan(&group, &target, &key, "pg:5432", &current, true).unwrap_err();
        assert!(matches!(err, ResetError::NoLogin { .. }), "{err}");
        let ignore = [NameGlob::new("pg_*").unwrap()];
        assert!(refuse_ignored(&RoleName::existing("pg_monitor"), &ignore).is_err());
        assert!(refuse_ignored(&RoleName::existing("managed"), &ignore).is_ok());
    }
}
