//! Why a cluster cannot be planned or applied: each error names the object at fault and has a
//! stable `code` for machines (`plan --format json`).

use crate::model::privileges::{ObjectKind, ObjectRef};
use crate::model::{ClusterKey, Escalation, RoleName, SourceAt, TargetName};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum PlanError {
    #[error("targets {}: {reason}", join(.targets))]
    ClusterUnreadable {
        targets: Vec<TargetName>,
        reason: String,
    },
    #[error(
        "targets {}: {cluster} and {other} (targets {}) are two registry addresses of one \
         PostgreSQL server, whose roles would be planned twice; neither is planned until the \
         server is registered under one host and port",
        join(.targets), join(.other_targets)
    )]
    SameServer {
        cluster: ClusterKey,
        targets: Vec<TargetName>,
        other: ClusterKey,
        other_targets: Vec<TargetName>,
    },
    #[error("the admin role \"{admin}\" has neither SUPERUSER nor CREATEROLE, so it cannot manage roles")]
    AdminCannotManageRoles { admin: String },
    #[error("target {target}: database \"{}\" does not exist on this cluster", .target.database)]
    MissingDatabase { target: TargetName },
    #[error("role \"{role}\": the privileges of database {database} could not be read")]
    PrivilegesUnread { role: RoleName, database: String },
    #[error("role \"{role}\" is managed by pgroster and no longer declared, but cannot be dropped: {reason}")]
    DropRefused { role: RoleName, reason: DropRefusal },
    #[error("{}role \"{role}\": member_of \"{group}\", which neither exists on this cluster nor is declared for it", at_prefix(.at))]
    UnknownGroup {
        role: RoleName,
        group: RoleName,
        /// Where the role's `member_of` was written.
        at: Option<SourceAt>,
    },
    #[error(
        "{}role \"{role}\": member_of \"{group}\" confers {}, which the role's allow_escalation \
         does not allow; add them to allow_escalation (on the role or its profile) if this is meant",
        at_prefix(.at),
        conferred_text(.conferred)
    )]
    Escalation {
        role: RoleName,
        group: RoleName,
        /// Each escalation not allowed, with the role it comes from.
        conferred: Vec<(Escalation, RoleName)>,
        at: Option<SourceAt>,
    },
    #[error(
        "{}role \"{role}\": its memberships lead back to it ({}); PostgreSQL refuses a membership cycle",
        at_prefix(.at),
        quoted(.path, " -> ")
    )]
    MembershipCycle {
        role: RoleName,
        /// From the role back to it, through the cluster's memberships once the plan has run.
        path: Vec<RoleName>,
        at: Option<SourceAt>,
    },
    #[error(
        "role \"{role}\": the admin role \"{admin}\" may not grant or revoke membership in \"{group}\" \
         (it needs ADMIN OPTION on \"{group}\"; a superuser must grant it)"
    )]
    MembershipNeedsAdminOption {
        role: RoleName,
        admin: String,
        group: RoleName,
    },
    #[error(
        "role \"{role}\": its membership in \"{group}\" was granted by \"{grantor}\", and only that \
         grantor's grant can be revoked or changed (GRANTED BY); the admin role \"{admin}\" may not \
         act as \"{grantor}\" (it needs to be a member of it with INHERIT and SET, or a superuser)"
    )]
    MembershipGrantorNotActable {
        role: RoleName,
        admin: String,
        group: RoleName,
        grantor: RoleName,
    },
    #[error(
        "role \"{role}\": member_of \"{group}\", a superuser role: only a superuser may grant or \
         revoke membership in it, and the admin role \"{admin}\" is not one"
    )]
    MembershipInSuperuser {
        role: RoleName,
        admin: String,
        group: RoleName,
    },
    #[error(
        "role \"{role}\": setting `{name}` is not one this server knows{}",
        .suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownSetting {
        role: RoleName,
        name: String,
        suggestion: Option<String>,
    },
    #[error("role \"{role}\" needs {} but the admin role \"{admin}\" is not a superuser", .attributes.join(", "))]
    NeedsSuperuser {
        role: RoleName,
        attributes: Vec<&'static str>,
        admin: String,
    },
    #[error(
        "role \"{role}\" exists but the admin role \"{admin}\" may not alter it \
         (PostgreSQL 16+ requires ADMIN OPTION on the role; a superuser must grant it)"
    )]
    CannotAlterRole { role: RoleName, admin: String },
    #[error(
        "role \"{role}\" exists and is a superuser: only a superuser may alter it, and the admin \
         role \"{admin}\" is not one (run as a superuser admin, or stop declaring the role)"
    )]
    CannotAlterSuperuser { role: RoleName, admin: String },
    #[error("role \"{role}\": {error}")]
    Privilege {
        role: RoleName,
        error: PrivilegeError,
    },
    /// What the admin cannot do for `public_privileges`.
    #[error("PUBLIC (settings.public_privileges): {error}")]
    Public { error: PrivilegeError },
    /// An error of a plan read back from a saved plan file, which keeps only what the JSON
    /// plan prints: its code and message.
    #[error("{message}")]
    Saved { code: String, message: String },
}

/// Why a role that is no longer declared cannot be dropped (its `PlanError::DropRefused` names
/// the role).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum DropRefusal {
    #[error(
        "the admin \"{admin}\" may not drop it ({})",
        if *.superuser {
            "it is a superuser; only a superuser admin may drop it"
        } else {
            "from PostgreSQL 16 a CREATEROLE admin needs ADMIN OPTION on it"
        }
    )]
    AdminMayNotDrop { admin: RoleName, superuser: bool },
    #[error(
        "it owns {owned} object(s) and holds {privileges} privilege(s) in database {database}, \
         which does not accept connections"
    )]
    DatabaseClosed {
        database: String,
        owned: i64,
        privileges: i64,
    },
    #[error(
        "in database {database} it holds privileges granted by {}, which the admin cannot act \
         as, so DROP OWNED cannot revoke them; revoke them as a superuser first",
        quoted(.grantors, ", ")
    )]
    GrantorsNotActable {
        database: String,
        grantors: Vec<RoleName>,
    },
    #[error("reassign_owned_to names \"{successor}\", which does not exist on this cluster")]
    UnknownSuccessor { successor: RoleName },
    #[error(
        "its {owned} object(s) in database {database} would go to \"{successor}\", and the admin \
         cannot act as \"{successor}\" (REASSIGN OWNED needs its privileges); set \
         reassign_owned_to to a role the admin can act as"
    )]
    SuccessorNotActable {
        database: String,
        owned: i64,
        successor: RoleName,
    },
}

/// What this admin cannot do about one role's privileges in one database.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum PrivilegeError {
    #[error(
        "default privileges for future {} created by {owner}{} \
         (database {database}) need the admin to act as {owner} \
         (membership in {owner} with INHERIT and, from PostgreSQL 16, SET)",
        .kind.plural().to_ascii_lowercase(),
        in_schema(.schema)
    )]
    FutureOwnerNotActable {
        kind: ObjectKind,
        owner: RoleName,
        schema: Option<String>,
        database: String,
    },
    #[error(
        "cannot grant on {} {object} in database {database}: it is owned by {owner}, \
         and the admin cannot act as {owner} \
         (it needs membership in {owner} with INHERIT and, from PostgreSQL 16, SET)",
        .object.kind.noun()
    )]
    OwnerNotActable {
        object: ObjectRef,
        owner: RoleName,
        database: String,
    },
    #[error(
        "cannot revoke privileges granted by {grantor} in database {database}: \
         the admin cannot act as {grantor} \
         (it needs membership in {grantor} with INHERIT and, from PostgreSQL 16, SET)"
    )]
    GrantorNotActable { grantor: RoleName, database: String },
    #[error(
        "cannot revoke default privileges of {owner} in database {database}: \
         the admin cannot act as {owner} \
         (it needs membership in {owner} with INHERIT and, from PostgreSQL 16, SET)"
    )]
    DefaultsOwnerNotActable { owner: RoleName, database: String },
    #[error(
        "`future_owners` names {owner} for future {}{} (database {database}), \
         but no role {owner} exists or is declared on this cluster",
        .kind.plural().to_ascii_lowercase(),
        in_schema(.schema)
    )]
    UnknownFutureOwner {
        kind: ObjectKind,
        owner: RoleName,
        schema: Option<String>,
        database: String,
    },
    #[error(
        "default privileges on {} need PostgreSQL 18; the server of database {database} is {}.{}",
        .kind.plural().to_ascii_lowercase(),
        .server_version_num / 10000,
        .server_version_num % 10000
    )]
    DefaultsNotOnServer {
        kind: ObjectKind,
        server_version_num: i32,
        database: String,
    },
    #[error(
        "privilege {privilege} on {} does not exist on PostgreSQL {}.{} \
         (the server of database {database})",
        .kind.plural().to_ascii_lowercase(),
        .server_version_num / 10000,
        .server_version_num % 10000
    )]
    PrivilegeNotOnServer {
        privilege: String,
        kind: ObjectKind,
        server_version_num: i32,
        database: String,
    },
    #[error(
        "{} {object} does not exist in any target database ({databases}){}",
        .kind.noun(),
        .suggestion.as_ref().map(|s| format!("; did you mean {s}?")).unwrap_or_default()
    )]
    UnknownObject {
        kind: ObjectKind,
        object: String,
        databases: String,
        suggestion: Option<String>,
    },
}

impl PlanError {
    /// A stable identifier for scripts; the message may be reworded, the code is not.
    pub fn code(&self) -> &str {
        match self {
            PlanError::Saved { code, .. } => code,
            PlanError::ClusterUnreadable { .. } => "cluster_unreadable",
            PlanError::SameServer { .. } => "same_server",
            PlanError::AdminCannotManageRoles { .. } => "admin_cannot_manage_roles",
            PlanError::MissingDatabase { .. } => "missing_database",
            PlanError::PrivilegesUnread { .. } => "privileges_unread",
            PlanError::DropRefused { .. } => "drop_refused",
            PlanError::UnknownGroup { .. } => "unknown_group",
            PlanError::Escalation { .. } => "escalation_not_allowed",
            PlanError::MembershipCycle { .. } => "membership_cycle",
            PlanError::MembershipNeedsAdminOption { .. } => "membership_needs_admin_option",
            PlanError::MembershipGrantorNotActable { .. } => "membership_grantor_not_actable",
            PlanError::NeedsSuperuser { .. } => "needs_superuser",
            PlanError::CannotAlterRole { .. } => "cannot_alter_role",
            PlanError::CannotAlterSuperuser { .. } => "cannot_alter_superuser",
            PlanError::UnknownSetting { .. } => "unknown_setting",
            PlanError::MembershipInSuperuser { .. } => "membership_in_superuser",
            PlanError::Privilege { error, .. } | PlanError::Public { error } => match error {
                PrivilegeError::FutureOwnerNotActable { .. } => "future_owner_not_actable",
                PrivilegeError::OwnerNotActable { .. } => "owner_not_actable",
                PrivilegeError::GrantorNotActable { .. } => "grantor_not_actable",
                PrivilegeError::DefaultsOwnerNotActable { .. } => "defaults_owner_not_actable",
                PrivilegeError::UnknownFutureOwner { .. } => "unknown_future_owner",
                PrivilegeError::PrivilegeNotOnServer { .. } => "privilege_not_on_server",
                PrivilegeError::DefaultsNotOnServer { .. } => "defaults_not_on_server",
                PrivilegeError::UnknownObject { .. } => "unknown_object",
            },
        }
    }
}

/// ` in schema s`, or nothing for default privileges that are not per schema.
fn in_schema(schema: &Option<String>) -> String {
    schema
        .as_ref()
        .map(|s| format!(" in schema {s}"))
        .unwrap_or_default()
}

/// `file:line:column: ` of the config entry at fault, when it is known.
fn at_prefix(at: &Option<SourceAt>) -> String {
    at.as_ref().map(|at| format!("{at}: ")).unwrap_or_default()
}

fn conferred_text(conferred: &[(Escalation, RoleName)]) -> String {
    let parts: Vec<String> = conferred
        .iter()
        .map(|(escalation, from)| format!("{escalation} (through \"{from}\")"))
        .collect();
    parts.join(", ")
}

/// Each role in double quotes, joined by `separator` (a cycle's ` -> `, a list's `, `).
fn quoted(roles: &[RoleName], separator: &str) -> String {
    let names: Vec<String> = roles.iter().map(|r| format!("\"{r}\"")).collect();
    names.join(separator)
}

fn join(targets: &[TargetName]) -> String {
    let names: Vec<String> = targets.iter().map(ToString::to_string).collect();
    names.join(", ")
}

/// How a plan error reads in JSON.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
struct PlanErrorJson<'a> {
    /// Stable, snake_case: e.g. `cluster_unreadable`, `missing_database`, `needs_superuser`.
    #[serde(borrow)]
    code: Cow<'a, str>,
    message: String,
}

impl Serialize for PlanError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        PlanErrorJson {
            code: Cow::Borrowed(self.code()),
            message: self.to_string(),
        }
        .serialize(serializer)
    }
}

/// Read back (a saved plan) as what was written: its code and message.
impl<'de> Deserialize<'de> for PlanError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = PlanErrorJson::deserialize(deserializer)?;
        Ok(PlanError::Saved {
            code: json.code.into_owned(),
            message: json.message,
        })
    }
}

impl schemars::JsonSchema for PlanError {
    fn schema_name() -> String {
        "PlanError".into()
    }

    fn json_schema(generator: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        PlanErrorJson::<'static>::json_schema(generator)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_error_in_json_carries_its_code_beside_its_message() {
        let error = PlanError::MissingDatabase {
            target: TargetName {
                env: "dev".into(),
                database: "app".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            serde_json::json!({
                "code": "missing_database",
                "message": "target dev/app: database \"app\" does not exist on this cluster",
            })
        );
    }
}
