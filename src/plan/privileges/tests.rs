//! One role's privileges in one database: what is granted, revoked and left alone.

use super::*;
use crate::model::privileges::{DatabaseState, DbObject, PUBLIC};

fn role(name: &str) -> RoleName {
    RoleName::existing(name)
}

fn object(kind: ObjectKind, schema: Option<&str>, name: &str, owner: &str) -> DbObject {
    DbObject {
        object: ObjectRef {
            kind,
            schema: schema.map(str::to_string),
            name: name.into(),
            arguments: None,
            column: None,
        },
        owner: role(owner),
    }
}

fn state() -> DatabaseState {
    DatabaseState {
        database: "app".into(),
        objects: vec![
            object(ObjectKind::Database, None, "app", "postgres"),
            object(ObjectKind::Schema, None, "reports", "owner"),
            object(ObjectKind::Table, Some("reports"), "a", "owner"),
            object(ObjectKind::Table, Some("reports"), "b", "owner"),
            object(ObjectKind::Table, Some("reports"), "mine", "analyst"),
        ],
        held: BTreeSet::new(),
        defaults: BTreeSet::new(),
    }
}

fn select_on_reports(future: bool) -> GrantSpec {
    GrantSpec {
        target: GrantTarget::AllIn {
            kind: ObjectKind::Table,
            schemas: vec!["reports".into()],
        },
        privileges: BTreeSet::from(["SELECT".to_string()]),
        future,
        future_owners: None,
        existing: true,
        grant_option: false,
    }
}

fn held(grantee: &str, o: &DbObject, privilege: &str) -> HeldPrivilege {
    HeldPrivilege {
        grantee: role(grantee),
        object: o.object.clone(),
        privilege: privilege.into(),
        grantor: role("owner"),
        grant_option: false,
    }
}

fn superuser() -> Context<'static> {
    Context {
        server_version_num: 150000,
        admin_acts_as: Box::new(|_| true),
        role_known: Box::new(|_| true),
        cluster_wide_here: true,
    }
}

#[test]
fn grants_what_is_missing_and_skips_objects_the_role_owns() {
    let state = state();
    let index = DatabaseIndex::new(&state);
    let PrivilegeDiff { changes, notes, .. } = diff_database(
        &role("analyst"),
        &[select_on_reports(true)],
        &index,
        &superuser(),
        &Cascaded::new(),
    );
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(changes.len(), 2, "{changes:?}");
    match &changes[0] {
        Change::Grant {
            objects: GrantObjects::Objects { objects },
            privileges,
            ..
        } => {
            assert_eq!(objects.len(), 2, "the owned table is not granted on");
            assert_eq!(privileges, &["SELECT".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&changes[1], Change::GrantDefault { owner, .. } if owner.as_str() == "owner"));
}

#[test]
fn held_privileges_match_whoever_granted_them_and_undeclared_ones_are_revoked() {
    let mut state = state();
    let a = state.objects[2].clone();
    let b = state.objects[3].clone();
    state.held.insert(held("analyst", &a, "SELECT"));
    state.held.insert(held("analyst", &b, "SELECT"));
    state.held.insert(held("analyst", &b, "INSERT"));
    let index = DatabaseIndex::new(&state);
    let changes = diff_database(
        &role("analyst"),
        &[select_on_reports(false)],
        &index,
        &superuser(),
        &Cascaded::new(),
    )
    .changes;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(
        matches!(&changes[0], Change::Revoke { privileges, .. } if privileges == &["INSERT".to_string()])
    );
}

#[test]
fn all_expands_per_server_version_and_missing_schemas_are_notes() {
    let state = state();
    let index = DatabaseIndex::new(&state);
    let mut spec = select_on_reports(false);
    spec.privileges = BTreeSet::from(["ALL".to_string()]);
    let pg17 = Context {
        server_version_num: 170000,
        admin_acts_as: Box::new(|_| true),
        role_known: Box::new(|_| true),
        cluster_wide_here: true,
    };
    let changes = diff_database(
        &role("other"),
        &[spec.clone()],
        &index,
        &pg17,
        &Cascaded::new(),
    )
    .changes;
    match &changes[0] {
        Change::Grant {
            objects: GrantObjects::AllInSchema { schema },
            privileges,
            ..
        } => {
            assert_eq!(schema, "reports");
            assert!(privileges.contains(&"MAINTAIN".to_string()));
        }
        other => panic!("{other:?}"),
    }
    spec.target = GrantTarget::AllIn {
        kind: ObjectKind::Table,
        schemas: vec!["nope".into()],
    };
    let PrivilegeDiff { changes, notes, .. } = diff_database(
        &role("other"),
        &[spec],
        &index,
        &superuser(),
        &Cascaded::new(),
    );
    assert!(changes.is_empty());
    assert!(notes[0].contains("schema nope does not exist"), "{notes:?}");
}

#[test]
fn an_admin_that_cannot_act_as_the_owner_gets_errors_and_notes_not_failures_at_apply() {
    let state = state();
    let index = DatabaseIndex::new(&state);
    let limited = Context {
        server_version_num: 160000,
        admin_acts_as: Box::new(|r: &RoleName| r.as_str() != "owner"),
        role_known: Box::new(|_| true),
        cluster_wide_here: true,
    };
    let diff = diff_database(
        &role("analyst"),
        &[select_on_reports(true)],
        &index,
        &limited,
        &Cascaded::new(),
    );
    assert!(
        diff.errors
            .iter()
            .any(|e| e.to_string().contains("owned by owner")),
        "{:?}",
        diff.errors
    );
    assert!(
        diff.notes.iter().any(|n| n.contains("future_owners")),
        "{:?}",
        diff.notes
    );
    assert!(!diff
        .changes
        .iter()
        .any(|c| matches!(c, Change::GrantDefault { .. })));
}

#[test]
fn the_roles_own_default_privileges_are_never_revoked() {
    let mut state = state();
    for (schema, grantee, privilege) in [
        (None, "analyst", "SELECT"),
        (None, "analyst", "INSERT"),
        (Some("reports"), "analyst", "SELECT"),
        (None, "reader", "SELECT"),
    ] {
        state.defaults.insert(DefaultPrivilege {
            owner: role("analyst"),
            schema: schema.map(str::to_string),
            kind: ObjectKind::Table,
            grantee: role(grantee),
            privilege: privilege.into(),
            grant_option: false,
        });
    }
    let index = DatabaseIndex::new(&state);
    let diff = diff_database(
        &role("analyst"),
        &[],
        &index,
        &superuser(),
        &Cascaded::new(),
    );
    assert!(diff.changes.is_empty(), "{:?}", diff.changes);
    assert!(diff.errors.is_empty(), "{:?}", diff.errors);
}

#[test]
fn an_unknown_future_owner_is_an_error_naming_it() {
    let state = state();
    let index = DatabaseIndex::new(&state);
    let mut spec = select_on_reports(true);
    spec.future_owners = Some(vec![role("ghost"), role("owner")]);
    let context = Context {
        server_version_num: 150000,
        admin_acts_as: Box::new(|_| true),
        role_known: Box::new(|r: &RoleName| r.as_str() != "ghost"),
        cluster_wide_here: true,
    };
    let diff = diff_database(
        &role("analyst"),
        &[spec],
        &index,
        &context,
        &Cascaded::new(),
    );
    assert_eq!(diff.errors.len(), 1, "{:?}", diff.errors);
    let message = diff.errors[0].to_string();
    assert!(
        message.contains("ghost") && message.contains("reports"),
        "{message}"
    );
    assert!(!diff
        .changes
        .iter()
        .any(|c| matches!(c, Change::GrantDefault { owner, .. } if owner.as_str() == "ghost")));
}

#[test]
fn maintain_is_an_error_before_17_and_granted_from_17() {
    let state = state();
    let index = DatabaseIndex::new(&state);
    let mut spec = select_on_reports(false);
    spec.privileges = BTreeSet::from(["MAINTAIN".to_string()]);
    let diff = diff_database(
        &role("other"),
        &[spec.clone()],
        &index,
        &superuser(),
        &Cascaded::new(),
    );
    assert_eq!(diff.errors.len(), 1, "{:?}", diff.errors);
    let message = diff.errors[0].to_string();
    assert!(
        message.contains("MAINTAIN") && message.contains("PostgreSQL 15.0"),
        "{message}"
    );
    assert!(diff.changes.is_empty(), "{:?}", diff.changes);
    let pg17 = Context {
        server_version_num: 170000,
        admin_acts_as: Box::new(|_| true),
        role_known: Box::new(|_| true),
        cluster_wide_here: true,
    };
    let diff = diff_database(&role("other"), &[spec], &index, &pg17, &Cascaded::new());
    assert!(diff.errors.is_empty(), "{:?}", diff.errors);
    assert_eq!(diff.changes.len(), 1, "{:?}", diff.changes);
}

fn with_option(mut held: HeldPrivilege, grantor: &str) -> HeldPrivilege {
    held.grantor = role(grantor);
    held.grant_option = true;
    held
}

fn select_on_a(grant_option: bool) -> GrantSpec {
    GrantSpec {
        target: GrantTarget::Named {
            kind: ObjectKind::Table,
            objects: vec![("reports".into(), "a".into())],
        },
        privileges: BTreeSet::from(["SELECT".to_string()]),
        grant_option,
        future: false,
        future_owners: None,
        existing: true,
    }
}

#[test]
fn the_grant_option_is_granted_when_declared_and_revoked_alone_when_not() {
    let mut state = state();
    let a = state.objects[2].clone();
    state.held.insert(held("analyst", &a, "SELECT"));
    let index = DatabaseIndex::new(&state);
    let diff = |spec| {
        diff_database(
            &role("analyst"),
            &[spec],
            &index,
            &superuser(),
            &Cascaded::new(),
        )
        .changes
    };
    assert!(diff(select_on_a(false)).is_empty());
    assert!(matches!(
        diff(select_on_a(true)).as_slice(),
        [Change::Grant { grant_option: true, privileges, .. }] if privileges == &["SELECT"]
    ));

    let mut state = state.clone();
    state.held.clear();
    state
        .held
        .insert(with_option(held("analyst", &a, "SELECT"), "owner"));
    let index = DatabaseIndex::new(&state);
    let changes = diff_database(
        &role("analyst"),
        &[select_on_a(false)],
        &index,
        &superuser(),
        &Cascaded::new(),
    )
    .changes;
    assert!(
        matches!(
            changes.as_slice(),
            [Change::Revoke { grant_option_only: true, cascade, .. }] if cascade.is_empty()
        ),
        "{changes:?}"
    );
}

/// analyst passed SELECT on reports.a on to dev1 (managed, declares it) and guest, which
/// passed it on to PUBLIC: taking analyst's grant option cascades to all three, and dev1's
/// diff counts its grant as gone (granted again, never revoked on its own).
#[test]
fn a_passed_on_privilege_cascades_and_the_dependents_count_it_as_gone() {
    let mut state = state();
    let a = state.objects[2].clone();
    state
        .held
        .insert(with_option(held("analyst", &a, "SELECT"), "owner"));
    state
        .held
        .insert(with_option(held("dev1", &a, "SELECT"), "analyst"));
    let mut guest = with_option(held("guest", &a, "SELECT"), "analyst");
    state.held.insert(guest.clone());
    guest.grantee = role(PUBLIC);
    guest.grantor = role("guest");
    guest.grant_option = false;
    state.held.insert(guest);
    let index = DatabaseIndex::new(&state);
    let analyst_grants = [select_on_a(false)];
    let dev1_grants = [select_on_a(false)];
    let (analyst, dev1) = (role("analyst"), role("dev1"));
    let roles: Vec<(&RoleName, &[GrantSpec])> = vec![
        (&analyst, analyst_grants.as_slice()),
        (&dev1, dev1_grants.as_slice()),
    ];
    let cascaded = cascaded(&roles, &index, &superuser());
    let grantees: Vec<&str> = cascaded.iter().map(|(g, ..)| g.as_str()).collect();
    assert_eq!(grantees, ["dev1", "guest", PUBLIC]);

    let changes = diff_database(&analyst, &analyst_grants, &index, &superuser(), &cascaded).changes;
    match changes.as_slice() {
        [Change::Revoke {
            grant_option_only: true,
            cascade,
            ..
        }] => assert_eq!(cascade.len(), 3, "{cascade:?}"),
        other => panic!("{other:?}"),
    }
    let changes = diff_database(&dev1, &dev1_grants, &index, &superuser(), &cascaded).changes;
    assert!(
        matches!(
            changes.as_slice(),
            [Change::Grant {
                grant_option: false,
                ..
            }]
        ),
        "dev1 is granted SELECT again and nothing of its own is revoked: {changes:?}"
    );
}

#[test]
fn a_future_grant_with_existing_false_sets_the_default_privileges_alone() {
    let state = state();
    let index = DatabaseIndex::new(&state);
    let mut spec = select_on_reports(true);
    spec.existing = false;
    let changes = diff_database(
        &role("analyst"),
        &[spec],
        &index,
        &superuser(),
        &Cascaded::new(),
    )
    .changes;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(matches!(&changes[0], Change::GrantDefault { owner, .. } if owner.as_str() == "owner"));
}
