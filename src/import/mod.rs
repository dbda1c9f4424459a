//! What a cluster has now -> a roles file that declares it (`pgroster import`), pure.
//!
//! For each role in scope (neither the admin, nor ignored, nor declared already, and selected by
//! `--roles`): its attributes, role-wide and per-database settings, memberships with their
//! options, and its privileges and default privileges in the cluster's registered databases
//! (`grants`). Never a password: the file leaves the password key out, so an existing password
//! is left alone (a login role's default, `generate`, only acts on a role it creates, or when a
//! rotation key is declared). The contract, checked by the integration tests: with the file
//! beside the registry, the plan only adopts (markers), and after apply it is empty. A role
//! whose state no declaration can give back is left out and said why (`Imported::skipped`).

mod document;
mod grants;

pub use document::{Document, Format, Grant, Membership, RenderError, RoleEntry};
pub use grants::Undeclarable;

use crate::config::ProfileState;
use crate::model::membership_graph::{conferred_by, Node};
use crate::model::privileges::DatabaseState;
use crate::model::{CurrentCluster, CurrentRole, Escalation, RoleName, SettingScope, TargetName};
use crate::plan::privileges::DatabaseIndex;
use crate::registry::NameGlob;
use std::collections::{BTreeMap, BTreeSet};

/// What `import` reads and knows about one cluster.
pub struct ImportInput<'a> {
    pub current: &'a CurrentCluster,
    /// The privileges of each active registered database of the cluster that exists, by name.
    pub databases: &'a BTreeMap<String, DatabaseState>,
    /// The cluster's active registry entries.
    pub targets: &'a [TargetName],
    /// The cluster's registry name when one of its targets is also registered on another
    /// cluster: the written targets then name it, else the roles would land on every cluster.
    pub cluster: Option<&'a str>,
    /// `ignore_roles` with the protected roles and the admin (as `config::lower` compiles it).
    pub ignore_roles: &'a [NameGlob],
    /// `--roles`: only the roles it matches.
    pub roles: Option<&'a NameGlob>,
    /// Roles the config already declares on this cluster: not written again.
    pub declared: &'a BTreeSet<RoleName>,
    /// Built-in and configured profiles: a role that matches one exactly is declared with it.
    pub profiles: &'a BTreeMap<String, ProfileState>,
}

/// The document, and the roles in scope that are not in it, with why.
#[derive(Debug, Default)]
pub struct Imported {
    pub document: Document,
    /// How many roles the document declares.
    pub roles: usize,
    pub skipped: Vec<(RoleName, SkipReason)>,
}

/// Why a role in scope is not in the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    #[error("already declared in the config")]
    Declared,
    #[error("its name cannot be declared: {0}")]
    Name(String),
    #[error("VALID UNTIL '-infinity' (never valid) cannot be declared")]
    NeverValid,
    /// Adopting it means altering it (its marker), which the plan would refuse.
    #[error("admin \"{0}\" may not alter it (a superuser role, or on PostgreSQL 16+ no ADMIN OPTION on it)")]
    AdminCannotAlter(String),
    #[error(transparent)]
    Privileges(#[from] Undeclarable),
}

/// Declares every role of the cluster in scope.
pub fn import(input: &ImportInput) -> Imported {
    let mut imported = Imported::default();
    // Indexed once: every role's privileges are looked up, and checked, in every database.
    let indexes: Vec<DatabaseIndex> = input.databases.values().map(DatabaseIndex::new).collect();
    let admin = input.current.admin.name.as_str();
    for role in input.current.roles.values() {
        let name = role.name.as_str();
        let ignored = name == admin || input.ignore_roles.iter().any(|g| g.matches(name));
        if ignored || input.roles.is_some_and(|g| !g.matches(name)) {
            continue;
        }
        if input.declared.contains(&role.name) {
            imported
                .skipped
                .push((role.name.clone(), SkipReason::Declared));
            continue;
        }
        match declare(input, &indexes, role) {
            Ok(entries) => {
                imported.roles += 1;
                imported.document.roles.extend(entries);
            }
            Err(reason) => imported.skipped.push((role.name.clone(), reason)),
        }
    }
    imported
}

/// One role's declarations: one per distinct set of database settings among its databases, the
/// role-wide settings on one of them.
fn declare(
    input: &ImportInput,
    indexes: &[DatabaseIndex],
    role: &CurrentRole,
) -> Result<Vec<RoleEntry>, SkipReason> {
    RoleName::new(role.name.as_str()).map_err(|e| SkipReason::Name(e.to_string()))?;
    let admin = &input.current.admin;
    if !admin.superuser && (role.attributes.superuser || !role.admin_can_alter) {
        return Err(SkipReason::AdminCannotAlter(admin.name.clone()));
    }
    if role.attributes.valid_until.as_deref() == Some("-infinity") {
        return Err(SkipReason::NeverValid);
    }
    let empty = BTreeMap::new();
    let settings_in = |database: &str| {
        role.settings
            .get(&SettingScope::Database(database.to_string()))
            .unwrap_or(&empty)
    };
    // The databases where the role has something to declare; all of them when it has nothing
    // anywhere (it must have a target).
    let mut databases: Vec<&DatabaseIndex> = indexes
        .iter()
        .filter(|index| {
            !grants::held_in(&role.name, index, true).is_empty()
                || !index.held_defaults(&role.name).is_empty()
                || !settings_in(&index.state.database).is_empty()
        })
        .collect();
    if databases.is_empty() {
        databases = indexes.iter().collect();
    }
    let grants = grants::grants_for(&role.name, &databases, input.current)?;
    let targets_of = |index: &DatabaseIndex| {
        input
            .targets
            .iter()
            .filter(|t| t.database == index.state.database)
            .collect::<Vec<_>>()
    };
    let all_targets: Vec<&TargetName> = databases.iter().flat_map(|s| targets_of(s)).collect();
    let profile = input
        .profiles
        .iter()
        .find(|(_, profile)| matches_profile(input, role, profile, &databases, &all_targets));
    if let Some((name, _)) = profile {
        return Ok(vec![RoleEntry {
            name: role.name.as_str().to_string(),
            profile: Some(name.clone()),
            targets: all_targets
                .into_iter()
                .map(|t| target_glob(t, input.cluster))
                .collect(),
            login: role.attributes.login,
            ..RoleEntry::default()
        }]);
    }
    let base = RoleEntry {
        name: role.name.as_str().to_string(),
        login: role.attributes.login,
        member_of: memberships(role),
        allow_escalation: escalations(input.current, role),
        grants: grants.iter().map(Grant::from_spec).collect(),
        ..attributes(role)
    };
    // Database settings -> the targets of the databases that have exactly them.
    let mut by_settings: BTreeMap<&BTreeMap<String, String>, Vec<String>> = BTreeMap::new();
    for index in &databases {
        let targets = targets_of(index)
            .into_iter()
            .map(|t| target_glob(t, input.cluster));
        by_settings
            .entry(settings_in(&index.state.database))
            .or_default()
            .extend(targets);
    }
    let mut entries: Vec<RoleEntry> = by_settings
        .into_iter()
        .map(|(settings, targets)| RoleEntry {
            targets,
            set: (!settings.is_empty()).then(|| settings.clone()),
            ..base.clone()
        })
        .collect();
    let role_wide = role.settings.get(&SettingScope::AllDatabases);
    if let Some(role_wide) = role_wide.filter(|s| !s.is_empty()) {
        match entries.iter_mut().find(|e| e.set.is_none()) {
            Some(entry) => {
                entry.settings_scope = Some("role");
                entry.set = Some(role_wide.clone());
            }
            None => {
                let targets = entries
                    .first()
                    .map(|e| e.targets.clone())
                    .unwrap_or_default();
                entries.push(RoleEntry {
                    targets,
                    settings_scope: Some("role"),
                    set: Some(role_wide.clone()),
                    ..base.clone()
                });
            }
        }
    }
    Ok(entries)
}

/// Whether `profile`, and nothing else, declares exactly what the role has in `databases`.
fn matches_profile(
    input: &ImportInput,
    role: &CurrentRole,
    profile: &ProfileState,
    databases: &[&DatabaseIndex],
    targets: &[&TargetName],
) -> bool {
    let env_allowed = |env: &str| {
        profile
            .envs
            .as_ref()
            .is_none_or(|globs| globs.iter().any(|g| g.matches(env)))
    };
    if profile.attributes != role.attributes || !targets.iter().all(|t| env_allowed(&t.env)) {
        return false;
    }
    let same_groups = profile.member_of.keys().eq(role.member_of.keys());
    let same_options = role.member_of.iter().all(|(group, have)| {
        profile.member_of.get(group).is_some_and(|want| {
            want.admin == have.admin
                && option_matches(want.inherit, have.inherit, role.attributes.inherit)
                && option_matches(want.set, have.set, true)
        })
    });
    let escalations = escalations(input.current, role);
    if !same_groups
        || !same_options
        || !escalations
            .iter()
            .all(|e| e.allowed_by(&profile.allow_escalation))
    {
        return false;
    }
    let empty = BTreeMap::new();
    let settings = |scope: SettingScope| role.settings.get(&scope).unwrap_or(&empty);
    let (role_wide, per_database) = if profile.role_wide_settings {
        (&profile.settings, &empty)
    } else {
        (&empty, &profile.settings)
    };
    let settings_match = *settings(SettingScope::AllDatabases) == *role_wide
        && databases
            .iter()
            .all(|d| *settings(SettingScope::Database(d.state.database.clone())) == *per_database);
    settings_match && grants::verify(&role.name, &profile.grants, databases, input.current).is_ok()
}

/// A membership option as declared (`None`: the server's default for a new grant) against the
/// one held (`None` before PostgreSQL 16, which has no such option).
fn option_matches(want: Option<bool>, have: Option<bool>, default: bool) -> bool {
    match (want, have) {
        (_, None) => want.is_none_or(|w| w == default),
        (None, Some(h)) => h == default,
        (Some(w), Some(h)) => w == h,
    }
}

/// `env/database` as a glob that matches only itself.
fn target_glob(target: &TargetName, cluster: Option<&str>) -> String {
    let glob = format!(
        "{}/{}",
        globset::escape(&target.env),
        globset::escape(&target.database)
    );
    match cluster {
        Some(cluster) => format!("{glob}@{}", globset::escape(cluster)),
        None => glob,
    }
}

/// The attributes that differ from PostgreSQL's defaults (`login` is always written).
fn attributes(role: &CurrentRole) -> RoleEntry {
    let a = &role.attributes;
    let flag = |value: bool| value.then_some(true);
    RoleEntry {
        superuser: flag(a.superuser),
        createdb: flag(a.createdb),
        createrole: flag(a.createrole),
        inherit: (!a.inherit).then_some(false),
        replication: flag(a.replication),
        bypassrls: flag(a.bypassrls),
        connection_limit: (a.connection_limit != -1).then_some(a.connection_limit),
        valid_until: a.valid_until.clone(),
        ..RoleEntry::default()
    }
}

/// Each membership, with the options a new grant would not have by default (PostgreSQL 16:
/// INHERIT as the member's attribute, SET true; admin false).
fn memberships(role: &CurrentRole) -> Vec<Membership> {
    role.member_of
        .iter()
        .map(|(group, options)| {
            let admin = options.admin.then_some(true);
            let inherit = options
                .inherit
                .filter(|inherit| *inherit != role.attributes.inherit);
            let set = options.set.filter(|set| !*set);
            if admin.is_none() && inherit.is_none() && set.is_none() {
                Membership::Group(group.as_str().to_string())
            } else {
                Membership::Options {
                    role: group.as_str().to_string(),
                    admin,
                    inherit,
                    set,
                }
            }
        })
        .collect()
}

/// What the role's memberships confer beyond their groups' privileges, as the cluster stands:
/// `allow_escalation` must say it, or validation and the plan refuse the membership.
fn escalations(current: &CurrentCluster, role: &CurrentRole) -> Vec<Escalation> {
    let node = |name: &RoleName| {
        current.roles.get(name).map(|r| Node {
            attributes: Some(&r.attributes),
            member_of: r.member_of.keys().collect(),
        })
    };
    let all: BTreeSet<Escalation> = role
        .member_of
        .keys()
        .flat_map(|group| conferred_by(group, node).into_keys())
        .collect();
    all.into_iter().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
