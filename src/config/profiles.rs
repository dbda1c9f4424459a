//! Built-in profiles (the seed's account kinds) and resolution of user profiles over them.

use super::raw::{RawGrant, RawGrantOn, RawProfile, RawRoleFields, RawSettingsScope, SettingValue};
use std::collections::BTreeMap;

/// A profile after `extends` and overrides are applied.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub name: String,
    pub template: Option<String>,
    pub envs: Option<Vec<String>>,
    pub fields: RawRoleFields,
}

pub fn builtin_profile_names() -> Vec<&'static str> {
    vec!["app", "app-k8s", "devqa", "devlead", "readonly", "dba"]
}

/// A grant on the role's schemas (`schemas`, default `public`).
fn grant(on: RawGrantOn, privileges: &[&str], future: bool) -> RawGrant {
    RawGrant {
        on,
        names: None,
        schemas: None,
        columns: None,
        grant_option: None,
        privileges: privileges.iter().map(|p| p.to_string()).collect(),
        future: future.then_some(true),
        future_owners: None,
        existing: None,
    }
}

/// Each built-in profile's privileges in its target databases, as the README documents them.
fn builtin_grants(name: &str) -> Vec<RawGrant> {
    use RawGrantOn::{Database, Functions, Schemas, Sequences, Tables};
    let read_write = ["SELECT", "INSERT", "UPDATE", "DELETE"];
    match name {
        "app" | "app-k8s" => vec![
            grant(Database, &["CONNECT", "TEMPORARY"], false),
            grant(Schemas, &["USAGE"], false),
            grant(Tables, &read_write, true),
            grant(Sequences, &["USAGE", "SELECT", "UPDATE"], true),
            grant(Functions, &["EXECUTE"], true),
        ],
        "devqa" => vec![
            grant(Database, &["CONNECT", "TEMPORARY"], false),
            grant(Schemas, &["USAGE"], false),
            grant(Tables, &read_write, true),
            grant(Sequences, &["USAGE", "SELECT"], true),
            grant(Functions, &["EXECUTE"], true),
        ],
        "devlead" => vec![
            grant(Database, &["CONNECT", "TEMPORARY"], false),
            grant(Schemas, &["USAGE", "CREATE"], false),
            grant(
                Tables,
                &["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"],
                true,
            ),
            grant(Sequences, &["USAGE", "SELECT", "UPDATE"], true),
            grant(Functions, &["EXECUTE"], true),
        ],
        // Read and nothing else: no TEMPORARY, no CREATE, no write privilege anywhere.
        "readonly" => vec![
            grant(Database, &["CONNECT"], false),
            grant(Schemas, &["USAGE"], false),
            grant(Tables, &["SELECT"], true),
            grant(Sequences, &["SELECT"], true),
        ],
        "dba" => vec![
            grant(Database, &["ALL"], false),
            grant(Schemas, &["ALL"], false),
            grant(Tables, &["ALL"], true),
            grant(Sequences, &["ALL"], true),
            grant(Functions, &["ALL"], true),
        ],
        _ => Vec::new(),
    }
}

/// The seed's account kinds, as documented in the README.
pub fn builtin(name: &str) -> Option<Profile> {
    let login = |limit: i32| RawRoleFields {
        login: Some(true),
        connection_limit: Some(limit),
        grants: Some(builtin_grants(name)),
        ..RawRoleFields::default()
    };
    let (template, envs, fields) = match name {
        "app" => (Some("{servername}_{port}"), None, login(200)),
        "app-k8s" => (Some("{env_prefix}_{farm}"), None, login(200)),
        "devqa" => (None, Some(vec!["dev", "qa", "uat"]), login(20)),
        "devlead" => (None, None, login(20)),
        "readonly" => (
            None,
            Some(vec!["prod"]),
            RawRoleFields {
                // Defence in depth: even a privilege granted by mistake cannot write.
                set: Some(BTreeMap::from([(
                    "default_transaction_read_only".to_string(),
                    SettingValue("on".into()),
                )])),
                ..login(20)
            },
        ),
        "dba" => (
            None,
            None,
            RawRoleFields {
                createdb: Some(true),
                createrole: Some(true),
                settings_scope: Some(RawSettingsScope::Role),
                ..login(20)
            },
        ),
        _ => return None,
    };
    Some(Profile {
        name: name.to_string(),
        template: template.map(str::to_string),
        envs: envs.map(|e| e.into_iter().map(str::to_string).collect()),
        fields,
    })
}

/// `top` over `base`, field by field: the one place where precedence is decided.
pub fn overlay(base: &RawRoleFields, top: &RawRoleFields) -> RawRoleFields {
    RawRoleFields {
        login: top.login.or(base.login),
        superuser: top.superuser.or(base.superuser),
        createdb: top.createdb.or(base.createdb),
        createrole: top.createrole.or(base.createrole),
        inherit: top.inherit.or(base.inherit),
        replication: top.replication.or(base.replication),
        bypassrls: top.bypassrls.or(base.bypassrls),
        connection_limit: top.connection_limit.or(base.connection_limit),
        valid_until: top.valid_until.clone().or_else(|| base.valid_until.clone()),
        search_path: top.search_path.clone().or_else(|| base.search_path.clone()),
        set: match (&base.set, &top.set) {
            (Some(b), Some(t)) => {
                let mut merged = b.clone();
                merged.extend(t.clone());
                Some(merged)
            }
            (b, t) => t.clone().or_else(|| b.clone()),
        },
        settings_scope: top.settings_scope.or(base.settings_scope),
        member_of: top.member_of.clone().or_else(|| base.member_of.clone()),
        allow_escalation: top
            .allow_escalation
            .clone()
            .or_else(|| base.allow_escalation.clone()),
        password: top.password.clone().or_else(|| base.password.clone()),
        grants: match (&base.grants, &top.grants) {
            (Some(b), Some(t)) => Some(b.iter().chain(t).cloned().collect()),
            (b, t) => t.clone().or_else(|| b.clone()),
        },
        schemas: top.schemas.clone().or_else(|| base.schemas.clone()),
    }
}

/// Why a profile cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown profile `{0}`")]
    Unknown(String),
    /// The chain of `extends`, ending with the profile met twice.
    #[error("profile `extends` cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

/// What is wrong with a name template such as `{servername}_{port}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("name template `{template}` has an unclosed `{{`")]
    Unclosed { template: String },
    #[error("name template `{template}` has a bad placeholder `{{{placeholder}}}`")]
    BadPlaceholder {
        template: String,
        placeholder: String,
    },
    #[error("name template `{template}` has a stray `}}`")]
    StrayBrace { template: String },
    #[error("name template `{template}` needs `{placeholder}`")]
    Missing {
        template: String,
        placeholder: String,
    },
}

/// Resolves `name` through user definitions, `extends` chains and built-ins.
pub fn resolve(
    name: &str,
    user: &BTreeMap<String, RawProfile>,
    seen: &mut Vec<String>,
) -> Result<Profile, ProfileError> {
    seen.push(name.to_string());
    if seen[..seen.len() - 1].iter().any(|s| s == name) {
        return Err(ProfileError::Cycle(std::mem::take(seen)));
    }
    let Some(raw) = user.get(name) else {
        return builtin(name).ok_or_else(|| ProfileError::Unknown(name.to_string()));
    };
    let base = match (&raw.extends, builtin(name)) {
        (Some(parent), _) => resolve(parent, user, seen)?,
        (None, Some(builtin)) => builtin,
        (None, None) => Profile::default(),
    };
    Ok(Profile {
        name: name.to_string(),
        template: raw.name.clone().or(base.template),
        envs: raw.envs.clone().or(base.envs),
        fields: overlay(&base.fields, &raw.fields()),
    })
}

/// Placeholders of a name template, e.g. `{servername}_{port}` -> [servername, port].
pub fn placeholders(template: &str) -> Result<Vec<String>, TemplateError> {
    let owned = || template.to_string();
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| TemplateError::Unclosed { template: owned() })?;
        let name = &after[..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(TemplateError::BadPlaceholder {
                template: owned(),
                placeholder: name.to_string(),
            });
        }
        names.push(name.to_string());
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(TemplateError::StrayBrace { template: owned() });
    }
    Ok(names)
}

/// Placeholders every template may use without the role declaring them.
pub const CONTEXT_PLACEHOLDERS: &[&str] = &["env", "env_prefix", "database"];

/// `template` with each placeholder replaced by its value, in one pass: a value that looks like
/// a placeholder (`servername: "{port}"`) stays as written.
pub fn expand(template: &str, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    placeholders(template)?;
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    // `placeholders` has checked that every `{` is closed and names one.
    while let Some((before, after)) = rest.split_once('{') {
        let Some((name, after)) = after.split_once('}') else {
            break;
        };
        let value = values.get(name).ok_or_else(|| TemplateError::Missing {
            template: template.to_string(),
            placeholder: name.to_string(),
        })?;
        out.push_str(before);
        out.push_str(value);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn expands_templates() {
        let values = BTreeMap::from([
            ("servername".to_string(), "web01".to_string()),
            ("port".to_string(), "8080".to_string()),
        ]);
        assert_eq!(
            expand("{servername}_{port}", &values).unwrap(),
            "web01_8080"
        );
        assert!(expand("{farm}", &values)
            .unwrap_err()
            .to_string()
            .contains("needs `farm`"));
        // A value is not expanded again, whatever it holds.
        let tricky = BTreeMap::from([
            ("servername".to_string(), "{port}".to_string()),
            ("port".to_string(), "8080".to_string()),
        ]);
        assert_eq!(
            expand("{servername}_{port}", &tricky).unwrap(),
            "{port}_8080"
        );
        assert!(placeholders("{a").is_err());
        assert!(placeholders("a}").is_err());
    }

    #[test]
    fn user_profiles_override_and_extend_builtins() {
        let user: BTreeMap<String, RawProfile> = serde_saphyr::from_str(
            "devqa: { connection_limit: 5 }\nsupport: { extends: devqa, createdb: true }\nloop1: { extends: loop2 }\nloop2: { extends: loop1 }",
        )
        .unwrap();
        let devqa = resolve("devqa", &user, &mut vec![]).unwrap();
        assert_eq!(devqa.fields.connection_limit, Some(5));
        assert_eq!(devqa.fields.login, Some(true));
        assert_eq!(devqa.envs.as_ref().unwrap().len(), 3);
        let support = resolve("support", &user, &mut vec![]).unwrap();
        assert_eq!(support.fields.createdb, Some(true));
        assert_eq!(support.fields.connection_limit, Some(5));
        assert_eq!(
            resolve("loop1", &user, &mut vec![])
                .unwrap_err()
                .to_string(),
            "profile `extends` cycle: loop1 -> loop2 -> loop1"
        );
        assert!(resolve("nope", &user, &mut vec![]).is_err());
    }
}
