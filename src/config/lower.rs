//! Raw config -> desired state per cluster: the only conversion, and the semantic checks.
//!
//! The registry, `ignore_roles` and profiles are checked here; `role` expands each declared
//! role onto the registry entries it selects, `declarations` merges a cluster's instances by
//! name, `memberships` checks what a cluster's declared memberships confer and that they form
//! no cycle, and `fields` turns a role's fields into attributes, settings and grants; `notify`
//! checks the `[[notify]]` entries and `deliver_command`.

use super::error::{ConfigError, ConfigErrors, Location};
use super::profiles::{self, Profile};
use super::raw::{RawPublicPrivileges, RawSettingsScope};
use super::{Config, Origin};
use crate::model::policy::PlanPolicy;
use crate::model::privileges::GrantSpec;
use crate::model::public::PublicPolicy;
use crate::model::{
    Attributes, ClusterKey, DesiredCluster, DesiredRole, DropSettings, Escalation, Memberships,
    RoleMap, RoleName, TargetName,
};
use crate::registry::{DatabaseEntry, NameGlob, Registry, TargetSelector};
use declarations::merge_declarations;
use memberships::check_memberships;
use role::{Declaration, Lookups};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What the rest of the pipeline needs from the config.
#[derive(Debug)]
pub struct Lowered {
    pub registry: Registry,
    pub desired: BTreeMap<ClusterKey, DesiredCluster>,
    /// Roles declared only for inactive targets: (role, target).
    pub skipped: BTreeSet<(RoleName, TargetName)>,
    pub ignore_roles: Vec<NameGlob>,
    /// `revoke_ignored_memberships`: whether undeclared memberships in ignored roles other than
    /// the predefined ones are revoked.
    pub revoke_ignored_memberships: bool,
    /// `public_privileges`; `None`: PUBLIC is never touched.
    pub public_privileges: Option<PublicPolicy>,
    /// How roles no longer declared are dropped.
    pub drops: DropSettings,
    /// The mode, what to do with unmanaged roles, when to warn of expiry.
    pub policy: PlanPolicy,
    /// How many clusters plan and apply work on at once (at least 1).
    pub parallelism: usize,
    /// Every profile, built-in and configured, as a role naming it and nothing else gets it:
    /// for `import` to recognise a role that matches one.
    pub profiles: BTreeMap<String, ProfileState>,
    /// `[[notify]]`: where events are sent.
    pub notify: Vec<crate::notify::Notifier>,
    /// `deliver_command`: the program that receives each generated password.
    pub deliver_command: Option<crate::notify::CommandLine>,
}

/// What a profile gives a role that names it and declares nothing else.
#[derive(Debug, Clone)]
pub struct ProfileState {
    /// The envs where it may be used; `None`: any.
    pub envs: Option<Vec<NameGlob>>,
    pub attributes: Attributes,
    pub member_of: Memberships,
    pub allow_escalation: BTreeSet<Escalation>,
    pub settings: BTreeMap<String, String>,
    /// `settings_scope: role`: the settings are role-wide, else set in each target database.
    pub role_wide_settings: bool,
    pub grants: Vec<GrantSpec>,
}

/// Clusters worked on at once unless told otherwise: enough to hide a WAN's round trips
/// behind each other without opening hundreds of connections from one runner.
pub const DEFAULT_PARALLELISM: usize = 16;

/// Facts from outside the files that validation needs.
#[derive(Debug, Default)]
pub struct LowerInput<'a> {
    /// The admin role's name, when known: declaring it is an error.
    pub admin_user: Option<&'a str>,
}

/// Roles pgroster never touches whatever `ignore_roles` says: the predefined roles and the
/// bootstrap superuser (issue 9: a setting that replaced them left `postgres` unprotected).
/// The admin role it connects as is added when known.
const PROTECTED_ROLES: &[&str] = &["pg_*", "postgres"];

/// Validates the whole config and lowers it to the desired state of every cluster.
pub fn lower(config: Config, input: &LowerInput) -> Result<Lowered, ConfigErrors> {
    let config = &config;
    let mut errors = Vec::new();
    let ignore_roles = compile_ignore_roles(config, input.admin_user, &mut errors);
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
    let lookups = Lookups {
        config,
        selector: TargetSelector::new(&registry),
        profiles: &profiles,
        profile_envs: profiles
            .iter()
            .map(|(name, p)| {
                // Bad globs are reported with the profile.
                let globs = p
                    .envs
                    .iter()
                    .flatten()
                    .filter_map(|e| NameGlob::new(e).ok());
                (name.as_str(), globs.collect())
            })
            .collect(),
        ignore_roles: &ignore_roles,
        admin_user: input.admin_user,
        files: config
            .files
            .iter()
            .map(|f| Arc::from(f.path.as_path()))
            .collect(),
    };
    let mut skipped = BTreeSet::new();
    // Each cluster's role instances with where they were declared, merged by name below.
    let mut declared: BTreeMap<ClusterKey, Vec<(DesiredRole, &Origin)>> = desired
        .keys()
        .map(|cluster| (cluster.clone(), Vec::new()))
        .collect();
    for (role, origin) in &config.roles {
        for instance in Declaration::new(&lookups, role, origin).instances(&mut errors) {
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
            let (roles, origins) = merge_declarations(config, &cluster, roles, &mut errors);
            check_memberships(config, &roles, &origins, &mut errors);
            desired.roles = roles;
        }
    }

    let public_privileges = config
        .settings
        .public_privileges
        .as_ref()
        .map(|raw| public_policy(config, raw, &mut errors));
    let drops = drop_settings(config, &mut errors);
    let policy = plan_policy(config, &mut errors);
    let notify = notify::notifiers(config, &mut errors);
    let deliver_command = notify::deliver_command(config, &mut errors);
    if let Err(error) = config.audit_sink() {
        errors.push(error);
    }
    if !errors.is_empty() {
        return Err(ConfigErrors::Invalid(errors));
    }
    Ok(Lowered {
        registry,
        desired,
        skipped,
        ignore_roles,
        revoke_ignored_memberships: config.settings.revoke_ignored_memberships.unwrap_or(false),
        public_privileges,
        drops,
        policy,
        parallelism: config
            .settings
            .parallelism
            .unwrap_or(DEFAULT_PARALLELISM)
            .max(1),
        profiles: profile_states(&profiles),
        notify,
        deliver_command,
    })
}

fn plan_policy(config: &Config, errors: &mut Vec<ConfigError>) -> PlanPolicy {
    let settings = &config.settings;
    let defaults = PlanPolicy::default();
    let expiry_warning = match settings.expiry_warning.as_deref() {
        None => defaults.expiry_warning,
        Some(text) => text
            .parse::<jiff::Span>()
            .and_then(|span| span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
            .unwrap_or_else(|e| {
                errors.push(ConfigError {
                    location: config.settings_location("expiry_warning"),
                    message: format!(
                        "expiry_warning `{text}` is not a duration (`14 days`, `2 weeks`, `36h`): {e}"
                    ),
                });
                defaults.expiry_warning
            }),
    };
    PlanPolicy {
        mode: settings.mode.unwrap_or_default(),
        unmanaged_roles: settings.unmanaged_roles.unwrap_or_default(),
        expiry_warning,
    }
}

fn drop_settings(config: &Config, errors: &mut Vec<ConfigError>) -> DropSettings {
    let settings = &config.settings;
    let defaults = DropSettings::default();
    let reassign_owned_to = settings.reassign_owned_to.as_deref().and_then(|name| {
        RoleName::new(name)
            .map_err(|e| {
                errors.push(ConfigError {
                    location: config.settings_location("reassign_owned_to"),
                    message: format!("reassign_owned_to: {e}"),
                });
            })
            .ok()
    });
    DropSettings {
        terminate_sessions: settings
            .terminate_sessions
            .unwrap_or(defaults.terminate_sessions),
        reassign_owned_to,
        max_destroy: settings.max_destroy.unwrap_or(defaults.max_destroy),
    }
}

/// Each profile that lowers without error, as a role gets it.
fn profile_states(profiles: &BTreeMap<String, Profile>) -> BTreeMap<String, ProfileState> {
    profiles
        .iter()
        .filter_map(|(name, profile)| {
            let state = fields::role_state(&profile.fields).ok()?;
            let envs = match &profile.envs {
                None => None,
                Some(globs) => Some(
                    globs
                        .iter()
                        .map(|g| NameGlob::new(g).ok())
                        .collect::<Option<Vec<_>>>()?,
                ),
            };
            let state = ProfileState {
                envs,
                attributes: state.attributes,
                member_of: state.member_of,
                allow_escalation: state.allow_escalation,
                settings: state.settings,
                role_wide_settings: state.settings_scope == RawSettingsScope::Role,
                grants: state.grants,
            };
            Some((name.clone(), state))
        })
        .collect()
}

/// Schema names are taken as written, like `schemas:` in grants; an empty one, or one with a
/// NUL (which no PostgreSQL name can hold), is an error.
fn public_policy(
    config: &Config,
    raw: &RawPublicPrivileges,
    errors: &mut Vec<ConfigError>,
) -> PublicPolicy {
    let mut names = |key: &str, list: &Option<Vec<String>>| {
        let names: BTreeSet<String> = list.iter().flatten().cloned().collect();
        if names.iter().any(|n| n.is_empty() || n.contains('\0')) {
            errors.push(ConfigError {
                location: config.settings_location("public_privileges"),
                message: format!("public_privileges.{key}: a schema name is empty or holds a NUL"),
            });
        }
        names
    };
    PublicPolicy {
        revoke_temporary: raw.revoke_temporary.unwrap_or(false),
        revoke_create_on_schemas: names("revoke_create_on_schemas", &raw.revoke_create_on_schemas),
        revoke_execute_in_schemas: names(
            "revoke_execute_in_schemas",
            &raw.revoke_execute_in_schemas,
        ),
        revoke_large_object_create: raw.revoke_large_object_create.unwrap_or(false),
    }
}

/// `ignore_roles` as written, then the protected roles it does not name already.
fn compile_ignore_roles(
    config: &Config,
    admin_user: Option<&str>,
    errors: &mut Vec<ConfigError>,
) -> Vec<NameGlob> {
    let mut patterns: Vec<String> = config.settings.ignore_roles.clone().unwrap_or_default();
    let protected = PROTECTED_ROLES
        .iter()
        .map(|p| p.to_string())
        .chain(admin_user.map(globset::escape));
    for pattern in protected {
        if !patterns.contains(&pattern) {
            patterns.push(pattern);
        }
    }
    patterns
        .iter()
        .filter_map(|p| match NameGlob::new(p) {
            Ok(g) => Some(g),
            Err(e) => {
                errors.push(ConfigError {
                    location: config.settings_location("ignore_roles"),
                    message: e.to_string(),
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
        // PostgreSQL's text cannot hold NUL, nor can a connection string.
        let nul = [("env", &db.env), ("name", &db.name), ("host", &db.host)]
            .into_iter()
            .find(|(_, value)| value.contains('\0'));
        if let Some((key, _)) = nul {
            bad(key, format!("`{key}` contains a NUL character"));
            continue;
        }
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
        let cluster_name = db.cluster_name();
        if let Some(message) = db.cluster.as_deref().and_then(cluster_name_error) {
            bad("cluster", message);
            continue;
        }
        // One name per cluster and one cluster per name: else `env/database@name` could pick
        // two entries that are the same database, or one name could hide two servers.
        if let Some(other) = registry
            .entries
            .iter()
            .find(|e| (e.cluster == cluster) != (e.cluster_name == cluster_name))
        {
            bad(
                "cluster",
                format!(
                    "cluster `{cluster_name}` ({cluster}) conflicts with {} on cluster `{}` ({}): \
                     each cluster has one name and each name one host:port",
                    other.target, other.cluster_name, other.cluster
                ),
            );
            continue;
        }
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
            cluster_name,
            active: db.active.unwrap_or(true),
            sslmode: db.sslmode,
        });
    }
    registry
}

/// Why a `cluster` name cannot be used in `env/database@cluster`, if it cannot.
fn cluster_name_error(name: &str) -> Option<String> {
    let bad = name.is_empty()
        || name.contains(['@', '/'])
        || name.contains(|c: char| c.is_control() || "*?[]{},".contains(c));
    bad.then(|| {
        format!("cluster `{name}` must be non-empty, without `@`, `/`, glob characters or control characters")
    })
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
                            message: e.to_string(),
                        });
                    }
                }
                for glob in profile.envs.iter().flatten() {
                    if let Err(e) = NameGlob::new(glob) {
                        errors.push(ConfigError {
                            location: location(Some("envs")),
                            message: e.to_string(),
                        });
                    }
                }
                resolved.insert(name, profile);
            }
            Err(e) => errors.push(ConfigError {
                location: location(Some("extends")),
                message: e.to_string(),
            }),
        }
    }
    resolved
}

mod declarations;
mod fields;
mod memberships;
mod notify;
mod role;

pub use fields::canonical_valid_until;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
