//! PUBLIC's privileges in one database under the opt-in `public_privileges` policy, and the
//! system-schema grants of declared roles, which are only reported.
//!
//! What PUBLIC still holds of what the policy names is revoked, one statement per grantor
//! (REVOKE reaches only the grants of the role it runs as), like a managed role's privileges.
//! Routines created later are covered through their owners' global default privileges: a
//! schema's default privileges cannot take away what the global ones give (docs: ALTER DEFAULT
//! PRIVILEGES). The policy only revokes: without it, or for what it no longer names, PUBLIC is
//! left as it is.

use super::{Change, GrantObjects, PlanError, PrivilegeError};
use crate::model::privileges::{ObjectKind, ObjectRef};
use crate::model::public::{PublicPolicy, PublicState};
use crate::model::RoleName;
use std::collections::{BTreeMap, BTreeSet};

/// The changes to PUBLIC in one database, what the reader should know, and what this admin
/// cannot do.
#[derive(Debug, Default)]
pub(crate) struct PublicDiff {
    pub changes: Vec<Change>,
    pub notes: Vec<String>,
    pub errors: Vec<PlanError>,
}

/// `declared`: whether a role is declared on the cluster (its system-schema grants are
/// reported); `admin_acts_as`: whether the admin may act as a grantor or owner.
pub(crate) fn diff_public(
    policy: Option<&PublicPolicy>,
    state: &PublicState,
    declared: &dyn Fn(&RoleName) -> bool,
    admin_acts_as: &dyn Fn(&RoleName) -> bool,
) -> PublicDiff {
    let mut diff = PublicDiff::default();
    let database = &state.database;
    for grant in state.system_grants.iter().filter(|g| declared(&g.grantee)) {
        diff.notes.push(format!(
            "role \"{}\" holds {} on {} {} in database {database} (system schema: pgroster does \
             not manage it; revoke it by hand if unintended)",
            grant.grantee,
            grant.privilege,
            grant.object.kind.noun(),
            grant.object
        ));
    }
    let Some(policy) = policy else {
        return diff;
    };
    for schema in policy
        .revoke_create_on_schemas
        .iter()
        .chain(&policy.revoke_execute_in_schemas)
        .collect::<BTreeSet<_>>()
    {
        if !state.schemas.contains(schema) {
            diff.notes.push(format!(
                "public_privileges: schema {schema} does not exist in database {database}; \
                 nothing to revoke there until it does"
            ));
        }
    }
    let mut by_grantor: BTreeMap<(&RoleName, ObjectKind, &str), Vec<ObjectRef>> = BTreeMap::new();
    for held in &state.held {
        by_grantor
            .entry((&held.grantor, held.object.kind, held.privilege.as_str()))
            .or_default()
            .push(held.object.clone());
    }
    for ((grantor, kind, privilege), objects) in by_grantor {
        if !admin_acts_as(grantor) {
            diff.errors.push(PlanError::Public {
                error: PrivilegeError::GrantorNotActable {
                    grantor: grantor.clone(),
                    database: database.clone(),
                },
            });
        }
        diff.changes.push(Change::Revoke {
            database: database.clone(),
            kind,
            objects: GrantObjects::Objects { objects },
            privileges: vec![privilege.to_string()],
            granted_by: grantor.clone(),
            grant_option_only: false,
            cascade: Vec::new(),
        });
    }
    for owner in &state.execute_by_default {
        if admin_acts_as(owner) {
            diff.changes.push(Change::RevokeDefault {
                database: database.clone(),
                owner: owner.clone(),
                schema: None,
                kind: ObjectKind::Function,
                privileges: vec!["EXECUTE".to_string()],
                grant_option_only: false,
            });
        } else {
            diff.notes.push(format!(
                "public_privileges: routines {owner} creates later in database {database} will \
                 be executable by PUBLIC: the admin cannot act as {owner} to change its default \
                 privileges (it needs membership in {owner} with INHERIT and, from PostgreSQL \
                 16, SET)"
            ));
        }
    }
    diff.errors.sort();
    diff.errors.dedup();
    diff
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::public::{PublicHeld, SystemGrant};

    fn function(schema: &str, name: &str, arguments: &str) -> ObjectRef {
        ObjectRef {
            kind: ObjectKind::Function,
            schema: Some(schema.into()),
            name: name.into(),
            arguments: Some(arguments.into()),
            column: None,
        }
    }

    fn database(name: &str) -> ObjectRef {
        ObjectRef {
            kind: ObjectKind::Database,
            schema: None,
            name: name.into(),
            arguments: None,
            column: None,
        }
    }

    fn held(object: ObjectRef, privilege: &str, grantor: &str) -> PublicHeld {
        PublicHeld {
            object,
            privilege: privilege.into(),
            grantor: RoleName::existing(grantor),
        }
    }

    fn policy() -> PublicPolicy {
        PublicPolicy {
            revoke_temporary: true,
            revoke_create_on_schemas: BTreeSet::from(["public".to_string()]),
            revoke_execute_in_schemas: BTreeSet::from(["app".to_string()]),
            revoke_large_object_create: true,
        }
    }

    fn state() -> PublicState {
        PublicState {
            database: "app".into(),
            schemas: BTreeSet::from(["public".to_string(), "app".to_string()]),
            held: BTreeSet::from([
                held(database("app"), "TEMPORARY", "owner"),
                held(function("app", "f", "integer"), "EXECUTE", "owner"),
                held(function("app", "g", ""), "EXECUTE", "other"),
                held(function("app", "h", ""), "EXECUTE", "owner"),
            ]),
            execute_by_default: BTreeSet::from([RoleName::existing("owner")]),
            system_grants: BTreeSet::from([SystemGrant {
                grantee: RoleName::existing("reader"),
                object: function("pg_catalog", "pg_read_file", "text"),
                privilege: "EXECUTE".into(),
            }]),
        }
    }

    fn everyone(_: &RoleName) -> bool {
        true
    }

    #[test]
    fn without_a_policy_public_is_left_alone_and_system_grants_are_still_reported() {
        let diff = diff_public(None, &state(), &everyone, &everyone);
        assert!(diff.changes.is_empty());
        assert!(diff.errors.is_empty());
        assert_eq!(
            diff.notes,
            [
                "role \"reader\" holds EXECUTE on function pg_catalog.pg_read_file(text) in \
              database app (system schema: pgroster does not manage it; revoke it by hand if \
              unintended)"
            ]
        );
    }

    #[test]
    fn system_grants_of_undeclared_roles_are_not_reported() {
        let diff = diff_public(None, &state(), &|_| false, &everyone);
        assert!(diff.notes.is_empty());
    }

    #[test]
    fn what_public_holds_is_revoked_once_per_grantor_and_kind_and_future_routines_too() {
        let diff = diff_public(Some(&policy()), &state(), &everyone, &everyone);
        let revokes: Vec<(String, ObjectKind, usize)> = diff
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::Revoke {
                    kind,
                    objects: GrantObjects::Objects { objects },
                    granted_by,
                    ..
                } => Some((granted_by.to_string(), *kind, objects.len())),
                _ => None,
            })
            .collect();
        assert_eq!(
            revokes,
            [
                ("other".to_string(), ObjectKind::Function, 1),
                ("owner".to_string(), ObjectKind::Database, 1),
                ("owner".to_string(), ObjectKind::Function, 2),
            ]
        );
        assert!(matches!(
            diff.changes.last(),
            Some(Change::RevokeDefault { owner, schema: None, kind: ObjectKind::Function, .. })
                if owner.as_str() == "owner"
        ));
        assert!(diff.errors.is_empty());
    }

    #[test]
    fn a_grantor_the_admin_cannot_act_as_is_an_error_and_a_defaults_owner_a_note() {
        let not_owner = |r: &RoleName| r.as_str() != "owner";
        let diff = diff_public(Some(&policy()), &state(), &everyone, &not_owner);
        assert_eq!(
            diff.errors,
            [PlanError::Public {
                error: PrivilegeError::GrantorNotActable {
                    grantor: RoleName::existing("owner"),
                    database: "app".into(),
                },
            }]
        );
        assert!(diff
            .notes
            .iter()
            .any(|n| n.contains("routines owner creates later")));
        assert!(!diff
            .changes
            .iter()
            .any(|c| matches!(c, Change::RevokeDefault { .. })));
    }

    #[test]
    fn a_listed_schema_missing_from_the_database_is_a_note() {
        let mut state = state();
        state.schemas.remove("app");
        let diff = diff_public(Some(&policy()), &state, &everyone, &everyone);
        assert!(diff.notes.contains(
            &"public_privileges: schema app does not exist in database app; nothing \
                        to revoke there until it does"
                .to_string()
        ));
    }

    #[test]
    fn nothing_held_is_nothing_to_do() {
        let mut state = state();
        state.held.clear();
        state.execute_by_default.clear();
        let diff = diff_public(Some(&policy()), &state, &everyone, &everyone);
        assert!(diff.changes.is_empty());
    }
}
