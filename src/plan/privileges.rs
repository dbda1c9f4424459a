//! The privilege diff of one role in one database: declared grants against held privileges.
//!
//! A managed role's grants are authoritative in its target databases: a privilege it holds on
//! an object there that no grant declares is revoked. Objects the role owns are left out (an
//! owner's privileges are implicit), and so are the role's own entries in its default privileges
//! (what it gets on objects it creates, issue 10), PUBLIC and the system schemas. Who granted a
//! privilege does not matter: held is held. A named object missing from one database is a note
//! there; missing from every target database, it is an error (`missing_everywhere`).

use super::{Change, GrantObjects, PrivilegeError};
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
        for held in &state.held {
            held_by_role.entry(&held.grantee).or_default().push(held);
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
            defaults_by_role,
            owner_of,
        }
    }

    fn objects<'s>(&'s self, kind: ObjectKind, schema: Option<&'s str>) -> &'s [&'a DbObject] {
        self.by_kind_schema
            .get(&(kind, schema))
            .map_or(&[], Vec::as_slice)
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
    pub admin_acts_as: &'a dyn Fn(&RoleName) -> bool,
    /// Whether a role exists on the cluster or is declared for it (so the apply creates it first).
    pub role_known: &'a dyn Fn(&RoleName) -> bool,
}

/// The changes for one role in one database, what the reader should know, and what cannot be
/// done by this admin.
#[derive(Debug, Default)]
pub struct PrivilegeDiff {
    pub changes: Vec<Change>,
    pub notes: Vec<String>,
    pub errors: Vec<PrivilegeError>,
}

/// The changes that make `role`'s privileges in one database match `grants`.
pub(crate) fn diff_database(
    role: &RoleName,
    grants: &[GrantSpec],
    index: &DatabaseIndex,
    context: &Context,
) -> PrivilegeDiff {
    let database = &index.state.database;
    let server_version_num = context.server_version_num;
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    let owned = |o: &DbObject| &o.owner == role;
    let mut desired: BTreeSet<(ObjectRef, String)> = BTreeSet::new();
    let mut desired_defaults: BTreeSet<DefaultPrivilege> = BTreeSet::new();
    for spec in grants {
        let kind = spec.target.kind();
        let mut privileges = expand(&spec.privileges, kind, server_version_num);
        // Validation accepts every privilege of any supported version; this server may lack one
        // (MAINTAIN before 17), and the GRANT would fail at apply.
        let supported = kind.all_privileges(server_version_num);
        privileges.retain(|privilege| {
            let known = supported.contains(&privilege.as_str());
            if !known {
                errors.push(PrivilegeError::PrivilegeNotOnServer {
                    privilege: privilege.clone(),
                    kind,
                    server_version_num,
                    database: database.clone(),
                });
            }
            known
        });
        let mut objects: Vec<&DbObject> = Vec::new();
        match &spec.target {
            GrantTarget::Database => objects.extend(index.objects(ObjectKind::Database, None)),
            GrantTarget::Schemas { names } => {
                for name in names {
                    match index.schema(name) {
                        Some(schema) => objects.push(schema),
                        None => notes.push(missing_schema(name, database)),
                    }
                }
            }
            GrantTarget::AllIn { kind, schemas } => {
                for schema in schemas {
                    let Some(schema_object) = index.schema(schema) else {
                        notes.push(missing_schema(schema, database));
                        continue;
                    };
                    let in_schema = index.objects(*kind, Some(schema));
                    objects.extend(in_schema);
                    if spec.future {
                        let owners = future_owners(spec, role, in_schema, schema_object, index);
                        for owner in owners.into_iter().filter(|owner| {
                            if !(context.role_known)(owner) {
                                errors.push(PrivilegeError::UnknownFutureOwner {
                                    kind: *kind,
                                    owner: owner.clone(),
                                    schema: schema.clone(),
                                    database: database.clone(),
                                });
                                return false;
                            }
                            if (context.admin_acts_as)(owner) {
                                return true;
                            }
                            let problem = PrivilegeError::FutureOwnerNotActable {
                                kind: *kind,
                                owner: owner.clone(),
                                schema: schema.clone(),
                                database: database.clone(),
                            };
                            if spec.future_owners.is_some() {
                                errors.push(problem);
                            } else {
                                notes.push(format!(
                                    "{problem}; skipped (declare `future_owners` to choose owners)"
                                ));
                            }
                            false
                        }) {
                            for privilege in &privileges {
                                desired_defaults.insert(DefaultPrivilege {
                                    owner: owner.clone(),
                                    schema: Some(schema.clone()),
                                    kind: *kind,
                                    grantee: role.clone(),
                                    privilege: privilege.clone(),
                                });
                            }
                        }
                    }
                }
            }
            GrantTarget::Named {
                kind,
                objects: names,
            } => {
                for (schema, name) in names {
                    let found: Vec<&DbObject> = index
                        .objects(*kind, Some(schema))
                        .iter()
                        .copied()
                        .filter(|o| &o.object.name == name)
                        .collect();
                    if found.is_empty() {
                        notes.push(format!(
                            "{} {schema}.{name} does not exist in database {database}; its grant is skipped",
                            kind.noun()
                        ));
                    }
                    objects.extend(found);
                }
            }
        }
        for object in objects.into_iter().filter(|o| !owned(o)) {
            for privilege in &privileges {
                desired.insert((object.object.clone(), privilege.clone()));
            }
        }
    }
    // Held privileges are looked up by object: a scan of every object per role would cost
    // roles x objects on a large database.
    let owns = |object: &ObjectRef| index.owner_of.get(object) == Some(&role);
    let mut grantors: BTreeMap<(ObjectRef, String), BTreeSet<RoleName>> = BTreeMap::new();
    for h in index.held_by_role.get(role).into_iter().flatten() {
        if !owns(&h.object) {
            grantors
                .entry((h.object.clone(), h.privilege.clone()))
                .or_default()
                .insert(h.grantor.clone());
        }
    }
    let held: BTreeSet<(ObjectRef, String)> = grantors.keys().cloned().collect();
    let held_defaults: BTreeSet<DefaultPrivilege> = index
        .defaults_by_role
        .get(role)
        .into_iter()
        .flatten()
        .filter(|d| &d.owner != role)
        .map(|d| (*d).clone())
        .collect();

    let mut changes = Vec::new();
    let to_grant: BTreeSet<_> = desired.difference(&held).cloned().collect();
    for (object, _) in &to_grant {
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
    for (kind, objects, privileges) in group(&to_grant, index, role) {
        changes.push(Change::Grant {
            database: database.clone(),
            kind,
            objects,
            privileges,
        });
    }
    // One revoke per grantor: REVOKE removes only the grants of the role it acts as.
    let mut to_revoke: BTreeMap<&RoleName, BTreeSet<(ObjectRef, String)>> = BTreeMap::new();
    for (pair, by) in &grantors {
        if !desired.contains(pair) {
            for grantor in by {
                to_revoke.entry(grantor).or_default().insert(pair.clone());
            }
        }
    }
    for (grantor, pairs) in to_revoke {
        if !(context.admin_acts_as)(grantor) {
            errors.push(PrivilegeError::GrantorNotActable {
                grantor: grantor.clone(),
                database: database.clone(),
            });
        }
        for (kind, objects, privileges) in group(&pairs, index, role) {
            changes.push(Change::Revoke {
                database: database.clone(),
                kind,
                objects,
                privileges,
                granted_by: grantor.clone(),
            });
        }
    }
    for ((owner, schema, kind), privileges) in
        group_defaults(desired_defaults.difference(&held_defaults))
    {
        changes.push(Change::GrantDefault {
            database: database.clone(),
            owner,
            schema,
            kind,
            privileges,
        });
    }
    for ((owner, schema, kind), privileges) in
        group_defaults(held_defaults.difference(&desired_defaults))
    {
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
        });
    }
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
        let GrantTarget::Named { kind, objects } = &spec.target else {
            continue;
        };
        for (schema, name) in objects {
            let exists = indexes.iter().any(|index| {
                index
                    .objects(*kind, Some(schema))
                    .iter()
                    .any(|o| &o.object.name == name)
            });
            if exists {
                continue;
            }
            let known: BTreeSet<String> = indexes
                .iter()
                .flat_map(|index| index.state.objects.iter())
                .filter(|o| o.object.kind == *kind)
                .filter_map(|o| Some(format!("{}.{}", o.object.schema.as_deref()?, o.object.name)))
                .collect();
            let wanted = format!("{schema}.{name}");
            let suggestion = nearest(&wanted, known.iter().map(String::as_str))
                .or_else(|| {
                    known
                        .iter()
                        .find(|k| k.eq_ignore_ascii_case(&wanted))
                        .map(String::as_str)
                })
                .map(str::to_string);
            errors.push(PrivilegeError::UnknownObject {
                kind: *kind,
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

/// Whose future objects a `future` grant covers: as declared, else the owners of the schema's
/// objects of that kind, else the schema's owner (the database owner for `pg_database_owner`).
fn future_owners(
    spec: &GrantSpec,
    role: &RoleName,
    in_schema: &[&DbObject],
    schema: &DbObject,
    index: &DatabaseIndex,
) -> BTreeSet<RoleName> {
    let owners: BTreeSet<RoleName> = match &spec.future_owners {
        Some(owners) => owners.iter().cloned().collect(),
        None if !in_schema.is_empty() => in_schema.iter().map(|o| o.owner.clone()).collect(),
        None if schema.owner.as_str() == DATABASE_OWNER_ROLE => {
            index.database_owner().cloned().into_iter().collect()
        }
        None => BTreeSet::from([schema.owner.clone()]),
    };
    owners.into_iter().filter(|o| o != role).collect()
}

type Grouped = Vec<(ObjectKind, GrantObjects, Vec<String>)>;

/// Groups (object, privilege) pairs into as few statements as read well: "all tables in schema"
/// when every object of the kind there is concerned, else the objects by name; privileges that
/// concern the same objects share a statement.
fn group(pairs: &BTreeSet<(ObjectRef, String)>, index: &DatabaseIndex, role: &RoleName) -> Grouped {
    let mut by_privilege: BTreeMap<(ObjectKind, Option<String>, String), BTreeSet<ObjectRef>> =
        BTreeMap::new();
    for (object, privilege) in pairs {
        by_privilege
            .entry((object.kind, object.schema.clone(), privilege.clone()))
            .or_default()
            .insert(object.clone());
    }
    let mut by_objects: BTreeMap<(ObjectKind, GrantObjects), Vec<String>> = BTreeMap::new();
    for ((kind, schema, privilege), objects) in by_privilege {
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

type DefaultKey = (RoleName, Option<String>, ObjectKind);

fn group_defaults<'a>(
    defaults: impl Iterator<Item = &'a DefaultPrivilege>,
) -> BTreeMap<DefaultKey, Vec<String>> {
    let mut grouped: BTreeMap<DefaultKey, Vec<String>> = BTreeMap::new();
    for d in defaults {
        grouped
            .entry((d.owner.clone(), d.schema.clone(), d.kind))
            .or_default()
            .push(d.privilege.clone());
    }
    grouped
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
