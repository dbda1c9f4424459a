//! The plan: desired x current -> typed changes. Pure: no network, files, env or clock.
//!
//! The plan is a value: `plan` renders it, `apply` executes the same value.

mod cascade;
mod diff;
mod drops;
mod error;
mod memberships;
mod order;
mod policy;
pub(crate) mod privileges;
mod public;
pub mod reset;

pub(crate) use diff::{diff_cluster, DiffInput};
pub use error::{DropRefusal, PlanError, PrivilegeError};
pub(crate) use order::phase;
pub use order::Phase;

use crate::model::policy::{Mode, UnmanagedRoles};
use crate::model::privileges::{ObjectKind, ObjectRef};
use crate::model::{
    AttributeChange, Attributes, ClusterKey, Escalation, MembershipOptions, RoleName, SettingScope,
    TargetName,
};
use serde::{Deserialize, Serialize};

/// Where a password comes from; never the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum PasswordSource {
    Generated,
    Env { var: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum Change {
    /// `CREATE ROLE` with every attribute, and the password when there is one.
    CreateRole {
        attributes: Attributes,
        password: Option<PasswordSource>,
    },
    AlterAttributes {
        changes: Vec<AttributeChange>,
    },
    /// A new password because the rotation key changed.
    ResetPassword {
        password: PasswordSource,
        from_rotation: Option<String>,
        to_rotation: Option<String>,
    },
    /// The marker comment that records that pgroster manages the role.
    SetMarker {
        from: Option<String>,
        to: String,
    },
    /// A new membership, or new options for an existing one (`from`).
    GrantMembership {
        group: RoleName,
        options: MembershipOptions,
        from: Option<MembershipOptions>,
        /// What the membership confers beyond the group's privileges, directly or through the
        /// groups it is in; the cluster has a plan error for what `allow_escalation` does not
        /// allow.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        escalation: Vec<Escalation>,
        /// On PostgreSQL 16+, the grantor whose grant this changes (`GRANTED BY`): a
        /// membership has one grant per grantor, and a statement reaches only the one it names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        granted_by: Option<RoleName>,
    },
    /// Takes back the ADMIN OPTION of a membership that stays.
    RevokeMembershipAdmin {
        group: RoleName,
        /// On PostgreSQL 16+, the grantor whose grant this changes (`GRANTED BY`): a
        /// membership has one grant per grantor, and a statement reaches only the one it names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        granted_by: Option<RoleName>,
        /// On PostgreSQL 16+, the grants the role made with the ADMIN OPTION taken here, which
        /// the server removes with it (`CASCADE`, see `cascade.rs`); empty when there are none.
        /// A declared member among them is granted the membership again, earlier in the same
        /// transaction.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cascade: Vec<DependentMembership>,
    },
    RevokeMembership {
        group: RoleName,
        /// On PostgreSQL 16+, the grantor whose grant this changes (`GRANTED BY`): a
        /// membership has one grant per grantor, and a statement reaches only the one it names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        granted_by: Option<RoleName>,
        /// On PostgreSQL 16+, the grants the role made with the ADMIN OPTION of this
        /// membership, which the server removes with it (`CASCADE`, see `cascade.rs`); empty
        /// when there are none. A declared member among them is granted the membership again,
        /// earlier in the same transaction.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cascade: Vec<DependentMembership>,
    },
    SetSetting {
        scope: SettingScope,
        name: String,
        from: Option<String>,
        to: String,
    },
    ResetSetting {
        scope: SettingScope,
        name: String,
        from: String,
    },
    /// Privileges on objects of one database; runs over that database's connection.
    Grant {
        database: String,
        kind: ObjectKind,
        objects: GrantObjects,
        privileges: Vec<String>,
        /// `WITH GRANT OPTION`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        grant_option: bool,
    },
    Revoke {
        database: String,
        kind: ObjectKind,
        objects: GrantObjects,
        privileges: Vec<String>,
        granted_by: RoleName,
        /// `REVOKE GRANT OPTION FOR`: the privileges stay, the right to pass them on goes.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        grant_option_only: bool,
        /// Grants that hang from the grant option this takes away (the role passed the
        /// privilege on): `CASCADE` removes them too. A managed role among them that declares
        /// the privilege gets it again from the owner, earlier in the same transaction.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cascade: Vec<DependentGrant>,
    },
    /// Default privileges for objects `owner` creates later (`ALTER DEFAULT PRIVILEGES`).
    GrantDefault {
        database: String,
        owner: RoleName,
        schema: Option<String>,
        kind: ObjectKind,
        privileges: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        grant_option: bool,
    },
    RevokeDefault {
        database: String,
        owner: RoleName,
        schema: Option<String>,
        kind: ObjectKind,
        privileges: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        grant_option_only: bool,
    },
    /// A drop's first step, committed with the cluster's role changes: the role can no longer
    /// log in, and the admin gets its privileges to clean up after it (REASSIGN and DROP OWNED
    /// need them) when it lacks them.
    PrepareDrop {
        disable_login: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grant_to_admin: Option<RoleName>,
    },
    /// Ends the role's sessions, right after the role changes committed.
    EndSessions,
    /// In one database: what the role owns goes to `reassign_to` (REASSIGN OWNED), then its
    /// privileges there, and on shared objects, go (DROP OWNED).
    DropOwned {
        database: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reassign_to: Option<RoleName>,
        /// Objects it owns there (shared objects, such as databases, counted in the first).
        owned: i64,
        /// Privileges it holds or granted there, and policies naming it.
        privileges: i64,
        /// Whether the database is in the registry.
        registered: bool,
    },
    /// The last step, after every database was cleaned.
    DropRole,
}

/// A membership grant that another grant's ADMIN OPTION made possible: `grantor` passed
/// `group` on to `member` (directly, or down a chain of such grants). A revoke that takes that
/// option away on PostgreSQL 16+ removes it too.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct DependentMembership {
    pub member: RoleName,
    pub group: RoleName,
    pub grantor: RoleName,
}

/// A grant made by a role with its grant option, removed with that option.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct DependentGrant {
    /// `public` for PUBLIC (a reserved name: no role has it).
    pub grantee: RoleName,
    pub object: ObjectRef,
    pub privilege: String,
    pub grantor: RoleName,
}

/// The objects a grant or revoke names.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case", tag = "scope")]
pub enum GrantObjects {
    /// Every object of the kind in the schema (`ON ALL TABLES IN SCHEMA`).
    AllInSchema {
        schema: String,
    },
    Objects {
        objects: Vec<ObjectRef>,
    },
}

impl Change {
    /// The audit log's name for this kind of change.
    pub(crate) fn action_name(&self) -> &'static str {
        match self {
            Change::CreateRole { .. } => "create_role",
            Change::AlterAttributes { .. } => "alter_role",
            Change::ResetPassword { .. } => "reset_password",
            Change::SetMarker { .. } => "set_marker",
            Change::GrantMembership { .. } => "grant_membership",
            Change::RevokeMembership { .. } => "revoke_membership",
            Change::RevokeMembershipAdmin { .. } => "revoke_membership_admin",
            Change::SetSetting { .. } => "set_setting",
            Change::ResetSetting { .. } => "reset_setting",
            Change::Grant { .. } => "grant",
            Change::Revoke { .. } => "revoke",
            Change::GrantDefault { .. } => "grant_default",
            Change::RevokeDefault { .. } => "revoke_default",
            Change::PrepareDrop { .. } => "prepare_drop",
            Change::EndSessions => "end_sessions",
            Change::DropOwned { .. } => "drop_owned",
            Change::DropRole => "drop_role",
        }
    }

    /// The database whose connection runs this change; `None` for cluster-wide role changes.
    pub fn database(&self) -> Option<&str> {
        match self {
            Change::Grant { database, .. }
            | Change::Revoke { database, .. }
            | Change::GrantDefault { database, .. }
            | Change::RevokeDefault { database, .. }
            | Change::DropOwned { database, .. } => Some(database),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleAction {
    Create,
    Update,
    /// An existing role pgroster did not manage until now.
    Adopt,
    /// A managed role no config declares on the cluster any more: dropped.
    Destroy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RolePlan {
    pub role: RoleName,
    pub action: RoleAction,
    pub profile: Option<String>,
    pub targets: Vec<TargetName>,
    pub changes: Vec<Change>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClusterPlan {
    pub cluster: ClusterKey,
    /// What the registry calls the cluster: its `cluster` key, else `host:port`.
    #[serde(default)]
    pub name: String,
    pub targets: Vec<TargetName>,
    pub server_version_num: Option<i32>,
    pub roles: Vec<RolePlan>,
    /// Revokes from PUBLIC (`Revoke`, `RevokeDefault`) under `settings.public_privileges`, each
    /// in its database's transaction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public: Vec<Change>,
    /// Facts the reader should know that change nothing.
    pub notes: Vec<String>,
    /// Roles on the cluster that are neither declared, managed by pgroster nor ignored: made
    /// by hand (`unmanaged_roles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmanaged: Vec<UnmanagedRole>,
    /// Declared roles whose `valid_until` has passed or falls within `expiry_warning`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expiring: Vec<ExpiringRole>,
    /// Why this cluster cannot be planned or applied; its changes are not run.
    pub errors: Vec<PlanError>,
}

impl ClusterPlan {
    /// What the cluster's changes count as: each role created, changed (adopted too) or
    /// dropped once, and PUBLIC as changed once in each database where it loses privileges.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for role in &self.roles {
            match role.action {
                RoleAction::Create => summary.add += 1,
                RoleAction::Update | RoleAction::Adopt => summary.change += 1,
                RoleAction::Destroy => summary.destroy += 1,
            }
        }
        let databases: std::collections::BTreeSet<_> =
            self.public.iter().filter_map(Change::database).collect();
        summary.change += databases.len();
        summary
    }

    /// How output names the cluster: its registry name, with its address when the two differ
    /// (`eu-1 (10.0.0.7:5432)`), so that both the fleet's vocabulary and the server show.
    pub fn label(&self) -> String {
        let address = self.cluster.to_string();
        if self.name.is_empty() || self.name == address {
            address
        } else {
            format!("{} ({address})", self.name)
        }
    }
}

/// A role nobody declared, with what makes it dangerous.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnmanagedRole {
    pub role: RoleName,
    /// Its powerful attributes: SUPERUSER, BYPASSRLS, REPLICATION, CREATEROLE, CREATEDB, LOGIN.
    pub attributes: Vec<String>,
    /// The predefined `pg_*` roles it is a member of.
    pub predefined: Vec<RoleName>,
}

/// A declared role whose access ends soon, or has ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExpiringRole {
    pub role: RoleName,
    /// `YYYY-MM-DDTHH:MM:SSZ`, or `-infinity`.
    pub valid_until: String,
    pub expired: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// `additive`: nothing is revoked, dropped or reset.
    pub mode: Mode,
    /// `drift`: an unmanaged role counts as a change.
    pub unmanaged_roles: UnmanagedRoles,
    pub clusters: Vec<ClusterPlan>,
    /// Inactive registry entries in scope: skipped, said once.
    pub inactive_targets: Vec<RegistryTarget>,
    /// Roles not planned because their targets are inactive.
    pub skipped_roles: Vec<SkippedRole>,
    pub summary: Summary,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SkippedRole {
    pub role: RoleName,
    pub target: RegistryTarget,
}

/// A registry entry as a command line picks it: `env/database@cluster`, for a fleet in which
/// `env/database` is on several clusters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegistryTarget {
    #[serde(flatten)]
    pub target: TargetName,
    /// The registry's name for the cluster (see `ClusterPlan::name`).
    pub cluster: String,
}

impl std::fmt::Display for RegistryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.target, self.cluster)
    }
}

impl Plan {
    pub fn new(
        clusters: Vec<ClusterPlan>,
        inactive_targets: Vec<RegistryTarget>,
        skipped_roles: Vec<SkippedRole>,
    ) -> Plan {
        let mut summary = Summary::default();
        for cluster in &clusters {
            let counted = cluster.summary();
            summary.add += counted.add;
            summary.change += counted.change;
            summary.destroy += counted.destroy;
        }
        Plan {
            mode: Mode::default(),
            unmanaged_roles: UnmanagedRoles::default(),
            clusters,
            inactive_targets,
            skipped_roles,
            summary,
        }
    }

    /// The plan under `policy`: its mode and how unmanaged roles count are said in it (the
    /// clusters were planned with the same policy).
    pub(crate) fn with_policy(mut self, policy: &crate::model::policy::PlanPolicy) -> Plan {
        self.mode = policy.mode;
        self.unmanaged_roles = policy.unmanaged_roles;
        self
    }

    pub fn has_changes(&self) -> bool {
        self.clusters
            .iter()
            .any(|c| !c.roles.is_empty() || !c.public.is_empty())
    }

    /// Whether `plan --detailed-exitcode` reports drift: changes, or unmanaged roles when
    /// they count (`unmanaged_roles = "drift"`).
    pub fn has_drift(&self) -> bool {
        self.has_changes()
            || (self.unmanaged_roles == UnmanagedRoles::Drift
                && self.clusters.iter().any(|c| !c.unmanaged.is_empty()))
    }

    /// The clusters where the plan drops more than `max` roles, with how many: apply refuses
    /// them unless told otherwise (`max_destroy`), since a renamed or deleted file must not
    /// wipe a cluster.
    pub fn destroys_beyond(&self, max: usize) -> Vec<(ClusterKey, usize)> {
        self.clusters
            .iter()
            .map(|c| {
                let drops = c
                    .roles
                    .iter()
                    .filter(|r| r.action == RoleAction::Destroy)
                    .count();
                (c.cluster.clone(), drops)
            })
            .filter(|(_, drops)| *drops > max)
            .collect()
    }

    pub fn has_errors(&self) -> bool {
        self.clusters.iter().any(|c| !c.errors.is_empty())
    }
}
