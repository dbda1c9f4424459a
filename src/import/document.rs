//! The roles file `import` writes: Serialize mirrors of the config's role and grant keys
//! (`config::raw`), holding only what a declaration needs, and rendered as YAML or TOML.

use crate::model::privileges::{GrantSpec, GrantTarget, ObjectKind};
use crate::model::Escalation;
use serde::Serialize;
use std::collections::BTreeMap;

/// A roles file: `roles:` and nothing else, to sit beside the registry.
#[derive(Debug, Default, Serialize)]
pub struct Document {
    pub roles: Vec<RoleEntry>,
}

/// One declaration, keys as `RawRole` reads them. A role with database settings that differ
/// between its databases, or with role-wide settings too, is declared once per distinct set,
/// all else repeated: declarations of one role on one cluster merge when they agree.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoleEntry {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub targets: Vec<String>,
    pub login: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superuser: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub createdb: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub createrole: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherit: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bypassrls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_limit: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings_scope: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub member_of: Vec<Membership>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow_escalation: Vec<Escalation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
}

/// A group name, or the group with the options that differ from a new grant's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Membership {
    Group(String),
    Options {
        role: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        admin: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        inherit: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        set: Option<bool>,
    },
}

/// A grant, keys as `RawGrant` reads them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub on: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schemas: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    pub privileges: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_option: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub future: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub future_owners: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing: Option<bool>,
}

impl Grant {
    /// The grant as written, such that lowering gives `spec` back.
    pub fn from_spec(spec: &GrantSpec) -> Grant {
        let (on, names, schemas, columns) = match &spec.target {
            GrantTarget::Database => ("database", None, None, None),
            GrantTarget::Schemas { names } => ("schemas", Some(names.clone()), None, None),
            GrantTarget::AllIn { kind, schemas } => {
                (all_in_key(*kind), None, Some(schemas.clone()), None)
            }
            GrantTarget::Named { kind, objects } => (
                named_key(*kind),
                Some(objects.iter().map(|(s, n)| qualified(s, n)).collect()),
                None,
                None,
            ),
            GrantTarget::Columns { tables, columns } => (
                "columns",
                Some(tables.iter().map(|(s, n)| qualified(s, n)).collect()),
                None,
                Some(columns.clone()),
            ),
            GrantTarget::Unqualified { kind, names } => {
                (named_key(*kind), Some(names.clone()), None, None)
            }
            GrantTarget::AllLargeObjects => ("large_objects", None, None, None),
        };
        Grant {
            on,
            names,
            schemas,
            columns,
            privileges: spec.privileges.iter().cloned().collect(),
            grant_option: spec.grant_option.then_some(true),
            future: spec.future.then_some(true),
            future_owners: spec
                .future_owners
                .as_ref()
                .map(|owners| owners.iter().map(|o| o.as_str().to_string()).collect()),
            existing: (!spec.existing).then_some(false),
        }
    }
}

/// `on:` for every object of a kind in schemas.
fn all_in_key(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Sequence => "sequences",
        ObjectKind::Function => "functions",
        ObjectKind::Type => "types",
        _ => "tables",
    }
}

/// `on:` for objects by name.
fn named_key(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Database => "database",
        ObjectKind::Schema => "schemas",
        ObjectKind::Table => "table",
        ObjectKind::Sequence => "sequence",
        ObjectKind::Function => "function",
        ObjectKind::Column => "columns",
        ObjectKind::Type => "type",
        ObjectKind::LargeObject => "large_object",
        ObjectKind::ForeignDataWrapper => "foreign_data_wrapper",
        ObjectKind::ForeignServer => "foreign_server",
        ObjectKind::Tablespace => "tablespace",
        ObjectKind::Parameter => "parameter",
    }
}

/// `schema.name` as `names` reads it: a part holding a dot or a double quote is quoted, its
/// quotes doubled (`config::lower`'s `split_qualified` is the reader).
pub(crate) fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_part(schema), quote_part(name))
}

fn quote_part(part: &str) -> String {
    if part.contains('.') || part.contains('"') {
        format!("\"{}\"", part.replace('"', "\"\""))
    } else {
        part.to_string()
    }
}

/// The file format `import` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Toml,
}

/// Why the document could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("writing YAML: {0}")]
    Yaml(String),
    #[error("writing TOML: {0}")]
    Toml(#[from] toml::ser::Error),
}

impl Document {
    pub fn render(&self, format: Format) -> Result<String, RenderError> {
        match format {
            Format::Yaml => {
                serde_saphyr::to_string(self).map_err(|e| RenderError::Yaml(e.to_string()))
            }
            Format::Toml => Ok(toml::to_string(self)?),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn odd_names_are_quoted_so_that_lowering_splits_them_back() {
        assert_eq!(qualified("public", "t"), "public.t");
        assert_eq!(qualified("my.schema", "a\"b"), "\"my.schema\".\"a\"\"b\"");
        assert_eq!(qualified("Sales Q1", "Ünïcode"), "Sales Q1.Ünïcode");
    }
}
