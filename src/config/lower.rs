//! Raw config -> desired state per cluster: the only conversion, and the semantic checks.

use super::error::{did_you_mean, ConfigError, ConfigErrors, Location};
use super::profiles::{self, Profile, CONTEXT_PLACEHOLDERS};
use super::raw::{RawRole, RawSettingsScope};
use super::{Config, Origin};
use crate::model::{
    Attributes, ClusterKey, DesiredCluster, DesiredRole, RoleMap, RoleName, SettingScope, Settings,
    TargetName,
};
use crate::registry::{DatabaseEntry, NameGlob, Registry, TargetSelector};
use std::collections::{BTreeMap, BTreeSet};

/// What the rest of the pipeline needs from the config.
#[derive(Debug)]
pub struct Lowered {
    pub registry: Registry,
    pub desired: BTreeMap<ClusterKey, DesiredCluster>,
    /// Roles declared only for inactive targets: (role, target).
    pub skipped: BTreeSet<(RoleName, TargetName)>,
    pub ignore_roles: Vec<NameGlob>,
}

/// Facts from outside the files that validation needs.
#[derive(Debug, Default)]
pub struct LowerInput<'a> {
    /// The admin role's name, when known: declaring it is an error.
    pub admin_user: Option<&'a str>,
}

const DEFAULT_IGNORE_ROLES: &[&str] = &["pg_*", "postgres"];

/// Validates the whole config and lowers it to the desired state of every cluster.
pub fn lower(config: Config, input: &LowerInput) -> Result<Lowered, ConfigErrors> {
    let config = &config;
    let mut errors = Vec::new();
    let ignore_roles = compile_ignore_roles(config, &mut errors);
    let registry = build_registry(config, &mut errors);
    let profiles = resolve_profiles(config, &mut errors);

    let mut desired: BTreeMap<ClusterKey, DesiredCluster> = BTreeMap::new();
    for (cluster, entries) in registry.active_by_cluster() {
        let targets = entries.iter().map(|e| e.target.clone()).collect();
        desired.insert(
            cluster,
            DesiredCluster {
                targets,
                roles: RoleMap::new(),
            },
        );
    }
    let selector = TargetSelector::new(&registry);
    let profile_envs: BTreeMap<String, Vec<NameGlob>> = profiles
        .iter()
        .map(|(name, p)| {
            let globs = p
                .envs
                .iter()
                .flatten()
                .filter_map(|e| NameGlob::new(e).ok())
                .collect();
            (name.clone(), globs)
        })
        .collect();
    let mut skipped = BTreeSet::new();
    // Each cluster's role instances with where they were declared, merged by name below.
    let mut declared: BTreeMap<ClusterKey, Vec<(DesiredRole, &Origin)>> = desired
        .keys()
        .map(|cluster| (cluster.clone(), Vec::new()))
        .collect();
    for (role, origin) in &config.roles {
        let context = RoleContext {
            config,
            selector: &selector,
            profile_envs: &profile_envs,
            role,
            origin,
            profiles: &profiles,
            ignore_roles: &ignore_roles,
            admin_user: input.admin_user,
        };
        for instance in context.instances(&mut errors) {
            if !instance.entry.active {
                skipped.insert((instance.role.name.clone(), instance.entry.target.clone()));
                continue;
            }
            if let Some(roles) = declared.get_mut(&instance.entry.cluster) {
                roles.push((instance.role, instance.origin));
            }
        }
    }
    for (cluster, roles) in declared {
        if let Some(desired) = desired.get_mut(&cluster) {
            desired.roles = merge_declarations(config, &cluster, roles, &mut errors);
        }
    }

    if !errors.is_empty() {
        return Err(ConfigErrors::Invalid(errors));
    }
    Ok(Lowered {
        registry,
        desired,
        skipped,
        ignore_roles,
    })
}

fn compile_ignore_roles(config: &Config, errors: &mut Vec<ConfigError>) -> Vec<NameGlob> {
    let patterns: Vec<String> = match &config.settings.ignore_roles {
        Some(p) => p.clone(),
        None => DEFAULT_IGNORE_ROLES.iter().map(|s| s.to_string()).collect(),
    };
    patterns
        .iter()
        .filter_map(|p| match NameGlob::new(p) {
            Ok(g) => Some(g),
            Err(e) => {
                errors.push(ConfigError {
                    location: config.settings_location("ignore_roles"),
                    message: e,
                });
                None
            }
        })
        .collect()
}

fn build_registry(config: &Config, errors: &mut Vec<ConfigError>) -> Registry {
    let mut registry = Registry::default();
    for (db, origin) in &config.databases {
        let mut bad = |key: &str, message: String| {
            errors.push(ConfigError {
                location: config.location(origin, Some(key)),
                message,
            })
        };
        if db.env.is_empty() || db.env.contains('/') {
            bad(
                "env",
                format!("env `{}` must be non-empty and contain no `/`", db.env),
            );
            continue;
        }
        if db.name.is_empty() || db.name.len() > 63 {
            bad(
                "name",
                format!("database name `{}` must be 1 to 63 bytes", db.name),
            );
            continue;
        }
        if db.host.is_empty() {
            bad("host", "host must not be empty".into());
            continue;
        }
        if db.port == Some(0) {
            bad("port", "port must be between 1 and 65535".into());
            continue;
        }
        let cluster = ClusterKey {
            host: db.host.clone(),
            port: db.port.unwrap_or(5432),
        };
        if let Some(other) = registry.entries.iter().find(|e| {
            e.cluster == cluster
                && e.sslmode.is_some()
                && db.sslmode.is_some()
                && e.sslmode != db.sslmode
        }) {
            bad(
                "sslmode",
                format!(
                    "sslmode differs from that of {} on the same cluster {cluster}; one connection serves both",
                    other.target
                ),
            );
            continue;
        }
        registry.entries.push(DatabaseEntry {
            target: TargetName {
                env: db.env.clone(),
                database: db.name.clone(),
            },
            cluster,
            active: db.active.unwrap_or(true),
            sslmode: db.sslmode,
        });
    }
    registry
}

fn resolve_profiles(config: &Config, errors: &mut Vec<ConfigError>) -> BTreeMap<String, Profile> {
    let user: BTreeMap<String, _> = config
        .profiles
        .iter()
        .map(|(name, (raw, _))| (name.clone(), raw.clone()))
        .collect();
    let mut resolved = BTreeMap::new();
    let names: BTreeSet<String> = profiles::builtin_profile_names()
        .into_iter()
        .map(str::to_string)
        .chain(user.keys().cloned())
        .collect();
    for name in names {
        let location = |key: Option<&str>| match config.profiles.get(&name) {
            Some((_, origin)) => config.location(origin, key),
            None => Location::new(&config.dir, 1, 1),
        };
        match profiles::resolve(&name, &user, &mut Vec::new()) {
            Ok(profile) => {
                if let Some(template) = &profile.template {
                    if let Err(e) = profiles::placeholders(template) {
                        errors.push(ConfigError {
                            location: location(Some("name")),
                            message: e,
                        });
                    }
                }
                for glob in profile.envs.iter().flatten() {
                    if let Err(e) = NameGlob::new(glob) {
                        errors.push(ConfigError {
                            location: location(Some("envs")),
                            message: e,
                        });
                    }
                }
                resolved.insert(name, profile);
            }
            Err(e) => errors.push(ConfigError {
                location: location(Some("extends")),
                message: e,
            }),
        }
    }
    resolved
}

struct RoleContext<'a> {
    config: &'a Config,
    selector: &'a TargetSelector<'a>,
    /// Each profile's allowed-env globs, compiled once.
    profile_envs: &'a BTreeMap<String, Vec<NameGlob>>,
    role: &'a RawRole,
    origin: &'a Origin,
    profiles: &'a BTreeMap<String, Profile>,
    ignore_roles: &'a [NameGlob],
    admin_user: Option<&'a str>,
}

/// One declared role expanded for one registry entry.
struct Instance<'a> {
    entry: &'a DatabaseEntry,
    role: DesiredRole,
    origin: &'a Origin,
}

impl<'a> RoleContext<'a> {
    fn at(&self, key: Option<&str>) -> Location {
        self.config.location(self.origin, key)
    }

    fn label(&self) -> String {
        match (&self.role.name, &self.role.profile) {
            (Some(name), _) => format!("role `{name}`"),
            (None, Some(profile)) => format!("role with profile `{profile}`"),
            (None, None) => "role".to_string(),
        }
    }

    fn instances(&self, errors: &mut Vec<ConfigError>) -> Vec<Instance<'a>> {
        let before = errors.len();
        let mut error = |key: Option<&str>, message: String| {
            errors.push(ConfigError {
                location: self.at(key),
                message,
            })
        };
        let profile = match &self.role.profile {
            None => None,
            Some(name) => match self.profiles.get(name) {
                Some(p) => Some(p),
                None => {
                    error(
                        Some("profile"),
                        format!(
                            "{}: unknown profile `{name}`{}",
                            self.label(),
                            did_you_mean(name, self.profiles.keys().map(String::as_str))
                        ),
                    );
                    return Vec::new();
                }
            },
        };
        let fields = match profile {
            Some(p) => profiles::overlay(&p.fields, &self.role.fields()),
            None => self.role.fields(),
        };
        let template = if self.role.name.is_some() {
            None
        } else {
            profile.and_then(|p| p.template.clone())
        };
        let wanted: Vec<String> = template
            .as_deref()
            .map(profiles::placeholders)
            .transpose()
            .ok()
            .flatten()
            .unwrap_or_default();
        for key in self.role.placeholders.keys() {
            if !wanted.contains(key) {
                let candidates = self
                    .origin
                    .accepted
                    .iter()
                    .copied()
                    .chain(wanted.iter().map(String::as_str));
                error(
                    Some(key),
                    format!(
                        "{}: unknown key `{key}`{}",
                        self.label(),
                        did_you_mean(key, candidates)
                    ),
                );
            }
        }
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for (key, value) in &self.role.placeholders {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => {
                    error(
                        Some(key),
                        format!("{}: `{key}` must be a string or number", self.label()),
                    );
                    continue;
                }
            };
            values.insert(key.clone(), text);
        }
        match (&self.role.name, &template) {
            (None, None) => error(
                None,
                format!(
                    "{}: needs a `name` (or a profile whose name template builds one)",
                    self.label()
                ),
            ),
            (None, Some(t)) => {
                for p in wanted
                    .iter()
                    .filter(|p| !CONTEXT_PLACEHOLDERS.contains(&p.as_str()))
                {
                    if !values.contains_key(p) {
                        error(
                            None,
                            format!(
                                "{}: profile `{}` builds the name from `{t}`, so the role needs the key `{p}`",
                                self.label(),
                                self.role.profile.as_deref().unwrap_or_default()
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
        if self.role.targets.is_empty() {
            error(
                None,
                format!("{}: `targets` is missing or empty", self.label()),
            );
        }
        let mut selected: BTreeSet<usize> = BTreeSet::new();
        for glob in &self.role.targets {
            match self.selector.matches(glob) {
                Err(e) => error(Some("targets"), format!("{}: {e}", self.label())),
                Ok(matched) if matched.is_empty() => error(
                    Some("targets"),
                    format!(
                        "{}: target `{glob}` matches no registry entry",
                        self.label()
                    ),
                ),
                Ok(matched) => selected.extend(matched.iter().copied()),
            }
        }
        let env_globs: &[NameGlob] = self
            .role
            .profile
            .as_ref()
            .and_then(|p| self.profile_envs.get(p))
            .map_or(&[], Vec::as_slice);
        let common = match fields::role_state(&fields) {
            Ok(c) => Some(c),
            Err((key, message)) => {
                error(key, format!("{}: {message}", self.label()));
                None
            }
        };
        if errors.len() > before {
            return Vec::new();
        }
        let Some(fields::RoleState {
            attributes,
            member_of,
            password,
            settings: settings_per_db,
            settings_scope,
            grants,
        }) = common
        else {
            return Vec::new();
        };

        let mut instances = Vec::new();
        for entry in selected.into_iter().filter_map(|i| self.selector.entry(i)) {
            let target = &entry.target;
            let mut error = |key: Option<&str>, message: String| {
                errors.push(ConfigError {
                    location: self.at(key),
                    message,
                })
            };
            if let Some(p) = profile.filter(|p| p.envs.is_some()) {
                if !env_globs.iter().any(|g| g.matches(&target.env)) {
                    error(
                        Some("targets"),
                        format!(
                            "{}: profile `{}` may only be used in envs [{}], not on target {target}",
                            self.label(),
                            p.name,
                            p.envs.iter().flatten().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                    continue;
                }
            }
            let name = match (&self.role.name, &template) {
                (Some(name), _) => name.clone(),
                (None, Some(t)) => {
                    let mut all = values.clone();
                    all.insert("env".into(), target.env.clone());
                    all.insert("database".into(), target.database.clone());
                    if let Some(prefix) = self
                        .config
                        .envs
                        .get(&target.env)
                        .and_then(|e| e.prefix.clone())
                    {
                        all.insert("env_prefix".into(), prefix);
                    }
                    match profiles::expand(t, &all) {
                        Ok(n) => n,
                        Err(_) if !all.contains_key("env_prefix") => {
                            error(
                                None,
                                format!(
                                    "{}: the name template `{t}` needs {{env_prefix}}, but env `{}` has no `prefix` (set [envs.{}] prefix)",
                                    self.label(),
                                    target.env,
                                    target.env
                                ),
                            );
                            continue;
                        }
                        Err(e) => {
                            error(None, format!("{}: {e}", self.label()));
                            continue;
                        }
                    }
                }
                (None, None) => continue,
            };
            let role_name = match RoleName::new(&name) {
                Ok(n) => n,
                Err(e) => {
                    error(Some("name"), format!("{e} (target {target})"));
                    continue;
                }
            };
            if let Some(glob) = self.ignore_roles.iter().find(|g| g.matches(&name)) {
                error(
                    Some("name"),
                    format!(
                        "role `{name}` matches ignore_roles pattern `{}`; pgroster never touches it (target {target})",
                        glob.text
                    ),
                );
                continue;
            }
            if self.admin_user == Some(name.as_str()) {
                error(
                    Some("name"),
                    format!("role `{name}` is the admin role pgroster connects as; it cannot manage itself (target {target})"),
                );
                continue;
            }
            let mut settings = Settings::new();
            if !settings_per_db.is_empty() {
                let scope = match settings_scope {
                    RawSettingsScope::Database => SettingScope::Database(target.database.clone()),
                    RawSettingsScope::Role => SettingScope::AllDatabases,
                };
                settings.insert(scope, settings_per_db.clone());
            }
            instances.push(Instance {
                entry,
                origin: self.origin,
                role: DesiredRole {
                    name: role_name,
                    profile: self.role.profile.clone(),
                    attributes: attributes.clone(),
                    member_of: member_of.clone(),
                    settings,
                    password: password.clone(),
                    grants: grants.clone(),
                    targets: vec![target.clone()],
                },
            });
        }
        instances
    }
}

/// Merges a second declaration of the same role on the same cluster; errors when they disagree.
/// One cluster's role instances -> one role per name. A role declared twice (or once for
/// several databases of the cluster) merges when the declarations agree; where they disagree
/// the error names both places. Sorted and merged in place: at 10,000 roles a map built role by
/// role took twice the memory.
fn merge_declarations(
    config: &Config,
    cluster: &ClusterKey,
    mut roles: Vec<(DesiredRole, &Origin)>,
    errors: &mut Vec<ConfigError>,
) -> RoleMap<DesiredRole> {
    // By name, then in declaration order, so that "first" is the one declared first. The
    // instances of one declaration differ only in what merging adds up.
    roles.sort_unstable_by(|(a, a_origin), (b, b_origin)| {
        a.name
            .cmp(&b.name)
            .then(a_origin.order().cmp(&b_origin.order()))
    });
    roles.dedup_by(|(later, later_origin), (first, first_origin)| {
        if later.name != first.name {
            return false;
        }
        if let Err(why) = merge_role(first, later) {
            errors.push(ConfigError {
                location: config.location(later_origin, None),
                message: format!(
                    "role `{}` is declared twice on cluster {cluster} and the declarations disagree ({why}); \
                     other declaration at {}",
                    first.name,
                    config.location(first_origin, None),
                ),
            });
        }
        true
    });
    RoleMap::from_vec(roles.into_iter().map(|(role, _)| role).collect())
}

fn merge_role(existing: &mut DesiredRole, other: &mut DesiredRole) -> Result<(), String> {
    if existing.attributes != other.attributes {
        return Err(describe_difference(&existing.attributes, &other.attributes));
    }
    if existing.member_of != other.member_of {
        return Err("member_of differs".into());
    }
    if existing.grants != other.grants {
        return Err("grants differ".into());
    }
    if existing.password != other.password {
        return Err("password differs".into());
    }
    if existing.profile != other.profile {
        return Err(format!(
            "profile {} vs {}",
            existing.profile.as_deref().unwrap_or("(none)"),
            other.profile.as_deref().unwrap_or("(none)")
        ));
    }
    for (scope, values) in std::mem::take(&mut other.settings) {
        let slot = existing.settings.entry(scope.clone()).or_default();
        for (name, value) in values {
            match slot.get(&name) {
                Some(v) if *v != value => {
                    return Err(format!("setting {name} in {scope}: `{v}` vs `{value}`"));
                }
                _ => {
                    slot.insert(name, value);
                }
            }
        }
    }
    existing.targets.append(&mut other.targets);
    existing.targets.sort();
    existing.targets.dedup();
    Ok(())
}

fn describe_difference(a: &Attributes, b: &Attributes) -> String {
    let parts: Vec<String> = a
        .diff(b)
        .iter()
        .map(|c| format!("{} {} vs {}", c.attribute, c.from, c.to))
        .collect();
    parts.join(", ")
}

mod fields;
pub use fields::canonical_valid_until;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
