//! The plan the renderers' snapshot tests share: every `Change` variant (and each form a
//! renderer writes differently), every role action and every plan-level section, built as
//! plain values so no server is needed.

use crate::model::privileges::{ObjectKind, ObjectRef, PUBLIC};
use crate::model::{
    AttributeChange, AttributeValue, Attributes, ClusterKey, MembershipOptions, RoleName, Secret,
    SettingScope, TargetName,
};
use crate::plan::{
    Change, ClusterPlan, DependentGrant, DependentMembership, ExpiringRole, GrantObjects,
    PasswordSource, Plan, PlanError, RegistryTarget, RoleAction, RolePlan, SkippedRole,
    UnmanagedRole,
};

/// A SCRAM verifier for the changes that set a password. Snapshots must never show it, so the
/// tests look for this exact text in what they render.
pub(crate) const VERIFIER: &str =
    "SCRAM-SHA-256$4096:c2FsdHNhbHQ=$U3RvcmVkS2V5:U2VydmVyS2V5-must-not-leak";

pub(crate) fn verifier() -> Secret {
    Secret::new(VERIFIER)
}

fn target(env: &str, database: &str) -> TargetName {
    TargetName {
        env: env.into(),
        database: database.into(),
    }
}

fn role(name: &str) -> RoleName {
    RoleName::existing(name)
}

fn object(
    kind: ObjectKind,
    schema: Option<&str>,
    name: &str,
    arguments: Option<&str>,
) -> ObjectRef {
    ObjectRef {
        kind,
        schema: schema.map(Into::into),
        name: name.into(),
        arguments: arguments.map(Into::into),
        column: None,
    }
}

fn column(table: &str, column: &str) -> ObjectRef {
    ObjectRef {
        column: Some(column.into()),
        ..object(ObjectKind::Column, Some("public"), table, None)
    }
}

fn privileges(names: &[&str]) -> Vec<String> {
    names.iter().map(|p| (*p).to_string()).collect()
}

/// A new login role: non-default attributes, a generated password, memberships, settings in
/// both scopes, object grants and default privileges.
fn created() -> RolePlan {
    RolePlan {
        role: role("web01_8080"),
        action: RoleAction::Create,
        profile: Some("service".into()),
        targets: vec![target("dev", "app_dev"), target("dev", "App DB")],
        changes: vec![
            Change::CreateRole {
                attributes: Attributes {
                    login: true,
                    createdb: true,
                    connection_limit: 20,
                    valid_until: Some("2027-03-31T00:00:00Z".into()),
                    ..Attributes::default()
                },
                password: Some(PasswordSource::Generated),
            },
            Change::SetMarker {
                from: None,
                to: "managed by pgroster; profile=service".into(),
            },
            Change::GrantMembership {
                group: role("app_rw"),
                options: MembershipOptions::default(),
                from: None,
                escalation: Vec::new(),
                granted_by: None,
            },
            Change::GrantMembership {
                group: role("a\"b"),
                options: MembershipOptions {
                    admin: true,
                    inherit: Some(false),
                    set: Some(true),
                },
                from: None,
                escalation: Vec::new(),
                granted_by: None,
            },
            Change::SetSetting {
                scope: SettingScope::AllDatabases,
                name: "statement_timeout".into(),
                from: None,
                to: "30s".into(),
            },
            Change::SetSetting {
                scope: SettingScope::Database("App DB".into()),
                name: "search_path".into(),
                from: None,
                to: "\"My Schema\", public".into(),
            },
            Change::Grant {
                database: "app_dev".into(),
                kind: ObjectKind::Table,
                objects: GrantObjects::AllInSchema {
                    schema: "public".into(),
                },
                privileges: privileges(&["INSERT", "SELECT"]),
                grant_option: false,
            },
            Change::Grant {
                database: "App DB".into(),
                kind: ObjectKind::Function,
                objects: GrantObjects::Objects {
                    objects: vec![object(
                        ObjectKind::Function,
                        Some("My Schema"),
                        "refresh",
                        Some("since timestamp with time zone"),
                    )],
                },
                privileges: privileges(&["EXECUTE"]),
                grant_option: false,
            },
            // Names that read ambiguously unless quoted as SQL quotes them.
            Change::Grant {
                database: "App DB".into(),
                kind: ObjectKind::Table,
                objects: GrantObjects::Objects {
                    objects: vec![
                        object(ObjectKind::Table, Some("Odd Schema"), "Tab le", None),
                        object(ObjectKind::Table, Some("we\"ird.sch"), "T.a\"b", None),
                    ],
                },
                privileges: privileges(&["SELECT"]),
                grant_option: false,
            },
            Change::Grant {
                database: "app_dev".into(),
                kind: ObjectKind::Database,
                objects: GrantObjects::Objects {
                    objects: vec![object(ObjectKind::Database, None, "app_dev", None)],
                },
                privileges: privileges(&["CONNECT"]),
                grant_option: false,
            },
            Change::GrantDefault {
                database: "app_dev".into(),
                owner: role("app_owner"),
                schema: Some("public".into()),
                kind: ObjectKind::Table,
                privileges: privileges(&["SELECT"]),
                grant_option: false,
            },
            // The other privilege classes: columns (one table per statement), large objects
            // (an OID, never quoted), parameters (each dotted part an identifier), and a grant
            // option.
            Change::Grant {
                database: "app_dev".into(),
                kind: ObjectKind::Column,
                objects: GrantObjects::Objects {
                    objects: vec![column("orders", "note"), column("orders", "Total Sum")],
                },
                privileges: privileges(&["SELECT", "UPDATE"]),
                grant_option: false,
            },
            Change::Grant {
                database: "app_dev".into(),
                kind: ObjectKind::LargeObject,
                objects: GrantObjects::Objects {
                    objects: vec![object(ObjectKind::LargeObject, None, "4242", None)],
                },
                privileges: privileges(&["SELECT"]),
                grant_option: true,
            },
            Change::Grant {
                database: "app_dev".into(),
                kind: ObjectKind::Parameter,
                objects: GrantObjects::Objects {
                    objects: vec![
                        object(ObjectKind::Parameter, None, "work_mem", None),
                        object(
                            ObjectKind::Parameter,
                            None,
                            "auto_explain.log_min_duration",
                            None,
                        ),
                    ],
                },
                privileges: privileges(&["ALTER SYSTEM", "SET"]),
                grant_option: false,
            },
        ],
    }
}

/// A managed role whose attributes, password rotation, memberships, settings and privileges
/// drifted from the configuration.
fn updated() -> RolePlan {
    RolePlan {
        role: role("JSmith"),
        action: RoleAction::Update,
        profile: None,
        targets: vec![target("dev", "app_dev")],
        changes: vec![
            Change::AlterAttributes {
                changes: vec![
                    AttributeChange {
                        attribute: "createrole",
                        from: AttributeValue::Flag(true),
                        to: AttributeValue::Flag(false),
                    },
                    AttributeChange {
                        attribute: "connection_limit",
                        from: AttributeValue::Limit(-1),
                        to: AttributeValue::Limit(5),
                    },
                    AttributeChange {
                        attribute: "valid_until",
                        from: AttributeValue::Expiry(Some("2026-01-01T00:00:00Z".into())),
                        to: AttributeValue::Expiry(None),
                    },
                ],
            },
            Change::ResetPassword {
                password: PasswordSource::Env {
                    var: "JSMITH_PASSWORD".into(),
                },
                from_rotation: Some("2026-03".into()),
                to_rotation: Some("2026-04".into()),
            },
            Change::SetMarker {
                from: Some("managed by pgroster; rotation=2026-03".into()),
                to: "managed by pgroster; rotation=2026-04".into(),
            },
            Change::GrantMembership {
                group: role("reporting"),
                options: MembershipOptions {
                    admin: true,
                    inherit: None,
                    set: None,
                },
                from: Some(MembershipOptions::default()),
                escalation: Vec::new(),
                granted_by: Some(role("team_lead")),
            },
            Change::RevokeMembershipAdmin {
                group: role("app_rw"),
                granted_by: None,
                cascade: Vec::new(),
            },
            Change::RevokeMembership {
                group: role("old team"),
                granted_by: None,
                cascade: Vec::new(),
            },
            // JSmith passed "old team" on, and its member passed it on again.
            Change::RevokeMembership {
                group: role("old team"),
                granted_by: Some(role("Team \"Lead\"")),
                cascade: vec![
                    DependentMembership {
                        member: role("guest"),
                        group: role("old team"),
                        grantor: role("JSmith"),
                    },
                    DependentMembership {
                        member: role("Odd Name"),
                        group: role("old team"),
                        grantor: role("guest"),
                    },
                ],
            },
            Change::SetSetting {
                scope: SettingScope::AllDatabases,
                name: "auto_explain.log_min_duration".into(),
                from: Some("1s".into()),
                to: "250ms".into(),
            },
            Change::ResetSetting {
                scope: SettingScope::Database("app_dev".into()),
                name: "work_mem".into(),
                from: "64MB".into(),
            },
            Change::Revoke {
                database: "app_dev".into(),
                kind: ObjectKind::Table,
                objects: GrantObjects::Objects {
                    objects: vec![
                        object(ObjectKind::Table, Some("public"), "orders", None),
                        object(ObjectKind::Table, Some("My Schema"), "Later \"Ü\"", None),
                    ],
                },
                privileges: privileges(&["DELETE", "UPDATE"]),
                granted_by: role("app_owner"),
                grant_option_only: false,
                cascade: Vec::new(),
            },
            Change::Revoke {
                database: "app_dev".into(),
                kind: ObjectKind::Sequence,
                objects: GrantObjects::AllInSchema {
                    schema: "public".into(),
                },
                privileges: privileges(&["USAGE"]),
                granted_by: role("we\"ird"),
                grant_option_only: false,
                cascade: Vec::new(),
            },
            Change::RevokeDefault {
                database: "app_dev".into(),
                owner: role("Odd Name"),
                schema: None,
                kind: ObjectKind::Function,
                privileges: privileges(&["EXECUTE"]),
                grant_option_only: false,
            },
            Change::Revoke {
                database: "app_dev".into(),
                kind: ObjectKind::Type,
                objects: GrantObjects::Objects {
                    objects: vec![object(ObjectKind::Type, Some("public"), "mood", None)],
                },
                privileges: privileges(&["USAGE"]),
                granted_by: role("app_owner"),
                grant_option_only: true,
                // JSmith passed USAGE on; the grants it made go with its grant option.
                cascade: vec![
                    DependentGrant {
                        grantee: role("intern"),
                        object: object(ObjectKind::Type, Some("public"), "mood", None),
                        privilege: "USAGE".into(),
                        grantor: role("JSmith"),
                    },
                    DependentGrant {
                        grantee: role(PUBLIC),
                        object: object(ObjectKind::Type, Some("public"), "mood", None),
                        privilege: "USAGE".into(),
                        grantor: role("JSmith"),
                    },
                ],
            },
            Change::RevokeDefault {
                database: "app_dev".into(),
                owner: role("app_owner"),
                schema: Some("public".into()),
                kind: ObjectKind::Type,
                privileges: privileges(&["USAGE"]),
                grant_option_only: true,
            },
        ],
    }
}

/// An existing role pgroster takes over: a password without rotation keys, and a marker.
fn adopted() -> RolePlan {
    RolePlan {
        role: role("Zoë_日本_ünï"),
        action: RoleAction::Adopt,
        profile: Some("devlead".into()),
        targets: vec![target("dev", "app_dev")],
        changes: vec![
            Change::ResetPassword {
                password: PasswordSource::Generated,
                from_rotation: None,
                to_rotation: None,
            },
            Change::SetMarker {
                from: Some("a human comment".into()),
                to: "managed by pgroster; profile=devlead".into(),
            },
        ],
    }
}

/// A managed role no longer declared: NOLOGIN and the admin made a member, its sessions
/// ended, its objects reassigned in a registered database and its privileges dropped in one
/// that is not, then dropped.
fn destroyed() -> RolePlan {
    RolePlan {
        role: role("gone_user"),
        action: RoleAction::Destroy,
        profile: Some("devqa".into()),
        targets: Vec::new(),
        changes: vec![
            Change::PrepareDrop {
                disable_login: true,
                grant_to_admin: Some(role("roster_admin")),
            },
            Change::EndSessions,
            Change::DropOwned {
                database: "app_dev".into(),
                reassign_to: Some(role("app_owner")),
                owned: 3,
                privileges: 5,
                registered: true,
            },
            Change::DropOwned {
                database: "scratch".into(),
                reassign_to: None,
                owned: 0,
                privileges: 1,
                registered: false,
            },
            Change::DropRole,
        ],
    }
}

/// Revokes from PUBLIC under `public_privileges`: one per grantor, and future routines.
fn public() -> Vec<Change> {
    vec![
        Change::Revoke {
            database: "App DB".into(),
            kind: ObjectKind::Database,
            objects: GrantObjects::Objects {
                objects: vec![ObjectRef {
                    kind: ObjectKind::Database,
                    schema: None,
                    name: "App DB".into(),
                    arguments: None,
                    column: None,
                }],
            },
            privileges: vec!["TEMPORARY".into()],
            granted_by: role("app_owner"),
            grant_option_only: false,
            cascade: Vec::new(),
        },
        Change::Revoke {
            database: "App DB".into(),
            kind: ObjectKind::Function,
            objects: GrantObjects::Objects {
                objects: vec![ObjectRef {
                    kind: ObjectKind::Function,
                    schema: Some("pg_catalog".into()),
                    name: "lo_create".into(),
                    arguments: Some("oid".into()),
                    column: None,
                }],
            },
            privileges: vec!["EXECUTE".into()],
            granted_by: role("postgres"),
            grant_option_only: false,
            cascade: Vec::new(),
        },
        Change::RevokeDefault {
            database: "App DB".into(),
            owner: role("app_owner"),
            schema: None,
            kind: ObjectKind::Function,
            privileges: vec!["EXECUTE".into()],
            grant_option_only: false,
        },
    ]
}

/// Three clusters: one with every kind of change and a note, one in sync, one that could not
/// be read; plus an inactive target and a role skipped because of it.
pub(crate) fn plan() -> Plan {
    let planned = ClusterPlan {
        name: "pg-dev-01:5432".into(),
        cluster: ClusterKey {
            host: "pg-dev-01".into(),
            port: 5432,
        },
        targets: vec![target("dev", "App DB"), target("dev", "app_dev")],
        server_version_num: Some(160_004),
        roles: vec![created(), updated(), adopted(), destroyed()],
        public: public(),
        notes: vec![
            "role \"legacy\" holds EXECUTE on function pg_catalog.pg_read_file(text) in database app_dev (system schema: pgroster does not manage it; revoke it by hand if unintended)"
                .into(),
        ],
        errors: vec![],
        unmanaged: vec![UnmanagedRole {
            role: role("rogue"),
            attributes: vec!["SUPERUSER".into(), "LOGIN".into()],
            predefined: vec![role("pg_read_all_data")],
        }],
        expiring: vec![
            ExpiringRole {
                role: role("contractor"),
                valid_until: "2026-12-10T00:00:00Z".into(),
                expired: false,
            },
            ExpiringRole {
                role: role("intern"),
                valid_until: "2026-11-30T00:00:00Z".into(),
                expired: true,
            },
        ],
    };
    let in_sync = ClusterPlan {
        name: "pg-qa-01:5432".into(),
        cluster: ClusterKey {
            host: "pg-qa-01".into(),
            port: 5432,
        },
        targets: vec![target("qa", "app_qa")],
        server_version_num: Some(150_012),
        roles: vec![],
        public: vec![],
        notes: vec![],
        errors: vec![],
        unmanaged: Vec::new(),
        expiring: Vec::new(),
    };
    let failed = ClusterPlan {
        name: "prod-eu".into(),
        cluster: ClusterKey {
            host: "::1".into(),
            port: 5433,
        },
        targets: vec![target("prod", "app_prod")],
        server_version_num: None,
        roles: vec![],
        public: vec![],
        notes: vec![],
        errors: vec![PlanError::ClusterUnreadable {
            targets: vec![target("prod", "app_prod")],
            reason: "connection refused".into(),
        }],
        unmanaged: Vec::new(),
        expiring: Vec::new(),
    };
    let uat = RegistryTarget {
        target: target("uat", "app_uat"),
        cluster: "pg-uat-01:5432".into(),
    };
    Plan::new(
        vec![planned, in_sync, failed],
        vec![uat.clone()],
        vec![SkippedRole {
            role: role("uat_reader"),
            target: uat,
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// No wildcard arm: a new `Change` variant fails to compile here until the fixture has it.
    fn variant(change: &Change) -> usize {
        match change {
            Change::CreateRole { .. } => 0,
            Change::AlterAttributes { .. } => 1,
            Change::ResetPassword { .. } => 2,
            Change::SetMarker { .. } => 3,
            Change::GrantMembership { .. } => 4,
            Change::RevokeMembershipAdmin { .. } => 5,
            Change::RevokeMembership { .. } => 6,
            Change::SetSetting { .. } => 7,
            Change::ResetSetting { .. } => 8,
            Change::Grant { .. } => 9,
            Change::Revoke { .. } => 10,
            Change::GrantDefault { .. } => 11,
            Change::RevokeDefault { .. } => 12,
            Change::PrepareDrop { .. } => 13,
            Change::EndSessions => 14,
            Change::DropOwned { .. } => 15,
            Change::DropRole => 16,
        }
    }

    #[test]
    fn the_fixture_holds_every_kind_of_change_and_every_role_action() {
        let plan = plan();
        let roles: Vec<&RolePlan> = plan.clusters.iter().flat_map(|c| &c.roles).collect();
        let variants: BTreeSet<usize> =
            roles.iter().flat_map(|r| &r.changes).map(variant).collect();
        assert_eq!(variants, (0..17).collect());
        let actions: Vec<RoleAction> = roles.iter().map(|r| r.action).collect();
        assert_eq!(
            actions,
            [
                RoleAction::Create,
                RoleAction::Update,
                RoleAction::Adopt,
                RoleAction::Destroy
            ]
        );
    }
}
