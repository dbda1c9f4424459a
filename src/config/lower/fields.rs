//! The target-independent part of a role: attributes, password, settings, grants.

use super::super::raw::{
    PasswordKeyword, RawGrant, RawGrantOn, RawMembership, RawPassword, RawRoleFields,
    RawSettingsScope,
};
use crate::model::privileges::{normalize_privilege, GrantSpec, GrantTarget, ObjectKind};
use crate::model::settings::{
    canonical_value, format_identifier_list, is_identifier_list, is_valid_setting_name,
    parse_identifier_list,
};
use crate::model::utc::{canonical_utc, UtcTimeError};
use crate::model::{
    Attributes, Escalation, MembershipOptions, Memberships, PasswordPolicy, RoleName,
};
use std::collections::{BTreeMap, BTreeSet};

/// The parts of a desired role that do not depend on the target.
pub struct RoleState {
    pub attributes: Attributes,
    pub member_of: Memberships,
    pub allow_escalation: BTreeSet<Escalation>,
    pub password: PasswordPolicy,
    pub settings: BTreeMap<String, String>,
    pub settings_scope: RawSettingsScope,
    pub grants: Vec<GrantSpec>,
}

/// What is wrong with one of a role's fields; `key` says which, for the caller to locate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("connection_limit {0} must be -1 (no limit) or more")]
    ConnectionLimit(i32),
    #[error(transparent)]
    ValidUntil(#[from] InvalidValidUntil),
    #[error("group name `{0}` must be 1 to 63 bytes")]
    GroupName(String),
    #[error("`{0}` is not an environment variable name")]
    PasswordVar(String),
    #[error("rotation key `{0}` may not contain `;` or `=`")]
    RotationKey(String),
    /// The marker comment that records the key is read back trimmed, so a key with spaces at
    /// its ends would never match it and reset the password on every apply.
    #[error("rotation key {0:?} starts or ends with whitespace; write it without")]
    RotationKeyWhitespace(String),
    /// `SET search_path TO` needs at least one name, and no name is empty.
    #[error("`{name}` has no schema in it, or an empty one; list at least one, each non-empty")]
    EmptyListSetting { key: &'static str, name: String },
    #[error("`{0}` is not a valid setting name (dot-separated parts of letters, digits, `_` and `$`, each starting with a letter or `_`)")]
    SettingName(String),
    /// Setting names are case-insensitive: two spellings of one would be last-wins.
    #[error("setting `{0}` is given twice (setting names are case-insensitive)")]
    SettingTwice(String),
    /// PostgreSQL's text cannot hold NUL; the server would refuse the whole apply.
    #[error("{what} contains a NUL character")]
    Nul { key: &'static str, what: String },
    #[error("search_path is given both as `search_path` and in `set`")]
    SearchPathTwice,
    #[error("grant on {on}: {problem}")]
    Grant { on: String, problem: GrantProblem },
}

/// What is wrong with one grant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantProblem {
    #[error("`future` applies only to tables, sequences, functions, types (with `schemas`) and large_objects (without `names`)")]
    FutureNotAllIn,
    #[error("`columns` (the column names) is required with `on: columns`, and only there")]
    Columns,
    #[error("`schemas` does not apply to {0}; name them in `names`")]
    SchemasOnUnqualified(&'static str),
    #[error("`names` is required: the {0} names")]
    UnqualifiedNamesRequired(&'static str),
    #[error("`{0}` is not a large object OID (a number from 1 to 4294967295)")]
    LargeObjectOid(String),
    #[error("`future_owners` needs `future: true`")]
    FutureOwnersWithoutFuture,
    #[error("`existing: false` needs `future: true`: without it the grant would grant nothing")]
    ExistingWithoutFuture,
    #[error("it is always the target database; drop `names`/`schemas`")]
    DatabaseWithNames,
    #[error("use `names` for the schemas")]
    SchemasOnSchema,
    #[error("use `schemas`; for single objects use `on: {0}` with `names`")]
    NamesOnAllIn(&'static str),
    #[error("`names` (schema.name) is required")]
    NamesRequired,
    #[error("names must be non-empty, at most 127 bytes and free of NUL characters")]
    EmptyName,
    #[error("`{0}` must be written schema.name")]
    Unqualified(String),
    #[error("`privileges` is empty")]
    NoPrivileges,
    #[error("`{privilege}` is not a {noun} privilege (valid: {valid}, ALL)")]
    UnknownPrivilege {
        privilege: String,
        noun: &'static str,
        valid: String,
    },
}

impl FieldError {
    /// The key at fault.
    pub fn key(&self) -> &'static str {
        match self {
            FieldError::ConnectionLimit(_) => "connection_limit",
            FieldError::ValidUntil(_) => "valid_until",
            FieldError::GroupName(_) => "member_of",
            FieldError::PasswordVar(_)
            | FieldError::RotationKey(_)
            | FieldError::RotationKeyWhitespace(_) => "password",
            FieldError::EmptyListSetting { key, .. } | FieldError::Nul { key, .. } => key,
            FieldError::SettingName(_)
            | FieldError::SearchPathTwice
            | FieldError::SettingTwice(_) => "set",
            FieldError::Grant { .. } => "grants",
        }
    }
}

pub fn role_state(fields: &RawRoleFields) -> Result<RoleState, FieldError> {
    let defaults = Attributes::default();
    let connection_limit = fields.connection_limit.unwrap_or(defaults.connection_limit);
    if connection_limit < -1 {
        return Err(FieldError::ConnectionLimit(connection_limit));
    }
    let valid_until = match &fields.valid_until {
        None => None,
        Some(v) => canonical_valid_until(&v.0)?,
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
            return Err(FieldError::GroupName(group.clone()));
        }
        no_nul("member_of", "group name", group)?;
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
                return Err(FieldError::PasswordVar(var.clone()));
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
    if let PasswordPolicy::Env { var, .. } = &password {
        no_nul("password", "the password variable's name", var)?;
    }
    if let Some(r) = password.rotation() {
        if r.contains(';') || r.contains('=') {
            return Err(FieldError::RotationKey(r.to_string()));
        }
        if r.trim() != r {
            return Err(FieldError::RotationKeyWhitespace(r.to_string()));
        }
        no_nul("password", "the rotation key", r)?;
    }
    let mut settings = BTreeMap::new();
    if let Some(path) = &fields.search_path {
        for schema in path {
            no_nul("search_path", "a search_path schema", schema)?;
        }
        if path.is_empty() || path.iter().any(String::is_empty) {
            return Err(FieldError::EmptyListSetting {
                key: "search_path",
                name: "search_path".into(),
            });
        }
        settings.insert("search_path".to_string(), format_identifier_list(path));
    }
    for (name, value) in fields.set.iter().flatten() {
        no_nul("set", &format!("the value of setting `{name}`"), &value.0)?;
        if !is_valid_setting_name(name) {
            return Err(FieldError::SettingName(name.clone()));
        }
        let name = name.to_ascii_lowercase();
        if name == "search_path" && fields.search_path.is_some() {
            return Err(FieldError::SearchPathTwice);
        }
        if settings.contains_key(&name) {
            return Err(FieldError::SettingTwice(name));
        }
        if is_identifier_list(&name) {
            let elements = parse_identifier_list(&value.0);
            if elements.is_empty() || elements.iter().any(String::is_empty) {
                return Err(FieldError::EmptyListSetting { key: "set", name });
            }
        }
        settings.insert(name.clone(), canonical_value(&name, &value.0));
    }
    for schema in fields.schemas.iter().flatten() {
        no_nul("schemas", "a schema name", schema)?;
    }
    let settings_scope = fields.settings_scope.unwrap_or(RawSettingsScope::Database);
    let grants = grants(fields)?;
    Ok(RoleState {
        attributes,
        member_of,
        allow_escalation: fields.allow_escalation.iter().flatten().copied().collect(),
        password,
        settings,
        settings_scope,
        grants,
    })
}

fn no_nul(key: &'static str, what: &str, text: &str) -> Result<(), FieldError> {
    if text.contains('\0') {
        return Err(FieldError::Nul {
            key,
            what: what.to_string(),
        });
    }
    Ok(())
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
        .map(|g| {
            grant(g, &default_schemas).map_err(|problem| FieldError::Grant {
                on: format!("{:?}", g.on).to_ascii_lowercase(),
                problem,
            })
        })
        .collect::<Result<_, _>>()?;
    specs.sort();
    specs.dedup();
    Ok(specs)
}

fn grant(raw: &RawGrant, default_schemas: &[String]) -> Result<GrantSpec, GrantProblem> {
    use RawGrantOn as On;
    let kind = match raw.on {
        On::Database => ObjectKind::Database,
        On::Schema | On::Schemas => ObjectKind::Schema,
        On::Table | On::Tables => ObjectKind::Table,
        On::Sequence | On::Sequences => ObjectKind::Sequence,
        On::Function | On::Functions => ObjectKind::Function,
        On::Column | On::Columns => ObjectKind::Column,
        On::Type | On::Types | On::Domain | On::Domains => ObjectKind::Type,
        On::LargeObject | On::LargeObjects => ObjectKind::LargeObject,
        On::ForeignDataWrapper | On::ForeignDataWrappers => ObjectKind::ForeignDataWrapper,
        On::ForeignServer | On::ForeignServers => ObjectKind::ForeignServer,
        On::Tablespace | On::Tablespaces => ObjectKind::Tablespace,
        On::Parameter | On::Parameters => ObjectKind::Parameter,
    };
    let future = raw.future.unwrap_or(false);
    let every_large_object = kind == ObjectKind::LargeObject && raw.names.is_none();
    let all_in = matches!(
        raw.on,
        On::Tables | On::Sequences | On::Functions | On::Types | On::Domains
    );
    if future && !all_in && !every_large_object {
        return Err(GrantProblem::FutureNotAllIn);
    }
    if raw.future_owners.is_some() && !future {
        return Err(GrantProblem::FutureOwnersWithoutFuture);
    }
    let existing = raw.existing.unwrap_or(true);
    if !existing && !future {
        return Err(GrantProblem::ExistingWithoutFuture);
    }
    if raw.columns.is_some() != (kind == ObjectKind::Column) {
        return Err(GrantProblem::Columns);
    }
    let qualified = |names: Vec<String>| -> Result<Vec<(String, String)>, GrantProblem> {
        non_empty_names(names)?
            .iter()
            .map(|n| split_qualified(n))
            .collect()
    };
    let target = match raw.on {
        On::Database => {
            if raw.names.is_some() || raw.schemas.is_some() {
                return Err(GrantProblem::DatabaseWithNames);
            }
            GrantTarget::Database
        }
        On::Schema | On::Schemas => {
            if raw.schemas.is_some() {
                return Err(GrantProblem::SchemasOnSchema);
            }
            GrantTarget::Schemas {
                names: non_empty_names(
                    raw.names
                        .clone()
                        .unwrap_or_else(|| default_schemas.to_vec()),
                )?,
            }
        }
        On::Tables | On::Sequences | On::Functions | On::Types | On::Domains => {
            if raw.names.is_some() {
                return Err(GrantProblem::NamesOnAllIn(kind.noun()));
            }
            GrantTarget::AllIn {
                kind,
                schemas: non_empty_names(
                    raw.schemas
                        .clone()
                        .unwrap_or_else(|| default_schemas.to_vec()),
                )?,
            }
        }
        On::Table | On::Sequence | On::Function | On::Type | On::Domain => GrantTarget::Named {
            kind,
            objects: qualified(raw.names.clone().ok_or(GrantProblem::NamesRequired)?)?,
        },
        On::Column | On::Columns => {
            if raw.schemas.is_some() {
                return Err(GrantProblem::NamesRequired);
            }
            GrantTarget::Columns {
                tables: qualified(raw.names.clone().ok_or(GrantProblem::NamesRequired)?)?,
                columns: non_empty_names(raw.columns.clone().unwrap_or_default())?,
            }
        }
        _ if raw.schemas.is_some() => {
            return Err(GrantProblem::SchemasOnUnqualified(kind.noun()));
        }
        _ if every_large_object => GrantTarget::AllLargeObjects,
        _ => {
            let names = non_empty_names(
                raw.names
                    .clone()
                    .ok_or(GrantProblem::UnqualifiedNamesRequired(kind.noun()))?,
            )?;
            GrantTarget::Unqualified {
                kind,
                names: names
                    .into_iter()
                    .map(|name| unqualified_name(kind, name))
                    .collect::<Result<_, _>>()?,
            }
        }
    };
    if raw.privileges.is_empty() {
        return Err(GrantProblem::NoPrivileges);
    }
    let valid = kind.valid_privileges();
    let mut privileges = BTreeSet::new();
    for privilege in &raw.privileges {
        let p = normalize_privilege(privilege);
        if p != "ALL" && !valid.contains(&p.as_str()) {
            return Err(GrantProblem::UnknownPrivilege {
                privilege: privilege.clone(),
                noun: kind.noun(),
                valid: valid.join(", "),
            });
        }
        privileges.insert(p);
    }
    if let Some(owners) = &raw.future_owners {
        if owners.iter().any(|o| o.is_empty() || o.contains('\0')) {
            return Err(GrantProblem::EmptyName);
        }
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
        grant_option: raw.grant_option.unwrap_or(false),
        future,
        future_owners,
        existing,
    })
}

/// A large object's OID as the server prints it; a parameter's name as the catalog stores it
/// (parameter names are case-insensitive).
fn unqualified_name(kind: ObjectKind, name: String) -> Result<String, GrantProblem> {
    match kind {
        ObjectKind::LargeObject => match name.trim().parse::<u32>() {
            Ok(oid) if oid > 0 => Ok(oid.to_string()),
            _ => Err(GrantProblem::LargeObjectOid(name)),
        },
        ObjectKind::Parameter => Ok(name.to_lowercase()),
        _ => Ok(name),
    }
}

fn non_empty_names(names: Vec<String>) -> Result<Vec<String>, GrantProblem> {
    let bad = |n: &String| n.is_empty() || n.len() > 63 * 2 + 1 || n.contains('\0');
    if names.is_empty() || names.iter().any(bad) {
        return Err(GrantProblem::EmptyName);
    }
    Ok(names)
}

/// `schema.name`, `name` (schema `public`), or with double quotes around a part that holds a dot.
fn split_qualified(text: &str) -> Result<(String, String), GrantProblem> {
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
        _ => Err(GrantProblem::Unqualified(text.to_string())),
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
