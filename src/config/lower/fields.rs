//! The target-independent part of a role: attributes, password, settings, grants.

use super::super::raw::{
    PasswordKeyword, RawGrant, RawGrantOn, RawMembership, RawPassword, RawRoleFields,
    RawSettingsScope,
};
use crate::model::privileges::{normalize_privilege, GrantSpec, GrantTarget, ObjectKind};
use crate::model::settings::{canonical_value, format_identifier_list, is_valid_setting_name};
use crate::model::utc::{canonical_utc, UtcTimeError};
use crate::model::{Attributes, MembershipOptions, Memberships, PasswordPolicy, RoleName};
use std::collections::{BTreeMap, BTreeSet};

/// The parts of a desired role that do not depend on the target.
pub struct RoleState {
    pub attributes: Attributes,
    pub member_of: Memberships,
    pub password: PasswordPolicy,
    pub settings: BTreeMap<String, String>,
    pub settings_scope: RawSettingsScope,
    pub grants: Vec<GrantSpec>,
}

/// An error and the key it concerns, located by the caller.
type FieldError = (Option<&'static str>, String);

pub fn role_state(fields: &RawRoleFields) -> Result<RoleState, FieldError> {
    let defaults = Attributes::default();
    let connection_limit = fields.connection_limit.unwrap_or(defaults.connection_limit);
    if connection_limit < -1 {
        return Err((
            Some("connection_limit"),
            format!("connection_limit {connection_limit} must be -1 (no limit) or more"),
        ));
    }
    let valid_until = match &fields.valid_until {
        None => None,
        Some(v) => canonical_valid_until(&v.0).map_err(|e| (Some("valid_until"), e.to_string()))?,
    };
    let attributes = Attributes {
        login: fields.login.unwrap_or(defaults.login),
        superuser: fields.superuser.unwrap_or(defaults.superuser),
        createdb: fields.createdb.unwrap_or(defaults.createdb),
        createrole: fields.createrole.unwrap_or(defaults.createrole),
        inherit: fields.inherit.unwrap_or(defaults.inherit),
        replication: fields.replication.unwrap_or(defaults.replication),
        bypassrls: fields.bypassrls.unwrap_or(defaults.bypassrls),
        connection_limit,
        valid_until,
    };
    let mut member_of = Memberships::new();
    for membership in fields.member_of.iter().flatten() {
        let (group, options) = match membership {
            RawMembership::Group(group) => (group, MembershipOptions::default()),
            RawMembership::Options(o) => (
                &o.role,
                MembershipOptions {
                    admin: o.admin.unwrap_or(false),
                    inherit: o.inherit,
                    set: o.set,
                },
            ),
        };
        if group.is_empty() || group.len() > 63 {
            return Err((
                Some("member_of"),
                format!("group name `{group}` must be 1 to 63 bytes"),
            ));
        }
        member_of.insert(RoleName::existing(group.clone()), options);
    }
    let rotation_of = |spec: Option<&String>| spec.cloned();
    let password = match &fields.password {
        None if attributes.login => PasswordPolicy::Generate { rotation: None },
        None => PasswordPolicy::None,
        Some(RawPassword::Keyword(PasswordKeyword::None)) => PasswordPolicy::None,
        Some(RawPassword::Keyword(PasswordKeyword::Generate)) => {
            PasswordPolicy::Generate { rotation: None }
        }
        Some(RawPassword::Spec(spec)) => match &spec.env {
            Some(var) if var.is_empty() || var.contains('=') => {
                return Err((
                    Some("password"),
                    format!("`{var}` is not an environment variable name"),
                ));
            }
            Some(var) => PasswordPolicy::Env {
                var: var.clone(),
                rotation: rotation_of(spec.rotate.as_ref()),
            },
            None => PasswordPolicy::Generate {
                rotation: rotation_of(spec.rotate.as_ref()),
            },
        },
    };
    if let Some(r) = password.rotation() {
        if r.contains(';') || r.contains('=') {
            return Err((
                Some("password"),
                format!("rotation key `{r}` may not contain `;` or `=`"),
            ));
        }
    }
    let mut settings = BTreeMap::new();
    if let Some(path) = &fields.search_path {
        if path.iter().any(String::is_empty) {
            return Err((
                Some("search_path"),
                "search_path has an empty schema name".into(),
            ));
        }
        settings.insert("search_path".to_string(), format_identifier_list(path));
    }
    for (name, value) in fields.set.iter().flatten() {
        if !is_valid_setting_name(name) {
            return Err((Some("set"), format!("`{name}` is not a valid setting name")));
        }
        let name = name.to_ascii_lowercase();
        if name == "search_path" && settings.contains_key("search_path") {
            return Err((
                Some("set"),
                "search_path is given both as `search_path` and in `set`".into(),
            ));
        }
        settings.insert(name.clone(), canonical_value(&name, &value.0));
    }
    let settings_scope = fields.settings_scope.unwrap_or(RawSettingsScope::Database);
    let grants = grants(fields)?;
    Ok(RoleState {
        attributes,
        member_of,
        password,
        settings,
        settings_scope,
        grants,
    })
}

/// The role's grants, with names resolved against its `schemas` (default `public`).
fn grants(fields: &RawRoleFields) -> Result<Vec<GrantSpec>, FieldError> {
    let default_schemas = fields
        .schemas
        .clone()
        .unwrap_or_else(|| vec!["public".to_string()]);
    let mut specs: Vec<GrantSpec> = fields
        .grants
        .iter()
        .flatten()
        .map(|g| grant(g, &default_schemas).map_err(|e| (Some("grants"), e)))
        .collect::<Result<_, _>>()?;
    specs.sort();
    specs.dedup();
    Ok(specs)
}

fn grant(raw: &RawGrant, default_schemas: &[String]) -> Result<GrantSpec, String> {
    use RawGrantOn as On;
    let kind = match raw.on {
        On::Database => ObjectKind::Database,
        On::Schema | On::Schemas => ObjectKind::Schema,
        On::Table | On::Tables => ObjectKind::Table,
        On::Sequence | On::Sequences => ObjectKind::Sequence,
        On::Function | On::Functions => ObjectKind::Function,
    };
    let on = format!("{:?}", raw.on).to_ascii_lowercase();
    let future = raw.future.unwrap_or(false);
    let all_in = matches!(raw.on, On::Tables | On::Sequences | On::Functions);
    if future && !all_in {
        return Err(format!(
            "grant on {on}: `future` applies only to tables, sequences and functions"
        ));
    }
    if raw.future_owners.is_some() && !future {
        return Err(format!(
            "grant on {on}: `future_owners` needs `future: true`"
        ));
    }
    let target = match raw.on {
        On::Database => {
            if raw.names.is_some() || raw.schemas.is_some() {
                return Err(
                    "grant on database: it is always the target database; drop `names`/`schemas`"
                        .into(),
                );
            }
            GrantTarget::Database
        }
        On::Schema | On::Schemas => {
            if raw.schemas.is_some() {
                return Err(format!("grant on {on}: use `names` for the schemas"));
            }
            GrantTarget::Schemas {
                names: non_empty_names(
                    raw.names
                        .clone()
                        .unwrap_or_else(|| default_schemas.to_vec()),
                    &on,
                )?,
            }
        }
        On::Tables | On::Sequences | On::Functions => {
            if raw.names.is_some() {
                return Err(format!(
                    "grant on {on}: use `schemas`; for single objects use `on: {}` with `names`",
                    kind.noun()
                ));
            }
            GrantTarget::AllIn {
                kind,
                schemas: non_empty_names(
                    raw.schemas
                        .clone()
                        .unwrap_or_else(|| default_schemas.to_vec()),
                    &on,
                )?,
            }
        }
        On::Table | On::Sequence | On::Function => {
            let names = raw
                .names
                .clone()
                .ok_or_else(|| format!("grant on {on}: `names` (schema.name) is required"))?;
            GrantTarget::Named {
                kind,
                objects: non_empty_names(names, &on)?
                    .iter()
                    .map(|n| split_qualified(n))
                    .collect::<Result<_, _>>()?,
            }
        }
    };
    if raw.privileges.is_empty() {
        return Err(format!("grant on {on}: `privileges` is empty"));
    }
    let valid = kind.valid_privileges();
    let mut privileges = BTreeSet::new();
    for privilege in &raw.privileges {
        let p = normalize_privilege(privilege);
        if p != "ALL" && !valid.contains(&p.as_str()) {
            return Err(format!(
                "grant on {on}: `{privilege}` is not a {} privilege (valid: {}, ALL)",
                kind.noun(),
                valid.join(", ")
            ));
        }
        privileges.insert(p);
    }
    let future_owners = raw.future_owners.as_ref().map(|owners| {
        owners
            .iter()
            .map(|o| RoleName::existing(o.clone()))
            .collect()
    });
    Ok(GrantSpec {
        target,
        privileges,
        future,
        future_owners,
    })
}

fn non_empty_names(names: Vec<String>, on: &str) -> Result<Vec<String>, String> {
    if names.is_empty() || names.iter().any(|n| n.is_empty() || n.len() > 63 * 2 + 1) {
        return Err(format!("grant on {on}: names must be non-empty"));
    }
    Ok(names)
}

/// `schema.name`, `name` (schema `public`), or with double quotes around a part that holds a dot.
fn split_qualified(text: &str) -> Result<(String, String), String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    match parts.as_slice() {
        [name] if !name.is_empty() => Ok(("public".into(), name.clone())),
        [schema, name] if !schema.is_empty() && !name.is_empty() => {
            Ok((schema.clone(), name.clone()))
        }
        _ => Err(format!("`{text}` must be written schema.name")),
    }
}

/// Why a `valid_until` text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValidUntil {
    #[error(
        "valid_until `{value}`: {reason}; expected YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS] (UTC) or infinity"
    )]
    Time { value: String, reason: UtcTimeError },
    /// jiff counts 1 BC as year 0; PostgreSQL has no year 0 and would fail the whole apply.
    #[error("valid_until `{0}`: PostgreSQL has no year 0000 (1 BC is followed by AD 1)")]
    YearZero(String),
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (UTC, `T` or space, optional `Z`) or `infinity`;
/// canonical form `YYYY-MM-DDTHH:MM:SSZ`, `None` for never. A day the calendar does not have is
/// refused here, not by the server at apply time, where it would roll back the cluster (issue 8).
pub fn canonical_valid_until(text: &str) -> Result<Option<String>, InvalidValidUntil> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("infinity") {
        return Ok(None);
    }
    let bare = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = bare.split_once(['T', ' ']).unwrap_or((bare, "00:00:00"));
    // `HH:MM` is on the minute; any other length is left for `canonical_utc` to refuse.
    let time = match time.len() {
        5 => format!("{time}:00"),
        _ => time.to_string(),
    };
    let canonical = canonical_utc(date, &time).map_err(|reason| InvalidValidUntil::Time {
        value: text.to_string(),
        reason,
    })?;
    if canonical.starts_with("0000-") {
        return Err(InvalidValidUntil::YearZero(text.to_string()));
    }
    Ok(Some(canonical))
}
