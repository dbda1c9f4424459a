//! The privilege diff of one role in one database: declared grants against held privileges.
//!
//! A managed role's grants are authoritative in its target databases: a privilege it holds on
//! an object there that no grant declares is revoked. Objects the role owns are left out (an
//! owner's privileges are implicit), and so are the role's own entries in its default privileges
//! (what it gets on objects it creates, issue 10), PUBLIC and the system schemas. Who granted a
//! privilege does not matter: held is held; the grant option is part of what is held. A
//! privilege the role passed on with its grant option is revoked with `CASCADE`, the grants
//! that hang from it listed in the plan (`dependents`); other roles' diffs count those as gone
//! (`cascaded`). A named object missing from one database is a note there; missing from every
//! target database, it is an error (`missing_everywhere`).

use super::{Change, DependentGrant, GrantObjects, PrivilegeError};
use crate::model::privileges::{
    DatabaseState, DbObject, DefaultPrivilege, GrantSpec, GrantTarget, HeldPrivilege, ObjectKind,
    ObjectRef,
};
use crate::model::spelling::nearest;
use crate::model::RoleName;
use std::collections::{BTreeMap, BTreeSet};

/// The role owning the `public` schema since PostgreSQL 15; nobody creates objects as it.
const DATABASE_OWNER_ROLE: &str = "pg_database_owner";

/// Objects and privileges of one database, indexed for many roles' diffs.
pub struct DatabaseIndex<'a> {
    pub state: &'a DatabaseState,
    by_kind_schema: BTreeMap<(ObjectKind, Option<&'a str>), Vec<&'a DbObject>>,
    held_by_role: BTreeMap<&'a RoleName, Vec<&'a HeldPrivilege>>,
    /// Grants each role made with its grant option, to others.
    granted_by_role: BTreeMap<&'a RoleName, Vec<&'a HeldPrivilege>>,
    defaults_by_role: BTreeMap<&'a RoleName, Vec<&'a DefaultPrivilege>>,
    owner_of: BTreeMap<&'a ObjectRef, &'a RoleName>,
}

impl<'a> DatabaseIndex<'a> {
    pub fn new(state: &'a DatabaseState) -> Self {
        let mut by_kind_schema: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for object in &state.objects {
            by_kind_schema
                .entry((object.object.kind, object.object.schema.as_deref()))
                .or_default()
                .push(object);
        }
        let mut held_by_role: BTreeMap<_, Vec<_>> = BTreeMap::new();
        let mut granted_by_role: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for held in &state.held {
            held_by_role.entry(&held.grantee).or_default().push(held);
            if held.grantor != held.grantee {
                granted_by_role.entry(&held.grantor).or_default().push(held);
            }
        }
        let mut defaults_by_role: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for default in &state.defaults {
            defaults_by_role
                .entry(&default.grantee)
                .or_default()
                .push(default);
        }
        let owner_of = state
            .objects
            .iter()
            .map(|o| (&o.object, &o.owner))
            .collect();
        DatabaseIndex {
            state,
            by_kind_schema,
            held_by_role,
            granted_by_role,
            defaults_by_role,
            owner_of,
        }
    }

    /// The objects of `kind` in `schema` (`None`: outside schemas).
    pub(crate) fn objects<'s>(
        &'s self,
        kind: ObjectKind,
        schema: Option<&'s str>,
    ) -> &'s [&'a DbObject] {
        self.by_kind_schema
            .get(&(kind, schema))
            .map_or(&[], Vec::as_slice)
    }

    /// The privileges `role` holds directly, from any grantor.
    pub(crate) fn held_by(&self, role: &RoleName) -> &[&'a HeldPrivilege] {
        self.held_by_role.get(role).map_or(&[], Vec::as_slice)
    }

    /// The default privileges `role` holds from other owners, with their grant option; its own
    /// entries (what it gets on what it creates) are not pgroster's.
    pub(crate) fn held_defaults(&self, role: &RoleName) -> BTreeMap<DefaultKey, bool> {
        self.defaults_by_role
            .get(role)
            .into_iter()
            .flatten()
            .filter(|d| &d.owner != role)
            .map(|d| {
                let key = (
                    d.owner.clone(),
                    d.schema.clone(),
                    d.kind,
                    d.privilege.clone(),
                );
                (key, d.grant_option)
            })
            .collect()
    }

    pub(crate) fn owner(&self, object: &ObjectRef) -> Option<&'a RoleName> {
        self.owner_of.get(object).copied()
    }

    fn schema(&self, name: &str) -> Option<&'a DbObject> {
        self.objects(ObjectKind::Schema, None)
            .iter()
            .copied()
            .find(|o| o.object.name == name)
    }

    fn database_owner(&self) -> Option<&'a RoleName> {
        self.objects(ObjectKind::Database, None)
            .first()
            .map(|o| &o.owner)
    }
}

/// What the planner knows about the server and the admin.
pub struct Context<'a> {
    pub server_version_num: i32,
    /// Whether the admin has the privileges of a role (to grant on its objects, to set default
    /// privileges for it, to revoke its grants).
    pub admin_acts_as: Box<dyn Fn(&RoleName) -> bool + 'a>,
    /// Whether a role exists on the cluster or is declared for it (so the apply creates it first).
    pub role_known: Box<dyn Fn(&RoleName) -> bool + 'a>,
    /// Whether this database is where the role's cluster-wide privileges (tablespaces,
    /// parameters) are diffed: every database sees them, one of them changes them.
    pub cluster_wide_here: bool,
}

/// The changes for one role in one database, what the reader should know, and what cannot be
/// done by this admin.
#[derive(Debug, Default)]
pub struct PrivilegeDiff {
    pub changes: Vec<Change>,
    pub notes: Vec<String>,
    pub errors: Vec<PrivilegeError>,
}

/// A privilege on an object, and whether it comes with the grant option.
type Privileges = BTreeMap<(ObjectRef, String), bool>;

/// What a role's grants ask for in one database.
#[derive(Default)]
struct Desired {
    privileges: Privileges,
    defaults: BTreeMap<DefaultKey, bool>,
    notes: Vec<String>,
    errors: Vec<PrivilegeError>,
}

/// A default privilege without its grant option: owner, schema, kind, privilege.
pub(crate) type DefaultKey = (RoleName, Option<String>, ObjectKind, String);

/// The changes that make `role`'s privileges in one database match `grants`.
pub(crate) fn diff_database(
    role: &RoleName,
    grants: &[GrantSpec],
    index: &DatabaseIndex,
    context: &Context,
    cascaded: &Cascaded,
) -> PrivilegeDiff {
    let database = &index.state.database;
    let desired = desired(role, grants, index, context);
    let mut errors = desired.errors;
    let in_scope = |object: &ObjectRef| {
        index.owner_of.get(object) != Some(&role)
            && (context.cluster_wide_here || !object.kind.is_cluster_wide())
    };
    // Held privileges are looked up by role: a scan of every object per role would cost
    // roles x objects on a large database.
    let mut held: BTreeMap<(ObjectRef, String), BTreeMap<RoleName, bool>> = BTreeMap::new();
    for h in index.held_by_role.get(role).into_iter().flatten() {
        // A grant another revoke removes by cascade is as good as gone: declared, it is
        // granted again; undeclared, a revoke of its own would find nothing and fail.
        let cascade_key = (
            role.clone(),
            h.object.clone(),
            h.privilege.clone(),
            h.grantor.clone(),
        );
        if in_scope(&h.object) && !cascaded.contains(&cascade_key) {
            held.entry((h.object.clone(), h.privilege.clone()))
                .or_default()
                .insert(h.grantor.clone(), h.grant_option);
        }
    }

    // Per (object, privilege): grant what is missing (or lacks its declared grant option);
    // revoke, as each grantor, what is not declared, or only its grant option.
    let mut to_grant: BTreeMap<bool, BTreeSet<(ObjectRef, String)>> = BTreeMap::new();
    let mut to_revoke: BTreeMap<(RoleName, bool), BTreeSet<(ObjectRef, String)>> = BTreeMap::new();
    let empty = BTreeMap::new();
    for (pair, by) in &held {
        match desired.privileges.get(pair) {
            None => {
                for grantor in by.keys() {
                    to_revoke
                        .entry((grantor.clone(), false))
                        .or_default()
                        .insert(pair.clone());
                }
            }
            Some(false) => {
                for (grantor, _) in by.iter().filter(|(_, option)| **option) {
                    to_revoke
                        .entry((grantor.clone(), true))
                        .or_default()
                        .insert(pair.clone());
                }
            }
            Some(true) => {}
        }
    }
    // A table-level REVOKE also takes the same privilege, from the same grantor, off every
    // column of the table: those column grants are gone without a statement of their own, and
    // a declared one is granted again afterwards (column grants run after revokes).
    // Only the role's own column grants are looked at: few, where its revokes may be many.
    let mut wiped: BTreeSet<(ObjectRef, String, RoleName)> = BTreeSet::new();
    for ((column, privilege), by) in held
        .iter()
        .filter(|((o, _), _)| o.kind == ObjectKind::Column)
    {
        let table = (
            ObjectRef {
                kind: ObjectKind::Table,
                column: None,
                ..column.clone()
            },
            privilege.clone(),
        );
        for grantor in by.keys() {
            let revoked = to_revoke
                .get(&(grantor.clone(), false))
                .is_some_and(|pairs| pairs.contains(&table));
            if revoked {
                wiped.insert((column.clone(), privilege.clone(), grantor.clone()));
            }
        }
    }
    for ((grantor, _), pairs) in to_revoke.iter_mut() {
        pairs.retain(|(object, privilege)| {
            !wiped.contains(&(object.clone(), privilege.clone(), grantor.clone()))
        });
    }
    for (pair, &option) in &desired.privileges {
        let by = held.get(pair).unwrap_or(&empty);
        let remaining = by.iter().filter(|(grantor, _)| {
            !wiped.contains(&(pair.0.clone(), pair.1.clone(), (*grantor).clone()))
        });
        let (mut held_at_all, mut held_with_option) = (false, false);
        for (_, held_option) in remaining {
            held_at_all = true;
            held_with_option |= *held_option;
        }
        if !held_at_all || (option && !held_with_option) {
            to_grant.entry(option).or_default().insert(pair.clone());
        }
    }

    let mut changes = Vec::new();
    for (object, _) in to_grant.values().flatten() {
        if let Some(owner) = index
            .owner_of
            .get(object)
            .filter(|owner| !(context.admin_acts_as)(owner))
        {
            errors.push(PrivilegeError::OwnerNotActable {
                object: object.clone(),
                owner: (*owner).clone(),
                database: database.clone(),
            });
        }
    }
    for (grant_option, pairs) in &to_grant {
        for (kind, objects, privileges) in group(pairs, index, role) {
            changes.push(Change::Grant {
                database: database.clone(),
                kind,
                objects,
                privileges,
                grant_option: *grant_option,
            });
        }
    }
    for ((grantor, grant_option_only), pairs) in &to_revoke {
        if pairs.is_empty() {
            continue;
        }
        if !(context.admin_acts_as)(grantor) {
            errors.push(PrivilegeError::GrantorNotActable {
                grantor: grantor.clone(),
                database: database.clone(),
            });
        }
        // A privilege the role passed on is revoked on its own, with what hangs from it.
        let mut plain = BTreeSet::new();
        let mut passed_on = Vec::new();
        for (object, privilege) in pairs {
            let cascade = dependents(index, role, object, privilege);
            if cascade.is_empty() {
                plain.insert((object.clone(), privilege.clone()));
            } else {
                passed_on.push((object.clone(), privilege.clone(), cascade));
            }
        }
        for (kind, objects, privileges) in group(&plain, index, role) {
            changes.push(Change::Revoke {
                database: database.clone(),
                kind,
                objects,
                privileges,
                granted_by: grantor.clone(),
                grant_option_only: *grant_option_only,
                cascade: Vec::new(),
            });
        }
        for (object, privilege, cascade) in passed_on {
            changes.push(Change::Revoke {
                database: database.clone(),
                kind: object.kind,
                cascade,
                objects: GrantObjects::Objects {
                    objects: vec![object],
                },
                privileges: vec![privilege],
                granted_by: grantor.clone(),
                grant_option_only: *grant_option_only,
            });
        }
    }
    diff_defaults(
        role,
        &desired.defaults,
        index,
        context,
        &mut changes,
        &mut errors,
    );
    let mut notes = desired.notes;
    notes.sort();
    notes.dedup();
    errors.sort();
    errors.dedup();
    PrivilegeDiff {
        changes,
        notes,
        errors,
    }
}

/// Default privileges the role holds from other owners against those declared; its own
/// entries (what it gets on what it creates) and PUBLIC's are not pgroster's.
fn diff_defaults(
    role: &RoleName,
    desired: &BTreeMap<DefaultKey, bool>,
    index: &DatabaseIndex,
    context: &Context,
    changes: &mut Vec<Change>,
    errors: &mut Vec<PrivilegeError>,
) {
    let database = &index.state.database;
    let held = index.held_defaults(role);
    let mut grants: BTreeMap<(bool, DefaultGroup), Vec<String>> = BTreeMap::new();
    let mut revokes: BTreeMap<(bool, DefaultGroup), Vec<String>> = BTreeMap::new();
    for ((owner, schema, kind, privilege), &option) in desired {
        let have = held.get(&(owner.clone(), schema.clone(), *kind, privilege.clone()));
        let group = (owner.clone(), schema.clone(), *kind);
        match have {
            None => grants
                .entry((option, group))
                .or_default()
                .push(privilege.clone()),
            Some(false) if option => grants
                .entry((true, group))
                .or_default()
                .push(privilege.clone()),
            Some(true) if !option => revokes
                .entry((true, group))
                .or_default()
                .push(privilege.clone()),
            Some(_) => {}
        }
    }
    for key in held.keys() {
        let (owner, schema, kind, privilege) = key;
        if !desired.contains_key(key) {
            revokes
                .entry((false, (owner.clone(), schema.clone(), *kind)))
                .or_default()
                .push(privilege.clone());
        }
    }
    for ((grant_option, (owner, schema, kind)), privileges) in grants {
        changes.push(Change::GrantDefault {
            database: database.clone(),
            owner,
            schema,
            kind,
            privileges,
            grant_option,
        });
    }
    for ((grant_option_only, (owner, schema, kind)), privileges) in revokes {
        if !(context.admin_acts_as)(&owner) {
            errors.push(PrivilegeError::DefaultsOwnerNotActable {
                owner: owner.clone(),
                database: database.clone(),
            });
        }
        changes.push(Change::RevokeDefault {
            database: database.clone(),
            owner,
            schema,
            kind,
            privileges,
            grant_option_only,
        });
    }
}

/// The privileges and default privileges `grants` ask for in this database, resolved against
/// the objects that exist in it. Objects the role owns are left out: an owner's privileges are
/// implicit.
fn desired(
    role: &RoleName,
    grants: &[GrantSpec],
    index: &DatabaseIndex,
    context: &Context,
) -> Desired {
    let database = &index.state.database;
    let server_version_num = context.server_version_num;
    let mut out = Desired::default();
    for spec in grants {
        let kind = spec.target.kind();
        if kind.is_cluster_wide() && !context.cluster_wide_here {
            continue;
        }
        let mut privileges = expand(&spec.privileges, kind, server_version_num);
        // Validation accepts every privilege of any supported version; this server may lack one
        // (MAINTAIN before 17), and the GRANT would fail at apply.
        let supported = kind.all_privileges(server_version_num);
        privileges.retain(|privilege| {
            let known = supported.contains(&privilege.as_str());
            if !known {
                out.errors.push(PrivilegeError::PrivilegeNotOnServer {
                    privilege: privilege.clone(),
                    kind,
                    server_version_num,
                    database: database.clone(),
                });
            }
            known
        });
        let mut objects: Vec<&DbObject> = Vec::new();
        let mut future: Vec<(Option<&str>, BTreeSet<RoleName>)> = Vec::new();
        match &spec.target {
            GrantTarget::Database => objects.extend(index.objects(ObjectKind::Database, None)),
            GrantTarget::Schemas { names } => {
                for name in names {
                    match index.schema(name) {
                        Some(schema) => objects.push(schema),
                        None => out.notes.push(missing_schema(name, database)),
                    }
                }
            }
            GrantTarget::AllIn { kind, schemas } => {
                for schema in schemas {
                    let Some(schema_object) = index.schema(schema) else {
                        out.notes.push(missing_schema(schema, database));
                        continue;
                    };
                    let in_schema = index.objects(*kind, Some(schema));
                    if spec.existing {
                        objects.extend(in_schema);
                    }
                    if spec.future {
                        let fallback = if schema_object.owner.as_str() == DATABASE_OWNER_ROLE {
                            index.database_owner()
                        } else {
                            Some(&schema_object.owner)
                        };
                        let owners = future_owners(spec, role, in_schema, fallback);
                        future.push((Some(schema.as_str()), owners));
                    }
                }
            }
            GrantTarget::AllLargeObjects => {
                let all = index.objects(ObjectKind::LargeObject, None);
                if spec.existing {
                    objects.extend(all);
                }
                if spec.future {
                    if server_version_num < 180000 {
                        out.errors.push(PrivilegeError::DefaultsNotOnServer {
                            kind,
                            server_version_num,
                            database: database.clone(),
                        });
                    } else {
                        let owners = future_owners(spec, role, all, index.database_owner());
                        future.push((None, owners));
                    }
                }
            }
            GrantTarget::Named {
                kind,
                objects: names,
            } => {
                for (schema, name) in names {
                    let found = named(index, *kind, Some(schema), name);
                    if found.is_empty() {
                        out.notes.push(format!(
                            "{} {} does not exist in database {database}; its grant is skipped",
                            kind.noun(),
                            qualified(schema, name)
                        ));
                    }
                    objects.extend(found);
                }
            }
            GrantTarget::Columns { tables, columns } => {
                for (schema, table) in tables {
                    for column in columns {
                        let found: Vec<&DbObject> = named(index, kind, Some(schema), table)
                            .into_iter()
                            .filter(|o| o.object.column.as_deref() == Some(column.as_str()))
                            .collect();
                        if found.is_empty() {
                            out.notes.push(format!(
                                "column {}.{column} does not exist in database {database}; its grant is skipped",
                                qualified(schema, table)
                            ));
                        }
                        objects.extend(found);
                    }
                }
            }
            GrantTarget::Unqualified { kind, names } => {
                for name in names {
                    let found = named(index, *kind, None, name);
                    if found.is_empty() && !is_placeholder(*kind, name) {
                        out.notes.push(format!(
                            "{} {name} does not exist in database {database}; its grant is skipped",
                            kind.noun()
                        ));
                    }
                    objects.extend(found);
                }
            }
        }
        for object in objects.into_iter().filter(|o| &o.owner != role) {
            for privilege in &privileges {
                let option = out
                    .privileges
                    .entry((object.object.clone(), privilege.clone()))
                    .or_default();
                *option |= spec.grant_option;
            }
        }
        for (schema, owners) in future {
            for owner in owners {
                let problem_at = schema.map(str::to_string);
                if !(context.role_known)(&owner) {
                    out.errors.push(PrivilegeError::UnknownFutureOwner {
                        kind,
                        owner,
                        schema: problem_at,
                        database: database.clone(),
                    });
                    continue;
                }
                if !(context.admin_acts_as)(&owner) {
                    let problem = PrivilegeError::FutureOwnerNotActable {
                        kind,
                        owner,
                        schema: problem_at,
                        database: database.clone(),
                    };
                    if spec.future_owners.is_some() {
                        out.errors.push(problem);
                    } else {
                        out.notes.push(format!(
                            "{problem}; skipped (declare `future_owners` to choose owners)"
                        ));
                    }
                    continue;
                }
                for privilege in &privileges {
                    let key = (owner.clone(), problem_at.clone(), kind, privilege.clone());
                    *out.defaults.entry(key).or_default() |= spec.grant_option;
                }
            }
        }
    }
    out
}

/// The objects of `kind` called `name` (every overload of a function, every column of a table).
fn named<'a>(
    index: &DatabaseIndex<'a>,
    kind: ObjectKind,
    schema: Option<&str>,
    name: &str,
) -> Vec<&'a DbObject> {
    index
        .objects(kind, schema)
        .iter()
        .copied()
        .filter(|o| o.object.name == name)
        .collect()
}

/// A custom parameter (`extension.name`) may be granted on before the extension that defines
/// it is loaded; the server then records the name as it is.
fn is_placeholder(kind: ObjectKind, name: &str) -> bool {
    kind == ObjectKind::Parameter && name.contains('.')
}

fn qualified(schema: &str, name: &str) -> String {
    format!("{schema}.{name}")
}

/// Grants that the plan's revokes remove by cascade in one database: grantee, object,
/// privilege, grantor.
pub(crate) type Cascaded = BTreeSet<(RoleName, ObjectRef, String, RoleName)>;

/// The grants in one database that disappear, by cascade, with the grant options the plan
/// takes from `roles` (each declared role and its grants): the other roles' diffs must count
/// them as gone. Only a role that passed a privilege on can cause one, so the rest cost a lookup.
pub(crate) fn cascaded(
    roles: &[(&RoleName, &[GrantSpec])],
    index: &DatabaseIndex,
    context: &Context,
) -> Cascaded {
    let mut gone = Cascaded::new();
    for (role, grants) in roles {
        if !index.granted_by_role.contains_key(role) {
            continue;
        }
        let desired = desired(role, grants, index, context);
        for held in index.held_by_role.get(role).into_iter().flatten() {
            let pair = (held.object.clone(), held.privilege.clone());
            let keeps_option = desired.privileges.get(&pair) == Some(&true);
            if !held.grant_option || keeps_option || index.owner_of.get(&held.object) == Some(role)
            {
                continue;
            }
            for dependent in dependents(index, role, &held.object, &held.privilege) {
                gone.insert((
                    dependent.grantee,
                    dependent.object,
                    dependent.privilege,
                    dependent.grantor,
                ));
            }
        }
    }
    gone
}

/// The grants of `privilege` on `object` that hang from `role`'s grant option: those it made,
/// and, recursively, those made by a grantee that loses its own grant option with them (it has
/// no other grant with the option). What `REVOKE .. CASCADE` removes.
fn dependents(
    index: &DatabaseIndex,
    role: &RoleName,
    object: &ObjectRef,
    privilege: &str,
) -> Vec<DependentGrant> {
    let mut found = Vec::new();
    let mut losing = vec![role];
    let mut lost: BTreeSet<&RoleName> = BTreeSet::from([role]);
    while let Some(grantor) = losing.pop() {
        let made = index.granted_by_role.get(grantor).into_iter().flatten();
        for grant in made.filter(|g| &g.object == object && g.privilege == privilege) {
            found.push(DependentGrant {
                grantee: grant.grantee.clone(),
                object: grant.object.clone(),
                privilege: grant.privilege.clone(),
                grantor: grant.grantor.clone(),
            });
            let keeps_option = index
                .held_by_role
                .get(&grant.grantee)
                .into_iter()
                .flatten()
                .any(|other| {
                    &other.object == object
                        && other.privilege == privilege
                        && other.grant_option
                        && !lost.contains(&other.grantor)
                });
            if grant.grant_option && !keeps_option && lost.insert(&grant.grantee) {
                losing.push(&grant.grantee);
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Named objects that exist in none of the role's target databases: a typo, not an object
/// created later in one database, so the plan refuses it (a per-database note would let the plan
/// revoke the real grant and then report nothing to do). The suggestion comes from the names of
/// that kind in those databases; an unquoted name differing only in case is suggested too.
pub(crate) fn missing_everywhere(
    grants: &[GrantSpec],
    indexes: &[&DatabaseIndex],
) -> Vec<PrivilegeError> {
    let mut errors = Vec::new();
    if indexes.is_empty() {
        return errors;
    }
    let databases: Vec<&str> = indexes.iter().map(|i| i.state.database.as_str()).collect();
    for spec in grants {
        // Each wanted object as (schema, name, column) and as the plan prints it.
        let kind = spec.target.kind();
        let wanted: Vec<(Option<&str>, &str, Option<&str>)> = match &spec.target {
            GrantTarget::Named { objects, .. } => objects
                .iter()
                .map(|(schema, name)| (Some(schema.as_str()), name.as_str(), None))
                .collect(),
            GrantTarget::Columns { tables, columns } => tables
                .iter()
                .flat_map(|(schema, table)| {
                    columns
                        .iter()
                        .map(move |c| (Some(schema.as_str()), table.as_str(), Some(c.as_str())))
                })
                .collect(),
            GrantTarget::Unqualified { names, .. } => names
                .iter()
                .filter(|name| !is_placeholder(kind, name))
                .map(|name| (None, name.as_str(), None))
                .collect(),
            _ => continue,
        };
        for (schema, name, column) in wanted {
            let matches =
                |o: &&DbObject| o.object.name == name && o.object.column.as_deref() == column;
            let exists = indexes
                .iter()
                .any(|index| index.objects(kind, schema).iter().any(matches));
            if exists {
                continue;
            }
            let known: BTreeSet<String> = indexes
                .iter()
                .flat_map(|index| index.state.objects.iter())
                .filter(|o| o.object.kind == kind)
                .map(|o| display_name(&o.object))
                .collect();
            let wanted = display_name(&ObjectRef {
                kind,
                schema: schema.map(str::to_string),
                name: name.to_string(),
                arguments: None,
                column: column.map(str::to_string),
            });
            let suggestion = nearest(&wanted, known.iter().map(String::as_str))
                .or_else(|| {
                    known
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(&wanted))
                        .map(String::as_str)
                })
                .map(str::to_string);
            errors.push(PrivilegeError::UnknownObject {
                kind,
                object: wanted,
                databases: databases.join(", "),
                suggestion,
            });
        }
    }
    errors.sort();
    errors.dedup();
    errors
}

/// `schema.name`, `schema.table.column` or `name`, as written in `names`, without a function's
/// arguments (a name stands for every overload).
fn display_name(object: &ObjectRef) -> String {
    let mut parts: Vec<&str> = object.schema.iter().map(String::as_str).collect();
    parts.push(&object.name);
    parts.extend(object.column.as_deref());
    parts.join(".")
}

fn missing_schema(name: &str, database: &str) -> String {
    format!("schema {name} does not exist in database {database}; grants on it are skipped until it does")
}

/// `ALL` becomes the kind's privileges on this server version.
fn expand(
    privileges: &BTreeSet<String>,
    kind: ObjectKind,
    server_version_num: i32,
) -> BTreeSet<String> {
    privileges
        .iter()
        .flat_map(|p| {
            if p == "ALL" {
                kind.all_privileges(server_version_num)
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            } else {
                vec![p.clone()]
            }
        })
        .collect()
}

/// Whose future objects a `future` grant covers: as declared, else the owners of the objects
/// of that kind there now, else `fallback` (the schema's owner; the database owner for a schema
/// owned by `pg_database_owner`, and for large objects).
fn future_owners(
    spec: &GrantSpec,
    role: &RoleName,
    existing: &[&DbObject],
    fallback: Option<&RoleName>,
) -> BTreeSet<RoleName> {
    let owners: BTreeSet<RoleName> = match &spec.future_owners {
        Some(owners) => owners.iter().cloned().collect(),
        None if !existing.is_empty() => existing.iter().map(|o| o.owner.clone()).collect(),
        None => fallback.cloned().into_iter().collect(),
    };
    owners.into_iter().filter(|o| o != role).collect()
}

type Grouped = Vec<(ObjectKind, GrantObjects, Vec<String>)>;

/// Groups (object, privilege) pairs into as few statements as read well: "all tables in schema"
/// when every object of the kind there is concerned, else the objects by name; privileges that
/// concern the same objects share a statement.
fn group(pairs: &BTreeSet<(ObjectRef, String)>, index: &DatabaseIndex, role: &RoleName) -> Grouped {
    // Column privileges are granted per table (`UPDATE (a, b) ON TABLE t`).
    type Key = (ObjectKind, Option<String>, Option<String>, String);
    let mut by_privilege: BTreeMap<Key, BTreeSet<ObjectRef>> = BTreeMap::new();
    for (object, privilege) in pairs {
        let table = object.column.is_some().then(|| object.name.clone());
        by_privilege
            .entry((object.kind, object.schema.clone(), table, privilege.clone()))
            .or_default()
            .insert(object.clone());
    }
    let mut by_objects: BTreeMap<(ObjectKind, GrantObjects), Vec<String>> = BTreeMap::new();
    for ((kind, schema, _, privilege), objects) in by_privilege {
        let whole_schema = match (&schema, kind) {
            (Some(schema), ObjectKind::Table | ObjectKind::Sequence | ObjectKind::Function) => {
                let all: BTreeSet<&ObjectRef> = index
                    .objects(kind, Some(schema))
                    .iter()
                    .filter(|o| &o.owner != role)
                    .map(|o| &o.object)
                    .collect();
                let every_object_concerned =
                    all.len() == objects.len() && all.iter().all(|o| objects.contains(*o));
                // `ON ALL .. IN SCHEMA` also reaches objects the role owns; only use it when
                // there are none, so it grants exactly what the plan shows.
                let owns_some = index
                    .objects(kind, Some(schema))
                    .iter()
                    .any(|o| &o.owner == role);
                (every_object_concerned && objects.len() > 1 && !owns_some).then(|| schema.clone())
            }
            _ => None,
        };
        let key = match whole_schema {
            Some(schema) => GrantObjects::AllInSchema { schema },
            None => GrantObjects::Objects {
                objects: objects.into_iter().collect(),
            },
        };
        by_objects.entry((kind, key)).or_default().push(privilege);
    }
    by_objects
        .into_iter()
        .map(|((kind, objects), privileges)| (kind, objects, privileges))
        .collect()
}

/// The default privileges one `ALTER DEFAULT PRIVILEGES` statement sets: owner, schema, kind.
type DefaultGroup = (RoleName, Option<String>, ObjectKind);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
