//! Desired and current state as one type, so the planner compares like with like.
//!
//! The config side (`config::lower`) and the catalog side (`catalog`) both produce these values.
//! PostgreSQL's defaults for role attributes are written down once, in [`Attributes::default`].

pub mod membership_graph;
mod names;
pub mod policy;
pub mod privileges;
pub mod public;
mod role_map;
mod secret;
pub(crate) mod settings;
pub mod spelling;
pub(crate) mod utc;

pub use membership_graph::Escalation;
pub use names::{ClusterKey, NameError, RoleName, TargetName};
pub use role_map::{Named, RoleMap};
pub use secret::Secret;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Role attributes as `CREATE ROLE` knows them. `valid_until` is canonical UTC
/// (`YYYY-MM-DDTHH:MM:SSZ`), `-infinity` (never valid: read from a cluster, never declared) or
/// `None` for "never expires" (NULL or 'infinity').
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attributes {
    pub login: bool,
    pub superuser: bool,
    pub createdb: bool,
    pub createrole: bool,
    pub inherit: bool,
    pub replication: bool,
    pub bypassrls: bool,
    pub connection_limit: i32,
    pub valid_until: Option<String>,
}

impl Default for Attributes {
    /// PostgreSQL's defaults for `CREATE ROLE` (docs: SQL Commands, CREATE ROLE).
    fn default() -> Self {
        Attributes {
            login: false,
            superuser: false,
            createdb: false,
            createrole: false,
            inherit: true,
            replication: false,
            bypassrls: false,
            connection_limit: -1,
            valid_until: None,
        }
    }
}

/// One attribute that differs, with both values, for plans and `ALTER ROLE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct AttributeChange {
    pub attribute: &'static str,
    pub from: AttributeValue,
    pub to: AttributeValue,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum AttributeValue {
    Flag(bool),
    Limit(i32),
    /// `None` is "never expires".
    Expiry(Option<String>),
}

/// An attribute change as a saved plan holds it, its name not yet checked.
#[derive(Deserialize)]
struct SavedAttributeChange {
    attribute: String,
    from: AttributeValue,
    to: AttributeValue,
}

/// The name is read back as the one `Attributes::values` spells it.
impl<'de> Deserialize<'de> for AttributeChange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let saved = SavedAttributeChange::deserialize(deserializer)?;
        let attribute = Attributes::default()
            .values()
            .into_iter()
            .map(|(attribute, _)| attribute)
            .find(|attribute| *attribute == saved.attribute)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("unknown role attribute `{}`", saved.attribute))
            })?;
        Ok(AttributeChange {
            attribute,
            from: saved.from,
            to: saved.to,
        })
    }
}

impl std::fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttributeValue::Flag(b) => write!(f, "{b}"),
            AttributeValue::Limit(n) => write!(f, "{n}"),
            AttributeValue::Expiry(Some(t)) => f.write_str(t),
            AttributeValue::Expiry(None) => f.write_str("infinity"),
        }
    }
}

impl Attributes {
    /// Every attribute with its value, in `CREATE ROLE` order.
    pub fn values(&self) -> [(&'static str, AttributeValue); 9] {
        use AttributeValue::{Expiry, Flag, Limit};
        [
            ("login", Flag(self.login)),
            ("superuser", Flag(self.superuser)),
            ("createdb", Flag(self.createdb)),
            ("createrole", Flag(self.createrole)),
            ("inherit", Flag(self.inherit)),
            ("replication", Flag(self.replication)),
            ("bypassrls", Flag(self.bypassrls)),
            ("connection_limit", Limit(self.connection_limit)),
            ("valid_until", Expiry(self.valid_until.clone())),
        ]
    }

    /// What must change to turn `self` into `desired`.
    pub fn diff(&self, desired: &Attributes) -> Vec<AttributeChange> {
        self.values()
            .into_iter()
            .zip(desired.values())
            .filter(|((_, from), (_, to))| from != to)
            .map(|((attribute, from), (_, to))| AttributeChange {
                attribute,
                from,
                to,
            })
            .collect()
    }
}

/// Options of a membership (PostgreSQL 16 added `inherit` and `set`). `None` leaves the
/// server's default for a new grant and is not compared, so it never shows as drift.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub struct MembershipOptions {
    pub admin: bool,
    pub inherit: Option<bool>,
    pub set: Option<bool>,
}

impl MembershipOptions {
    /// The options of a membership held through this grant and `other` (PostgreSQL 16+ keeps
    /// one grant per grantor): the member has an option if any grant gives it.
    pub(crate) fn union(self, other: MembershipOptions) -> MembershipOptions {
        let either = |a: Option<bool>, b: Option<bool>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(false) || b.unwrap_or(false)),
        };
        MembershipOptions {
            admin: self.admin || other.admin,
            inherit: either(self.inherit, other.inherit),
            set: either(self.set, other.set),
        }
    }
}

/// The groups a role is a member of, with the options of each membership, sorted by group.
/// A sorted Vec (a [`RoleMap`]), not a BTreeMap: a role is in one to a few groups, a BTreeMap
/// allocates room for eleven, and a fleet has tens of thousands of roles, desired and current.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memberships(RoleMap<(RoleName, MembershipOptions)>);

impl Named for (RoleName, MembershipOptions) {
    fn name(&self) -> &RoleName {
        &self.0
    }
}

impl Memberships {
    pub fn new() -> Self {
        Memberships(RoleMap::new())
    }

    /// Sets the options of `group`; returns the previous ones.
    pub(crate) fn insert(
        &mut self,
        group: RoleName,
        options: MembershipOptions,
    ) -> Option<MembershipOptions> {
        self.0
            .insert((group, options))
            .map(|(_, previous)| previous)
    }

    pub fn get(&self, group: &RoleName) -> Option<&MembershipOptions> {
        self.0.get(group).map(|(_, options)| options)
    }

    pub fn get_mut(&mut self, group: &RoleName) -> Option<&mut MembershipOptions> {
        self.0.get_mut(group).map(|(_, options)| options)
    }

    pub fn contains_key(&self, group: &RoleName) -> bool {
        self.0.contains_key(group)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&RoleName, &MembershipOptions)> {
        self.0.values().map(|(g, o)| (g, o))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&RoleName, &mut MembershipOptions)> {
        self.0.values_mut().map(|(g, o)| (&*g, o))
    }

    pub fn keys(&self) -> impl Iterator<Item = &RoleName> {
        self.0.keys()
    }

    pub fn values(&self) -> impl Iterator<Item = &MembershipOptions> {
        self.0.values().map(|(_, o)| o)
    }
}

impl<'a> IntoIterator for &'a Memberships {
    type Item = (&'a RoleName, &'a MembershipOptions);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (RoleName, MembershipOptions)>,
        fn(&'a (RoleName, MembershipOptions)) -> (&'a RoleName, &'a MembershipOptions),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.values().map(|(g, o)| (g, o))
    }
}

/// Of two memberships in one group the last is kept.
impl FromIterator<(RoleName, MembershipOptions)> for Memberships {
    fn from_iter<I: IntoIterator<Item = (RoleName, MembershipOptions)>>(iter: I) -> Self {
        Memberships(iter.into_iter().collect())
    }
}

/// Serialized as the map it stands for.
impl Serialize for Memberships {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// How a connection uses TLS, as libpq's `sslmode` (docs: libpq, SSL Support).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    /// TLS when the server offers it, unverified (libpq's default).
    Prefer,
    /// TLS always, certificate not verified.
    Require,
    /// TLS, certificate signed by a trusted CA.
    VerifyCa,
    /// TLS, trusted CA, and the certificate names the host.
    VerifyFull,
}

/// A `sslmode` text that is none of libpq's modes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sslmode `{0}` is not one of disable, prefer, require, verify-ca, verify-full")]
pub struct UnknownSslMode(pub String);

impl std::str::FromStr for SslMode {
    type Err = UnknownSslMode;
    fn from_str(text: &str) -> Result<Self, UnknownSslMode> {
        match text {
            "disable" => Ok(SslMode::Disable),
            "allow" | "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(UnknownSslMode(other.to_string())),
        }
    }
}

/// Where a role setting applies: every database (`ALTER ROLE .. SET`) or one database
/// (`ALTER ROLE .. IN DATABASE .. SET`).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case", tag = "scope", content = "database")]
pub enum SettingScope {
    AllDatabases,
    Database(String),
}

impl std::fmt::Display for SettingScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingScope::AllDatabases => f.write_str("all databases"),
            SettingScope::Database(db) => write!(f, "database {db}"),
        }
    }
}

/// Settings keyed by scope, then by parameter name; values as PostgreSQL stores them.
pub type Settings = BTreeMap<SettingScope, BTreeMap<String, String>>;

/// How the password of a desired role is obtained. The value itself is never part of the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum PasswordPolicy {
    /// Generated here on create and whenever `rotation` changes.
    Generate { rotation: Option<String> },
    /// Read from an environment variable at apply time.
    Env {
        var: String,
        rotation: Option<String>,
    },
    /// No password (a group role, or a login that authenticates otherwise).
    None,
}

impl PasswordPolicy {
    pub(crate) fn rotation(&self) -> Option<&str> {
        match self {
            PasswordPolicy::Generate { rotation } | PasswordPolicy::Env { rotation, .. } => {
                rotation.as_deref()
            }
            PasswordPolicy::None => None,
        }
    }
}

/// The marker comment pgroster puts on the roles it manages; its only state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Marker {
    pub profile: Option<String>,
    pub rotation: Option<String>,
}

const MARKER_PREFIX: &str = "managed by pgroster";

impl Marker {
    pub(crate) fn to_comment(&self) -> String {
        let mut text = MARKER_PREFIX.to_string();
        if let Some(profile) = &self.profile {
            text.push_str("; profile=");
            text.push_str(profile);
        }
        if let Some(rotation) = &self.rotation {
            text.push_str("; rotation=");
            text.push_str(rotation);
        }
        text
    }

    /// Whether a role comment is a marker.
    pub(crate) fn is_marker(comment: &str) -> bool {
        comment.starts_with(MARKER_PREFIX)
    }

    /// Reads a role comment; `None` when the role is not managed by pgroster.
    pub fn parse(comment: &str) -> Option<Marker> {
        let rest = comment.strip_prefix(MARKER_PREFIX)?;
        let mut marker = Marker {
            profile: None,
            rotation: None,
        };
        for part in rest.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("profile", v)) => marker.profile = Some(v.to_string()),
                Some(("rotation", v)) => marker.rotation = Some(v.to_string()),
                _ => {}
            }
        }
        Some(marker)
    }
}

/// One role as pgroster wants it on one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DesiredRole {
    pub name: RoleName,
    pub profile: Option<String>,
    pub attributes: Attributes,
    pub member_of: Memberships,
    pub settings: Settings,
    pub password: PasswordPolicy,
    /// Privileges in each target database (sorted, deduplicated).
    pub grants: Vec<privileges::GrantSpec>,
    /// The targets this role was declared for on this cluster (for credentials and audit),
    /// sorted and deduplicated. A Vec: most roles have one or two, and a BTreeSet allocates
    /// room for eleven.
    pub targets: Vec<TargetName>,
    /// What its memberships may confer beyond their groups' privileges (`allow_escalation`).
    pub allow_escalation: BTreeSet<Escalation>,
    /// Where its `member_of` was written, for the errors about a membership that only the
    /// cluster can reveal.
    pub member_of_at: Option<SourceAt>,
}

/// A place in a config file, `file:line:column`, carried by the desired state for errors
/// found at plan time. The path is shared by every place in its file: a fleet has tens of
/// thousands of roles.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceAt {
    pub file: std::sync::Arc<std::path::Path>,
    pub line: usize,
    pub column: usize,
}

/// Serialized as it reads: `file:line:column`.
impl Serialize for SourceAt {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::fmt::Display for SourceAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Everything pgroster wants on one cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DesiredCluster {
    /// Active registry entries on this cluster; the databases whose settings are in scope.
    pub targets: BTreeSet<TargetName>,
    pub roles: RoleMap<DesiredRole>,
}

impl Named for DesiredRole {
    fn name(&self) -> &RoleName {
        &self.name
    }
}

impl DesiredCluster {
    /// The part of this cluster's desired state that concerns the targets `keep` selects:
    /// roles declared for at least one of them, and settings of their databases.
    pub(crate) fn narrowed(&self, keep: impl Fn(&TargetName) -> bool) -> DesiredCluster {
        let targets: BTreeSet<TargetName> =
            self.targets.iter().filter(|t| keep(t)).cloned().collect();
        let databases: BTreeSet<&str> = targets.iter().map(|t| t.database.as_str()).collect();
        let roles = self
            .roles
            .values()
            .filter(|r| r.targets.iter().any(&keep))
            .map(|r| {
                let mut role = r.clone();
                role.targets.retain(&keep);
                role.settings.retain(|scope, _| match scope {
                    SettingScope::AllDatabases => true,
                    SettingScope::Database(db) => databases.contains(db.as_str()),
                });
                role
            })
            .collect();
        DesiredCluster { targets, roles }
    }
}

/// One grant of a membership (PostgreSQL 16+): who granted it, with which options.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MembershipGrant {
    pub grantor: RoleName,
    pub options: MembershipOptions,
}

/// A role as read from the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CurrentRole {
    pub name: RoleName,
    pub attributes: Attributes,
    pub member_of: Memberships,
    /// Each membership's grants, by group: one per grantor on PostgreSQL 16+, where a revoke
    /// or a change of options reaches only the grant of the grantor it names. Empty before 16,
    /// where a membership is one grant whoever made it.
    #[serde(skip)]
    pub membership_grants: BTreeMap<RoleName, Vec<MembershipGrant>>,
    pub settings: Settings,
    pub comment: Option<String>,
    /// Whether the connecting admin may alter this role (always true for a superuser;
    /// on PostgreSQL 16+ a CREATEROLE admin needs ADMIN OPTION on it).
    pub admin_can_alter: bool,
    /// Whether the admin has this role's privileges (superuser, or a member that inherits):
    /// needed to grant on objects it owns and to set default privileges for it.
    pub admin_acts_as: bool,
    /// What depends on the role, per database (`pg_shdepend`): what it owns and the
    /// privileges it holds or granted; what a drop must reassign or drop first.
    pub dependencies: Vec<Dependencies>,
}

/// What depends on a role in one database, or on shared objects (databases, tablespaces,
/// parameters) when `database` is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Dependencies {
    pub database: Option<String>,
    /// Objects it owns.
    pub owned: i64,
    /// Privileges it holds or granted, and policies naming it.
    pub privileges: i64,
}

/// How roles that are no longer declared are dropped (`[settings]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DropSettings {
    /// `terminate_sessions`: end a dropped role's sessions (default true).
    pub terminate_sessions: bool,
    /// `reassign_owned_to`: who gets a dropped role's objects (default: each database's owner).
    pub reassign_owned_to: Option<RoleName>,
    /// `max_destroy`: apply refuses a plan that drops more roles on one cluster, unless
    /// `--allow-destroy` (default 10).
    pub max_destroy: usize,
}

impl Default for DropSettings {
    fn default() -> Self {
        DropSettings {
            terminate_sessions: true,
            reassign_owned_to: None,
            max_destroy: 10,
        }
    }
}

/// A database of the cluster, as a drop needs to know it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatabaseInfo {
    pub owner: RoleName,
    /// `datallowconn`: template0 and databases closed to connections cannot be cleaned.
    pub allows_connections: bool,
    pub is_template: bool,
}

impl Named for CurrentRole {
    fn name(&self) -> &RoleName {
        &self.name
    }
}

impl CurrentRole {
    /// A role with PostgreSQL's default attributes and nothing else: no memberships, settings
    /// or comment, nothing depending on it; the admin may alter it and act as it. Tests build
    /// their roles from it.
    #[cfg(test)]
    pub(crate) fn bare(name: &str) -> CurrentRole {
        CurrentRole {
            name: RoleName::existing(name),
            attributes: Attributes::default(),
            member_of: Memberships::new(),
            membership_grants: BTreeMap::new(),
            settings: BTreeMap::new(),
            comment: None,
            admin_can_alter: true,
            admin_acts_as: true,
            dependencies: Vec::new(),
        }
    }

    pub fn marker(&self) -> Option<Marker> {
        self.comment.as_deref().and_then(Marker::parse)
    }

    /// Whether pgroster manages the role (`marker().is_some()`, without reading the marker).
    pub(crate) fn is_managed(&self) -> bool {
        self.comment.as_deref().is_some_and(Marker::is_marker)
    }
}

/// What the connecting admin is allowed to do on a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AdminInfo {
    pub name: String,
    pub superuser: bool,
    pub createrole: bool,
    pub statement_log: StatementLog,
}

/// Whether the server logs the statements pgroster sends (`log_statement` ddl/mod/all, or
/// `log_min_duration_statement` on), and whether the admin may turn that off for its own
/// transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatementLog {
    pub logs_statements: bool,
    pub admin_may_silence: bool,
}

/// Everything read from one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CurrentCluster {
    pub server_version_num: i32,
    pub admin: AdminInfo,
    pub roles: RoleMap<CurrentRole>,
    /// Databases that exist on the cluster.
    pub databases: BTreeSet<String>,
    /// The same databases with their owners and whether they accept connections.
    pub database_info: BTreeMap<String, DatabaseInfo>,
    /// The settings the server knows (`pg_settings`), lowercase: a role setting outside them,
    /// unless dotted (an extension's, maybe not loaded yet), is a typo the server would refuse.
    pub setting_names: BTreeSet<String>,
}

impl CurrentCluster {
    /// A cluster of `server_version_num` holding `roles` and nothing else, read by a superuser
    /// admin called `admin`. Tests build their clusters from it.
    #[cfg(test)]
    pub(crate) fn bare(
        server_version_num: i32,
        admin: &str,
        roles: impl IntoIterator<Item = CurrentRole>,
    ) -> CurrentCluster {
        CurrentCluster {
            server_version_num,
            admin: AdminInfo {
                name: admin.into(),
                superuser: true,
                createrole: true,
                statement_log: StatementLog::default(),
            },
            roles: roles.into_iter().collect(),
            databases: BTreeSet::new(),
            database_info: BTreeMap::new(),
            setting_names: BTreeSet::new(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips() {
        let marker = Marker {
            profile: Some("devqa".into()),
            rotation: Some("2026-11".into()),
        };
        assert_eq!(
            marker.to_comment(),
            "managed by pgroster; profile=devqa; rotation=2026-11"
        );
        assert_eq!(Marker::parse(&marker.to_comment()).unwrap(), marker);
        assert_eq!(Marker::parse("a human comment"), None);
    }
}
