//! One role's privileges and default privileges, as held in its databases, -> the grants that
//! declare them, checked against the planner: in every database the declared grants must plan
//! no change.
//!
//! Grants are declared once per role and cluster, so what is held in each database is merged:
//! objects by name (`on: tables, schemas: [..]` only where the role holds the privilege on
//! every table of the schema in every database), default privileges as `future` grants with
//! `existing: false` and their owner. Where the databases disagree on an object they share, no
//! declaration can say it; the planner's diff finds that and the role is reported instead.

use crate::model::privileges::{GrantSpec, GrantTarget, ObjectKind, ObjectRef};
use crate::model::{CurrentCluster, RoleName};
use crate::plan::privileges::{diff_database, Cascaded, Context, DatabaseIndex, DefaultKey};
use std::collections::{BTreeMap, BTreeSet};

/// A privilege on an object -> held with the grant option (by any grantor).
type Held = BTreeMap<(ObjectRef, String), bool>;

/// What the role holds in one database that the planner compares: objects it does not own,
/// the cluster-wide ones only in the first database (where the planner diffs them).
pub(super) fn held_in(role: &RoleName, index: &DatabaseIndex, first: bool) -> Held {
    let mut held = Held::new();
    for h in index.held_by(role) {
        if index.owner(&h.object) == Some(role) || (!first && h.object.kind.is_cluster_wide()) {
            continue;
        }
        *held
            .entry((h.object.clone(), h.privilege.clone()))
            .or_default() |= h.grant_option;
    }
    held
}

/// Default privileges the role holds from another owner: (owner, schema, kind, privilege) ->
/// grant option.
type Defaults = BTreeMap<DefaultKey, bool>;

/// Why a role's privileges cannot be declared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Undeclarable {
    #[error(
        "it holds default privileges on {kind}s from {owner} in every schema (ALTER DEFAULT \
         PRIVILEGES without IN SCHEMA), which a grant cannot declare"
    )]
    GlobalDefaults { kind: &'static str, owner: RoleName },
    /// Privileges that differ between databases on objects they share (a role has one set of
    /// grants per cluster), or on some overloads of a function only (a grant names them all).
    #[error(
        "its privileges differ between its databases on objects they share, or cover only some \
         overloads of a function, which one set of grants cannot say: declared, the plan would \
         still {action} in database {database}"
    )]
    Differs { action: String, database: String },
    #[error("in database {database}: {problem}")]
    Plan { database: String, problem: String },
}

/// The grants that declare what `role` holds in `databases` (its target databases, by name).
pub(super) fn grants_for(
    role: &RoleName,
    databases: &[&DatabaseIndex],
    current: &CurrentCluster,
) -> Result<Vec<GrantSpec>, Undeclarable> {
    let held: Vec<Held> = databases
        .iter()
        .enumerate()
        .map(|(i, index)| held_in(role, index, i == 0))
        .collect();
    let mut specs = Vec::new();
    let covered = all_in_grants(role, databases, &held, &mut specs);
    named_grants(&held, &covered, &mut specs);
    default_grants(role, databases, &mut specs)?;
    specs.sort();
    specs.dedup();
    verify(role, &specs, databases, current)?;
    Ok(specs)
}

/// `on: tables|sequences|functions, schemas: [s]` for each privilege the role holds on every
/// object of the kind in `s` it does not own, in every database that has `s`, when that is more
/// than one object. Returns what they cover, with the grant option they give.
fn all_in_grants(
    role: &RoleName,
    databases: &[&DatabaseIndex],
    held: &[Held],
    specs: &mut Vec<GrantSpec>,
) -> Held {
    let kinds = [
        ObjectKind::Table,
        ObjectKind::Sequence,
        ObjectKind::Function,
    ];
    // (kind, schema, privilege) -> (objects seen, all held, all held with option)
    let mut candidates: BTreeMap<(ObjectKind, String, String), (usize, bool, bool)> =
        BTreeMap::new();
    for held in held {
        for (object, privilege) in held.keys() {
            if let (true, Some(schema)) = (kinds.contains(&object.kind), &object.schema) {
                candidates
                    .entry((object.kind, schema.clone(), privilege.clone()))
                    .or_insert((0, true, true));
            }
        }
    }
    for (index, held) in databases.iter().zip(held) {
        for ((kind, schema, privilege), (seen, all, with_option)) in candidates.iter_mut() {
            let objects = index.objects(*kind, Some(schema.as_str())).iter();
            for object in objects.filter(|o| &o.owner != role) {
                *seen += 1;
                match held.get(&(object.object.clone(), privilege.clone())) {
                    None => *all = false,
                    Some(option) => *with_option &= *option,
                }
            }
        }
    }
    // (kind, schema) -> privilege -> grant option
    let mut whole: BTreeMap<(ObjectKind, String), BTreeMap<String, bool>> = BTreeMap::new();
    for ((kind, schema, privilege), (seen, all, with_option)) in candidates {
        if all && seen > 1 {
            whole
                .entry((kind, schema))
                .or_default()
                .insert(privilege, with_option);
        }
    }
    let mut covered = Held::new();
    for index in databases {
        for ((kind, schema), privileges) in &whole {
            let objects = index.objects(*kind, Some(schema.as_str())).iter();
            for object in objects.filter(|o| &o.owner != role) {
                for (privilege, option) in privileges {
                    covered.insert((object.object.clone(), privilege.clone()), *option);
                }
            }
        }
    }
    // Schemas with the same privileges share a grant.
    let mut grouped: BTreeMap<(ObjectKind, BTreeSet<String>, bool), Vec<String>> = BTreeMap::new();
    for ((kind, schema), privileges) in whole {
        for (option, these) in by_option(&privileges) {
            grouped
                .entry((kind, these, option))
                .or_default()
                .push(schema.clone());
        }
    }
    for ((kind, privileges, grant_option), schemas) in grouped {
        specs.push(spec(
            GrantTarget::AllIn { kind, schemas },
            privileges,
            grant_option,
        ));
    }
    covered
}

/// The privileges held without the grant option, then those held with it; empty sets left out.
fn by_option(privileges: &BTreeMap<String, bool>) -> Vec<(bool, BTreeSet<String>)> {
    [false, true]
        .into_iter()
        .map(|option| {
            let these = privileges
                .iter()
                .filter(|(_, o)| **o == option)
                .map(|(p, _)| p.clone())
                .collect::<BTreeSet<_>>();
            (option, these)
        })
        .filter(|(_, these)| !these.is_empty())
        .collect()
}

fn spec(target: GrantTarget, privileges: BTreeSet<String>, grant_option: bool) -> GrantSpec {
    GrantSpec {
        target,
        privileges,
        grant_option,
        future: false,
        future_owners: None,
        existing: true,
    }
}

/// Which grant an object's privileges go in: objects of one kind (and, for columns, one table)
/// with the same privileges share it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Database,
    Schema,
    /// Table, sequence, function, type: by `schema.name` (a function name: every overload).
    Named(ObjectKind),
    /// Columns of one table.
    Columns(String, String),
    Unqualified(ObjectKind),
}

/// Everything held that the `on: ... schemas` grants do not cover, by name, in every database.
fn named_grants(held: &[Held], covered: &Held, specs: &mut Vec<GrantSpec>) {
    // (slot, the object's name in it) -> privilege -> grant option
    let mut by_object: BTreeMap<(Slot, String, Option<String>), BTreeMap<String, bool>> =
        BTreeMap::new();
    for held in held {
        for ((object, privilege), option) in held {
            if covered
                .get(&(object.clone(), privilege.clone()))
                .is_some_and(|c| *c || !*option)
            {
                continue;
            }
            let (slot, name, schema) = match object.kind {
                ObjectKind::Database => (Slot::Database, String::new(), None),
                ObjectKind::Schema => (Slot::Schema, object.name.clone(), None),
                ObjectKind::Column => (
                    Slot::Columns(
                        object.schema.clone().unwrap_or_default(),
                        object.name.clone(),
                    ),
                    object.column.clone().unwrap_or_default(),
                    None,
                ),
                ObjectKind::Table
                | ObjectKind::Sequence
                | ObjectKind::Function
                | ObjectKind::Type => (
                    Slot::Named(object.kind),
                    object.name.clone(),
                    object.schema.clone(),
                ),
                kind => (Slot::Unqualified(kind), object.name.clone(), None),
            };
            *by_object
                .entry((slot, name, schema))
                .or_default()
                .entry(privilege.clone())
                .or_default() |= *option;
        }
    }
    // (slot, privileges, grant option) -> names
    type Names = Vec<(Option<String>, String)>;
    let mut grouped: BTreeMap<(Slot, BTreeSet<String>, bool), Names> = BTreeMap::new();
    for ((slot, name, schema), privileges) in by_object {
        for (option, these) in by_option(&privileges) {
            grouped
                .entry((slot.clone(), these, option))
                .or_default()
                .push((schema.clone(), name.clone()));
        }
    }
    for ((slot, privileges, grant_option), names) in grouped {
        let plain = || names.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>();
        let target = match slot {
            Slot::Database => GrantTarget::Database,
            Slot::Schema => GrantTarget::Schemas { names: plain() },
            Slot::Named(kind) => GrantTarget::Named {
                kind,
                objects: names
                    .iter()
                    .map(|(s, n)| (s.clone().unwrap_or_default(), n.clone()))
                    .collect(),
            },
            Slot::Columns(schema, table) => GrantTarget::Columns {
                tables: vec![(schema, table)],
                columns: plain(),
            },
            Slot::Unqualified(kind) => GrantTarget::Unqualified {
                kind,
                names: plain(),
            },
        };
        specs.push(spec(target, privileges, grant_option));
    }
}

/// Default privileges as `future` grants with `existing: false`, one per owner, kind and
/// privileges, over the schemas they hold in.
fn default_grants(
    role: &RoleName,
    databases: &[&DatabaseIndex],
    specs: &mut Vec<GrantSpec>,
) -> Result<(), Undeclarable> {
    let mut all = Defaults::new();
    for index in databases {
        for (key, option) in index.held_defaults(role) {
            *all.entry(key).or_default() |= option;
        }
    }
    // (owner, schema, kind) -> privilege -> option
    let mut by_place: BTreeMap<(RoleName, Option<String>, ObjectKind), BTreeMap<String, bool>> =
        BTreeMap::new();
    for ((owner, schema, kind, privilege), option) in all {
        let allowed = matches!(
            (&schema, kind),
            (
                Some(_),
                ObjectKind::Table | ObjectKind::Sequence | ObjectKind::Function | ObjectKind::Type
            ) | (None, ObjectKind::LargeObject)
        );
        if !allowed {
            return Err(Undeclarable::GlobalDefaults {
                kind: kind.noun(),
                owner,
            });
        }
        by_place
            .entry((owner, schema, kind))
            .or_default()
            .insert(privilege, option);
    }
    // (owner, kind, privileges, option) -> schemas
    type Key = (RoleName, ObjectKind, BTreeSet<String>, bool);
    let mut grouped: BTreeMap<Key, Vec<Option<String>>> = BTreeMap::new();
    for ((owner, schema, kind), privileges) in by_place {
        for (option, these) in by_option(&privileges) {
            grouped
                .entry((owner.clone(), kind, these, option))
                .or_default()
                .push(schema.clone());
        }
    }
    for ((owner, kind, privileges, grant_option), schemas) in grouped {
        let target = if kind == ObjectKind::LargeObject {
            GrantTarget::AllLargeObjects
        } else {
            GrantTarget::AllIn {
                kind,
                schemas: schemas.into_iter().flatten().collect(),
            }
        };
        specs.push(GrantSpec {
            target,
            privileges,
            grant_option,
            future: true,
            future_owners: Some(vec![owner]),
            existing: false,
        });
    }
    Ok(())
}

/// The planner's own diff of `specs` in each database: anything but no change means the
/// declaration would not give back what is held.
pub(super) fn verify(
    role: &RoleName,
    specs: &[GrantSpec],
    databases: &[&DatabaseIndex],
    current: &CurrentCluster,
) -> Result<(), Undeclarable> {
    for (position, index) in databases.iter().enumerate() {
        let database = &index.state.database;
        let context = Context {
            server_version_num: current.server_version_num,
            admin_acts_as: Box::new(|owner: &RoleName| {
                current.admin.superuser || current.roles.get(owner).is_some_and(|r| r.admin_acts_as)
            }),
            role_known: Box::new(|name: &RoleName| current.roles.contains_key(name)),
            cluster_wide_here: position == 0,
        };
        let diff = diff_database(role, specs, index, &context, &Cascaded::new());
        if let Some(error) = diff.errors.first() {
            return Err(Undeclarable::Plan {
                database: database.clone(),
                problem: error.to_string(),
            });
        }
        if let Some(change) = diff.changes.first() {
            return Err(Undeclarable::Differs {
                action: change.action_name().replace('_', " "),
                database: database.clone(),
            });
        }
    }
    Ok(())
}
