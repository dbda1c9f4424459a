//! One declared role -> one desired role per registry entry it selects, with the checks on it:
//! its profile, its name or name template, its targets and its fields.

use super::super::error::{did_you_mean, ConfigError, Location};
use super::super::profiles::{self, Profile, TemplateError, CONTEXT_PLACEHOLDERS};
use super::super::raw::{RawRole, RawSettingsScope};
use super::super::{Config, Origin};
use super::fields::{self, RoleState};
use crate::model::{DesiredRole, RoleName, SettingScope, Settings, SourceAt};
use crate::registry::{DatabaseEntry, NameGlob, TargetSelector};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// What every declaration is checked against, prepared once.
pub(super) struct Lookups<'a> {
    pub config: &'a Config,
    pub selector: TargetSelector<'a>,
    pub profiles: &'a BTreeMap<String, Profile>,
    /// Each profile's allowed-env globs, compiled once.
    pub profile_envs: BTreeMap<&'a str, Vec<NameGlob>>,
    pub ignore_roles: &'a [NameGlob],
    pub admin_user: Option<&'a str>,
    /// Each config file's path, shared by the places in it that the desired state carries.
    pub files: Vec<Arc<Path>>,
}

/// One declared role expanded for one registry entry.
pub(super) struct Instance<'a> {
    pub entry: &'a DatabaseEntry,
    pub role: DesiredRole,
    pub origin: &'a Origin,
}

/// A declaration being checked and expanded.
pub(super) struct Declaration<'a> {
    lookups: &'a Lookups<'a>,
    role: &'a RawRole,
    origin: &'a Origin,
    /// How errors name the role: by name, else by profile.
    label: String,
}

impl<'a> Declaration<'a> {
    pub fn new(lookups: &'a Lookups<'a>, role: &'a RawRole, origin: &'a Origin) -> Self {
        let label = match (&role.name, &role.profile) {
            (Some(name), _) => format!("role `{name}`"),
            (None, Some(profile)) => format!("role with profile `{profile}`"),
            (None, None) => "role".to_string(),
        };
        Declaration {
            lookups,
            role,
            origin,
            label,
        }
    }

    fn at(&self, key: Option<&str>) -> Location {
        self.lookups.config.location(self.origin, key)
    }

    fn error(&self, errors: &mut Vec<ConfigError>, key: Option<&str>, message: String) {
        errors.push(ConfigError {
            location: self.at(key),
            message: format!("{}: {message}", self.label),
        });
    }

    /// The role on each active or inactive entry it selects; none when anything is wrong.
    pub fn instances(&self, errors: &mut Vec<ConfigError>) -> Vec<Instance<'a>> {
        let before = errors.len();
        let profile = match &self.role.profile {
            None => None,
            Some(name) => match self.lookups.profiles.get(name) {
                Some(profile) => Some(profile),
                None => {
                    let known = self.lookups.profiles.keys().map(String::as_str);
                    let message = format!("unknown profile `{name}`{}", did_you_mean(name, known));
                    self.error(errors, Some("profile"), message);
                    return Vec::new();
                }
            },
        };
        // A role's own name wins over its profile's template.
        let template = match &self.role.name {
            Some(_) => None,
            None => profile.and_then(|p| p.template.as_deref()),
        };
        let values = self.placeholder_values(template, errors);
        let entries = self.selected_entries(errors);
        let fields = match profile {
            Some(p) => profiles::overlay(&p.fields, &self.role.fields()),
            None => self.role.fields(),
        };
        let state = fields::role_state(&fields)
            .map_err(|error| self.error(errors, Some(error.key()), error.to_string()))
            .ok();
        let Some(state) = state.filter(|_| errors.len() == before) else {
            return Vec::new();
        };
        entries
            .into_iter()
            .filter_map(|entry| self.instance(entry, profile, template, &values, &state, errors))
            .collect()
    }

    /// The role's placeholder values as text, after checking each is one its template uses and
    /// that the template has all it needs.
    fn placeholder_values(
        &self,
        template: Option<&str>,
        errors: &mut Vec<ConfigError>,
    ) -> BTreeMap<String, String> {
        // A bad template is reported on its profile.
        let wanted = template
            .and_then(|t| profiles::placeholders(t).ok())
            .unwrap_or_default();
        let mut values = BTreeMap::new();
        for (key, value) in &self.role.placeholders {
            if !wanted.contains(key) {
                let accepted = self.origin.accepted.iter().copied();
                let candidates = accepted.chain(wanted.iter().map(String::as_str));
                let message = format!("unknown key `{key}`{}", did_you_mean(key, candidates));
                self.error(errors, Some(key), message);
            }
            match value {
                serde_json::Value::String(s) => values.insert(key.clone(), s.clone()),
                serde_json::Value::Number(n) => values.insert(key.clone(), n.to_string()),
                _ => {
                    let message = format!("`{key}` must be a string or number");
                    self.error(errors, Some(key), message);
                    continue;
                }
            };
        }
        match template {
            None if self.role.name.is_none() => {
                let message = "needs a `name` (or a profile whose name template builds one)";
                self.error(errors, None, message.into());
            }
            None => {}
            Some(template) => {
                let missing = wanted.iter().filter(|p| {
                    !CONTEXT_PLACEHOLDERS.contains(&p.as_str()) && !values.contains_key(*p)
                });
                for placeholder in missing {
                    let message = format!(
                        "profile `{}` builds the name from `{template}`, so the role needs the key `{placeholder}`",
                        self.role.profile.as_deref().unwrap_or_default()
                    );
                    self.error(errors, None, message);
                }
            }
        }
        values
    }

    /// The registry entries the role's target globs select, in registry order.
    fn selected_entries(&self, errors: &mut Vec<ConfigError>) -> Vec<&'a DatabaseEntry> {
        if self.role.targets.is_empty() {
            self.error(errors, None, "`targets` is missing or empty".into());
        }
        let selector = &self.lookups.selector;
        let mut selected = BTreeSet::new();
        for glob in &self.role.targets {
            match selector.matches(glob) {
                Err(e) => self.error(errors, Some("targets"), e.to_string()),
                Ok(matched) if matched.is_empty() => {
                    let message = format!("target `{glob}` matches no registry entry");
                    self.error(errors, Some("targets"), message);
                }
                Ok(matched) => selected.extend(matched.iter().copied()),
            }
        }
        selected
            .into_iter()
            .filter_map(|i| selector.entry(i))
            .collect()
    }

    /// The role on one registry entry, or `None` (with an error) when it may not be there.
    fn instance(
        &self,
        entry: &'a DatabaseEntry,
        profile: Option<&Profile>,
        template: Option<&str>,
        values: &BTreeMap<String, String>,
        state: &RoleState,
        errors: &mut Vec<ConfigError>,
    ) -> Option<Instance<'a>> {
        let target = &entry.target;
        if let Some(p) = profile.filter(|p| p.envs.is_some()) {
            let globs = self.lookups.profile_envs.get(p.name.as_str());
            if !globs.is_some_and(|globs| globs.iter().any(|g| g.matches(&target.env))) {
                let envs = p.envs.iter().flatten().cloned().collect::<Vec<_>>();
                let message = format!(
                    "profile `{}` may only be used in envs [{}], not on target {target}",
                    p.name,
                    envs.join(", ")
                );
                self.error(errors, Some("targets"), message);
                return None;
            }
        }
        let name = match (&self.role.name, template) {
            (Some(name), _) => name.clone(),
            (None, Some(template)) => self.expand(template, entry, values, errors)?,
            (None, None) => return None,
        };
        let mut reject = |message: String| {
            errors.push(ConfigError {
                location: self.at(Some("name")),
                message: format!("{message} (target {target})"),
            });
            None
        };
        let role_name = match RoleName::new(&name) {
            Ok(n) => n,
            Err(e) => return reject(e.to_string()),
        };
        if self.lookups.admin_user == Some(name.as_str()) {
            return reject(format!(
                "role `{name}` is the admin role pgroster connects as; it cannot manage itself"
            ));
        }
        if let Some(glob) = self.lookups.ignore_roles.iter().find(|g| g.matches(&name)) {
            return reject(format!(
                "role `{name}` matches ignore_roles pattern `{}`; pgroster never touches it",
                glob.text
            ));
        }
        let mut settings = Settings::new();
        if !state.settings.is_empty() {
            let scope = match state.settings_scope {
                RawSettingsScope::Database => SettingScope::Database(target.database.clone()),
                RawSettingsScope::Role => SettingScope::AllDatabases,
            };
            settings.insert(scope, state.settings.clone());
        }
        Some(Instance {
            entry,
            origin: self.origin,
            role: DesiredRole {
                name: role_name,
                profile: self.role.profile.clone(),
                attributes: state.attributes.clone(),
                member_of: state.member_of.clone(),
                settings,
                password: state.password.clone(),
                grants: state.grants.clone(),
                targets: vec![target.clone()],
                allow_escalation: state.allow_escalation.clone(),
                member_of_at: (state.member_of.keys().next().is_some()).then(|| {
                    let at = self.origin.position(Some("member_of"));
                    SourceAt {
                        file: self.lookups.files[self.origin.file].clone(),
                        line: at.line,
                        column: at.column,
                    }
                }),
            },
        })
    }

    /// The name `template` builds on `entry`, from the role's values and the entry's env.
    fn expand(
        &self,
        template: &str,
        entry: &DatabaseEntry,
        values: &BTreeMap<String, String>,
        errors: &mut Vec<ConfigError>,
    ) -> Option<String> {
        let env = &entry.target.env;
        let mut all = values.clone();
        all.insert("env".into(), env.clone());
        all.insert("database".into(), entry.target.database.clone());
        let prefix = self
            .lookups
            .config
            .envs
            .get(env)
            .and_then(|e| e.prefix.clone());
        if let Some(prefix) = prefix {
            all.insert("env_prefix".into(), prefix);
        }
        match profiles::expand(template, &all) {
            Ok(name) => Some(name),
            Err(TemplateError::Missing { placeholder, .. }) if placeholder == "env_prefix" => {
                let message = format!(
                    "the name template `{template}` needs {{env_prefix}}, but env `{env}` has no `prefix` (set [envs.{env}] prefix)"
                );
                self.error(errors, None, message);
                None
            }
            Err(e) => {
                self.error(errors, None, e.to_string());
                None
            }
        }
    }
}
