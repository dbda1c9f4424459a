//! Privileges: what a role may do on the objects of a database, desired and held.
//!
//! Grants are declared once per role and applied in each of its target databases; "all tables in
//! schema" grants are resolved against the objects that exist when planning, and `future`
//! grants become default privileges so that objects created later are covered too.
//!
//! Every class of privilege PostgreSQL has is here (docs: Privileges, table 5.1): databases,
//! schemas, tables and their columns, sequences, routines, types and domains, large objects,
//! foreign data wrappers and servers, and the cluster-wide tablespaces and parameters. The
//! grant option is part of a privilege: held without being declared, it is revoked.

use super::RoleName;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Database,
    Schema,
    /// Tables, views, materialized views, foreign and partitioned tables: what
    /// `GRANT .. ON ALL TABLES IN SCHEMA` covers.
    Table,
    Sequence,
    /// Functions, procedures, aggregates and window functions: all are routines.
    Function,
    /// A column of a table-like relation; granted `ON TABLE` with a column list.
    Column,
    /// Types and domains (`GRANT .. ON TYPE` reaches both).
    Type,
    /// Named by OID; no schema.
    LargeObject,
    ForeignDataWrapper,
    ForeignServer,
    /// Cluster-wide (shared catalog).
    Tablespace,
    /// Configuration parameters (`SET`, `ALTER SYSTEM`); cluster-wide.
    Parameter,
}

impl ObjectKind {
    /// The privileges `ALL` stands for (docs: Privileges, table 5.2). MAINTAIN arrived in 17.
    pub(crate) fn all_privileges(self, server_version_num: i32) -> Vec<&'static str> {
        match self {
            ObjectKind::Database => vec!["CONNECT", "CREATE", "TEMPORARY"],
            ObjectKind::Schema => vec!["CREATE", "USAGE"],
            ObjectKind::Table => {
                let mut all = vec![
                    "DELETE",
                    "INSERT",
                    "REFERENCES",
                    "SELECT",
                    "TRIGGER",
                    "TRUNCATE",
                    "UPDATE",
                ];
                if server_version_num >= 170000 {
                    all.push("MAINTAIN");
                }
                all
            }
            ObjectKind::Sequence => vec!["SELECT", "UPDATE", "USAGE"],
            ObjectKind::Function => vec!["EXECUTE"],
            ObjectKind::Column => vec!["INSERT", "REFERENCES", "SELECT", "UPDATE"],
            ObjectKind::Type | ObjectKind::ForeignDataWrapper | ObjectKind::ForeignServer => {
                vec!["USAGE"]
            }
            ObjectKind::LargeObject => vec!["SELECT", "UPDATE"],
            ObjectKind::Tablespace => vec!["CREATE"],
            ObjectKind::Parameter => vec!["ALTER SYSTEM", "SET"],
        }
    }

    /// Objects of the kind live in shared catalogs: one per cluster, seen from every database.
    pub(crate) fn is_cluster_wide(self) -> bool {
        matches!(self, ObjectKind::Tablespace | ObjectKind::Parameter)
    }

    /// Every privilege the kind can have on any supported server, for validation.
    pub(crate) fn valid_privileges(self) -> Vec<&'static str> {
        self.all_privileges(i32::MAX)
    }

    /// The keyword in `GRANT .. ON <KIND>`.
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            ObjectKind::Database => "DATABASE",
            ObjectKind::Schema => "SCHEMA",
            ObjectKind::Table => "TABLE",
            ObjectKind::Sequence => "SEQUENCE",
            ObjectKind::Function => "FUNCTION",
            ObjectKind::Column => "TABLE",
            ObjectKind::Type => "TYPE",
            ObjectKind::LargeObject => "LARGE OBJECT",
            ObjectKind::ForeignDataWrapper => "FOREIGN DATA WRAPPER",
            ObjectKind::ForeignServer => "FOREIGN SERVER",
            ObjectKind::Tablespace => "TABLESPACE",
            ObjectKind::Parameter => "PARAMETER",
        }
    }

    /// The plural in `ON ALL <KINDS> IN SCHEMA` and `ALTER DEFAULT PRIVILEGES .. ON <KINDS>`.
    pub(crate) fn plural(self) -> &'static str {
        match self {
            ObjectKind::Database => "DATABASES",
            ObjectKind::Schema => "SCHEMAS",
            ObjectKind::Table => "TABLES",
            ObjectKind::Sequence => "SEQUENCES",
            ObjectKind::Function => "FUNCTIONS",
            ObjectKind::Column => "COLUMNS",
            ObjectKind::Type => "TYPES",
            ObjectKind::LargeObject => "LARGE OBJECTS",
            ObjectKind::ForeignDataWrapper => "FOREIGN DATA WRAPPERS",
            ObjectKind::ForeignServer => "FOREIGN SERVERS",
            ObjectKind::Tablespace => "TABLESPACES",
            ObjectKind::Parameter => "PARAMETERS",
        }
    }

    pub(crate) fn noun(self) -> &'static str {
        match self {
            ObjectKind::Database => "database",
            ObjectKind::Schema => "schema",
            ObjectKind::Table => "table",
            ObjectKind::Sequence => "sequence",
            ObjectKind::Function => "function",
            ObjectKind::Column => "column",
            ObjectKind::Type => "type",
            ObjectKind::LargeObject => "large object",
            ObjectKind::ForeignDataWrapper => "foreign data wrapper",
            ObjectKind::ForeignServer => "foreign server",
            ObjectKind::Tablespace => "tablespace",
            ObjectKind::Parameter => "parameter",
        }
    }
}

/// Normalises a privilege name as written (`temp`, `Select`) to the catalog's spelling.
pub(crate) fn normalize_privilege(name: &str) -> String {
    match name.trim().to_ascii_uppercase().as_str() {
        "TEMP" => "TEMPORARY".to_string(),
        "ALL PRIVILEGES" => "ALL".to_string(),
        other => other.to_string(),
    }
}

/// What a grant is on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "on")]
pub enum GrantTarget {
    /// The target database itself.
    Database,
    Schemas {
        names: Vec<String>,
    },
    /// Every object of `kind` in `schemas`, now (and later, with `future`).
    AllIn {
        kind: ObjectKind,
        schemas: Vec<String>,
    },
    /// Objects by `schema.name` (functions: every overload of the name).
    Named {
        kind: ObjectKind,
        objects: Vec<(String, String)>,
    },
    /// These columns of each of these tables.
    Columns {
        tables: Vec<(String, String)>,
        columns: Vec<String>,
    },
    /// Objects outside schemas, by name (large objects: by OID).
    Unqualified {
        kind: ObjectKind,
        names: Vec<String>,
    },
    /// Every large object of the database, now (and later, with `future`, PostgreSQL 18+).
    AllLargeObjects,
}

impl GrantTarget {
    pub(crate) fn kind(&self) -> ObjectKind {
        match self {
            GrantTarget::Database => ObjectKind::Database,
            GrantTarget::Schemas { .. } => ObjectKind::Schema,
            GrantTarget::AllIn { kind, .. }
            | GrantTarget::Named { kind, .. }
            | GrantTarget::Unqualified { kind, .. } => *kind,
            GrantTarget::Columns { .. } => ObjectKind::Column,
            GrantTarget::AllLargeObjects => ObjectKind::LargeObject,
        }
    }
}

/// One declared grant, the same in every target database of the role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct GrantSpec {
    pub target: GrantTarget,
    /// Catalog spelling; `ALL` is expanded by the planner for the server's version.
    pub privileges: BTreeSet<String>,
    /// `WITH GRANT OPTION`: the role may pass the privileges on.
    pub grant_option: bool,
    /// Also grant on objects created later (`ALTER DEFAULT PRIVILEGES`); only for `AllIn`
    /// and `AllLargeObjects`.
    pub future: bool,
    /// Whose future objects; `None`: the roles that own the schema's objects of that kind now,
    /// else the schema's owner.
    pub future_owners: Option<Vec<RoleName>>,
    /// Whether the grant covers the objects that exist now; false only with `future`, for
    /// default privileges alone.
    pub existing: bool,
}

/// An object in a database, named as SQL needs it.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    /// `None` for databases and schemas.
    pub schema: Option<String>,
    pub name: String,
    /// A function's identity arguments, as `pg_get_function_identity_arguments` prints them.
    pub arguments: Option<String>,
    /// A column's name; `name` is then its table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}.")?;
        }
        f.write_str(&self.name)?;
        if let Some(arguments) = &self.arguments {
            write!(f, "({arguments})")?;
        }
        if let Some(column) = &self.column {
            write!(f, ".{column}")?;
        }
        Ok(())
    }
}

/// An object that exists in a database, with its owner.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct DbObject {
    pub object: ObjectRef,
    pub owner: RoleName,
}

/// The grantee name under which PUBLIC's privileges are read: `public` is reserved, so no role
/// can carry it. Only grants to PUBLIC made by someone other than the owner are read, the ones
/// a revoke can cascade to.
pub const PUBLIC: &str = "public";

/// A privilege a role holds directly on an object (whoever granted it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct HeldPrivilege {
    pub grantee: RoleName,
    pub object: ObjectRef,
    pub privilege: String,
    /// Who granted it: a REVOKE only removes the grants of the role it acts as, so revokes
    /// name each grantor (`GRANTED BY`).
    pub grantor: RoleName,
    /// Held `WITH GRANT OPTION`.
    pub grant_option: bool,
}

/// A default privilege: objects of `kind` that `owner` creates (in `schema`, or anywhere)
/// get `privilege` for `grantee`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct DefaultPrivilege {
    pub owner: RoleName,
    pub schema: Option<String>,
    pub kind: ObjectKind,
    pub grantee: RoleName,
    pub privilege: String,
    /// `WITH GRANT OPTION`.
    pub grant_option: bool,
}

/// Everything privilege-related read from one database.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DatabaseState {
    pub database: String,
    /// Every object outside the system schemas that can hold a privilege, with the
    /// cluster-wide tablespaces and parameters.
    pub objects: Vec<DbObject>,
    pub held: BTreeSet<HeldPrivilege>,
    pub defaults: BTreeSet<DefaultPrivilege>,
}
