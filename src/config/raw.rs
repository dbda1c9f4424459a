//! Serde types that mirror the config files exactly. A misspelt key is an error, never a default.
//!
//! The entries that later errors point into (settings, databases, profiles, roles) are read as
//! `Located`, which records where each key is; `S` names the parser whose positions they carry.
//! `Located` also sets aside the keys an entry does not have, before serde sees them, so their
//! `deny_unknown_fields` only tells the JSON schema.

use super::located::{Located, Toml};
use crate::model::{Escalation, SslMode};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// One config file. Every section is optional; files in a config directory are merged.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound(deserialize = "S: super::located::Spans"))]
#[schemars(rename = "RawFile", bound = "")]
pub struct RawFile<S = Toml> {
    pub settings: Option<Located<RawSettings, S>>,
    #[serde(default)]
    pub envs: Located<BTreeMap<String, RawEnv>, S>,
    #[serde(default)]
    pub databases: Vec<Located<RawDatabase, S>>,
    #[serde(default)]
    pub profiles: Located<BTreeMap<String, Located<RawProfile, S>>, S>,
    #[serde(default)]
    pub roles: Vec<Located<RawRole, S>>,
    /// Where events are sent: `[[notify]]` entries, each a webhook or a command.
    #[serde(default)]
    pub notify: Vec<Located<RawNotify, S>>,
}

/// A `[[notify]]` entry: `webhook` or `command`, never both.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    /// An `https://` (or `http://`) URL the event is POSTed to as JSON. It may hold a token:
    /// pgroster shows only its scheme and host.
    pub webhook: Option<String>,
    /// `json` (default): pgroster's event; `slack`: Slack's `{"text", "blocks"}` shape.
    pub format: Option<crate::notify::WebhookFormat>,
    /// A program and its arguments, run without a shell, with the event as JSON on stdin.
    pub command: Option<Vec<String>>,
    /// `apply_finished`, `drift`, `credentials_delivered`. Default: all of them.
    pub events: Option<Vec<crate::notify::EventKind>>,
    /// How long one notification may take (`5s`, `1m`); a command is killed after it.
    /// Default 5s for a webhook, 10s for a command.
    pub timeout: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// The audit log: a SQLite file, relative to the config directory (default
    /// `pgroster-audit.db`), or a `postgresql://user@host:port/database?sslmode=...` URL shared
    /// by many runners, without a password (PGROSTER_AUDIT_PASSWORD, PGPASSWORD or the password
    /// file give it).
    pub audit_log: Option<String>,
    /// Environment variable holding the admin user name (credentials never live in files).
    pub admin_user_env: Option<String>,
    /// Environment variable holding the admin password.
    pub admin_password_env: Option<String>,
    /// Role name globs that are never touched and never listed as drift.
    pub ignore_roles: Option<Vec<String>>,
    /// Revoke a managed role's undeclared memberships in ignored roles other than the
    /// predefined `pg_*` ones (provider roles such as `rds_iam`). Default false: they are left.
    pub revoke_ignored_memberships: Option<bool>,
    /// TLS for every cluster unless a database says otherwise (default: PGSSLMODE, else prefer).
    pub sslmode: Option<SslMode>,
    /// CA certificate(s) to trust (PEM), relative to the config dir (default: PGSSLROOTCERT,
    /// else the system's trust store).
    pub sslrootcert: Option<String>,
    /// The database of each cluster where apply and reset take pgroster's cluster-wide lock.
    /// Default `postgres`.
    pub lock_database: Option<String>,
    /// How long apply and reset wait for another run's lock before that cluster fails, in
    /// PostgreSQL's time units (`30s`, `5min`, `1h`; a bare number is milliseconds; `0` waits
    /// for ever). Default `5min`.
    pub lock_timeout: Option<String>,
    /// An opt-in policy on PUBLIC's privileges in every registered database; absent, pgroster
    /// never touches PUBLIC. It only revokes: turning it off re-grants nothing.
    pub public_privileges: Option<RawPublicPrivileges>,
    /// End the sessions of a role being dropped (`pg_terminate_backend`). Default true.
    pub terminate_sessions: Option<bool>,
    /// Who gets the objects of a role being dropped (REASSIGN OWNED). Default: the owner of
    /// each database.
    pub reassign_owned_to: Option<String>,
    /// Apply refuses a plan that drops more roles than this on one cluster unless
    /// `--allow-destroy` is given. Default 10.
    pub max_destroy: Option<usize>,
    /// `authoritative` (default): converge everything pgroster manages; `additive`: never
    /// revoke, drop or remove a setting. `--mode` overrides it.
    pub mode: Option<crate::model::policy::Mode>,
    /// How many clusters plan and apply work on at once (`--parallelism`). Default 16.
    pub parallelism: Option<usize>,
    /// Roles neither declared, managed nor ignored: `report` (default: listed in the plan),
    /// `drift` (listed, and a change for `--detailed-exitcode`) or `ignore`.
    pub unmanaged_roles: Option<crate::model::policy::UnmanagedRoles>,
    /// Warn about declared roles whose `valid_until` falls within this (`14 days`, `2 weeks`,
    /// `36h`). Default 14 days.
    pub expiry_warning: Option<String>,
    /// A program and its arguments (no shell) that receives each generated password as JSON on
    /// stdin (`role`, `password`, `cluster`, `targets`, `run`), one call per password, before
    /// anything changes; `--credentials-out` wins over it.
    pub deliver_command: Option<Vec<String>>,
}

/// `[settings.public_privileges]`: what PUBLIC must not hold in any registered database.
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPublicPrivileges {
    /// Revoke TEMPORARY on each registered database (temporary tables, `pg_temp` functions).
    pub revoke_temporary: Option<bool>,
    /// Revoke CREATE on these schemas (e.g. `["public"]`).
    pub revoke_create_on_schemas: Option<Vec<String>>,
    /// Revoke EXECUTE on every routine in these schemas, and on the routines their owners
    /// create later (the owners' default privileges, in every schema).
    pub revoke_execute_in_schemas: Option<Vec<String>>,
    /// Revoke EXECUTE on `lo_creat`, `lo_create` and `lo_from_bytea`: no new large objects.
    pub revoke_large_object_create: Option<bool>,
}

#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEnv {
    /// Usable in name templates as `{env_prefix}`.
    pub prefix: Option<String>,
}

/// A registry entry: one database on one cluster.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub env: String,
    pub name: String,
    pub host: String,
    /// Default 5432.
    pub port: Option<u16>,
    /// The cluster's name in targets (`env/database@cluster`); default `host:port`. One name
    /// per cluster, so the same `env/database` may be registered on many clusters.
    pub cluster: Option<String>,
    /// Default true; inactive entries are skipped and said so in the plan.
    pub active: Option<bool>,
    /// TLS for this database's cluster; every entry of one cluster must agree.
    pub sslmode: Option<SslMode>,
}

impl RawDatabase {
    /// The name targets use for this entry's cluster: `cluster`, else `host:port`.
    pub fn cluster_name(&self) -> String {
        self.cluster
            .clone()
            .unwrap_or_else(|| format!("{}:{}", self.host, self.port.unwrap_or(5432)))
    }
}

/// Declares a struct with its own keys followed by the keys every role and profile accepts,
/// and `fields()`, which returns the shared ones as `RawRoleFields`. A macro rather than
/// `#[serde(flatten)]`, which buffers each entry and so loses the position of a bad value.
macro_rules! with_role_fields {
    ($(#[$meta:meta])* pub struct $name:ident { $($own:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($own)*
            pub login: Option<bool>,
            pub superuser: Option<bool>,
            pub createdb: Option<bool>,
            pub createrole: Option<bool>,
            pub inherit: Option<bool>,
            pub replication: Option<bool>,
            pub bypassrls: Option<bool>,
            /// -1 for no limit.
            pub connection_limit: Option<i32>,
            /// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` (UTC) or `infinity`.
            pub valid_until: Option<ValidUntil>,
            pub search_path: Option<Vec<String>>,
            /// Any other role settings, e.g. `statement_timeout: "30s"`.
            pub set: Option<BTreeMap<String, SettingValue>>,
            /// `database` (default): settings apply per target database; `role`: role-wide.
            pub settings_scope: Option<RawSettingsScope>,
            /// Group roles: names, or `{ role, admin, inherit, set }` (inherit/set need
            /// PostgreSQL 16).
            pub member_of: Option<Vec<RawMembership>>,
            /// What `member_of` may confer beyond the groups' privileges: `superuser`,
            /// `bypassrls`, `replication`, `server_files`, `server_program`. Any other such
            /// membership, direct or through groups, is refused.
            pub allow_escalation: Option<Vec<Escalation>>,
            pub password: Option<RawPassword>,
            /// Privileges in each target database; a role's grants add to its profile's.
            pub grants: Option<Vec<RawGrant>>,
            /// The schemas grants apply to when they name none (default `public`).
            pub schemas: Option<Vec<String>>,
        }

        impl $name {
            pub fn fields(&self) -> RawRoleFields {
                RawRoleFields {
                    login: self.login,
                    superuser: self.superuser,
                    createdb: self.createdb,
                    createrole: self.createrole,
                    inherit: self.inherit,
                    replication: self.replication,
                    bypassrls: self.bypassrls,
                    connection_limit: self.connection_limit,
                    valid_until: self.valid_until.clone(),
                    search_path: self.search_path.clone(),
                    set: self.set.clone(),
                    settings_scope: self.settings_scope,
                    member_of: self.member_of.clone(),
                    allow_escalation: self.allow_escalation.clone(),
                    password: self.password.clone(),
                    grants: self.grants.clone(),
                    schemas: self.schemas.clone(),
                }
            }
        }
    };
}

with_role_fields! {
    /// Attributes, settings, memberships and password shared by profiles and roles. Every
    /// field is optional so that a role overrides only what it names.
    #[derive(Debug, Default, Clone)]
    pub struct RawRoleFields {}
}

with_role_fields! {
    /// A declared role. Keys that are none of these fill the profile's name template, such as
    /// `servername` or `farm`.
    // `Located` sets them aside as `placeholders`.
    #[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
    pub struct RawRole {
        pub name: Option<String>,
        pub profile: Option<String>,
        /// Globs over `env/database`.
        #[serde(default)]
        pub targets: Vec<String>,
        /// Name-template placeholders: the keys that are none of the above (see `Located`).
        #[serde(skip)]
        #[schemars(skip)]
        pub placeholders: BTreeMap<String, serde_json::Value>,
    }
}

with_role_fields! {
    /// A profile: an account kind. Overrides or extends the built-in ones.
    #[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct RawProfile {
        /// Another profile whose values this one starts from.
        pub extends: Option<String>,
        /// Name template, e.g. `{servername}_{port}`; placeholders become required keys on the
        /// role.
        pub name: Option<String>,
        /// Env globs where the profile may be used.
        pub envs: Option<Vec<String>>,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawMembership {
    Group(String),
    Options(RawMembershipOptions),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMembershipOptions {
    pub role: String,
    /// WITH ADMIN OPTION: may grant the group to others.
    pub admin: Option<bool>,
    /// Inherit the group's privileges (PostgreSQL 16+; default: the member's INHERIT attribute).
    pub inherit: Option<bool>,
    /// May `SET ROLE` to the group (PostgreSQL 16+; default true).
    pub set: Option<bool>,
}

/// A grant as written: `{ on: tables, schemas: [reports], privileges: [SELECT], future: true }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGrant {
    pub on: RawGrantOn,
    /// Objects by name: schemas for `schema(s)`; `schema.name` for `table`, `sequence`,
    /// `function`, `type`, and the tables of `columns`; the plain name of a foreign data
    /// wrapper, foreign server, tablespace or parameter; a large object's OID.
    pub names: Option<Vec<String>>,
    /// For `tables`, `sequences`, `functions`, `types`: every such object in these schemas.
    pub schemas: Option<Vec<String>>,
    /// For `columns`: the columns of each table in `names`.
    pub columns: Option<Vec<String>>,
    /// `WITH GRANT OPTION`: the role may grant the privileges to others (default false; a
    /// grant option held but not declared is revoked).
    pub grant_option: Option<bool>,
    /// Privilege names, or `ALL` for every privilege of the object kind.
    pub privileges: Vec<String>,
    /// Also cover objects created later (`ALTER DEFAULT PRIVILEGES`).
    pub future: Option<bool>,
    /// Whose future objects (default: the roles that own the schema's objects of that kind).
    pub future_owners: Option<Vec<String>>,
    /// With `future`: `false` sets the default privileges alone, granting nothing on the
    /// objects that exist now (default true). What `import` writes for default privileges.
    pub existing: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawGrantOn {
    Database,
    Schema,
    Schemas,
    Table,
    Tables,
    Sequence,
    Sequences,
    Function,
    Functions,
    Column,
    Columns,
    Type,
    Types,
    Domain,
    Domains,
    LargeObject,
    LargeObjects,
    ForeignDataWrapper,
    ForeignDataWrappers,
    ForeignServer,
    ForeignServers,
    Tablespace,
    Tablespaces,
    Parameter,
    Parameters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawSettingsScope {
    Database,
    Role,
}

/// `none`, `{ rotate: "2026-11" }` (generated), or `{ env: VAR, rotate: ... }` (declared).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawPassword {
    Keyword(PasswordKeyword),
    Spec(RawPasswordSpec),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PasswordKeyword {
    /// No password.
    None,
    /// A generated password (the default for login roles).
    Generate,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPasswordSpec {
    /// Change this value to reset the password on the next apply.
    pub rotate: Option<String>,
    /// Take the password from this environment variable instead of generating one.
    pub env: Option<String>,
}

/// A setting value: written as a string, number or boolean, stored as PostgreSQL's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingValue(pub String);

impl JsonSchema for SettingValue {
    fn schema_name() -> String {
        "SettingValue".into()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        schemars::schema::SchemaObject {
            instance_type: Some(
                vec![
                    schemars::schema::InstanceType::String,
                    schemars::schema::InstanceType::Number,
                    schemars::schema::InstanceType::Boolean,
                ]
                .into(),
            ),
            ..Default::default()
        }
        .into()
    }
}

impl<'de> Deserialize<'de> for SettingValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => Ok(SettingValue(s)),
            serde_json::Value::Number(n) => Ok(SettingValue(n.to_string())),
            serde_json::Value::Bool(b) => Ok(SettingValue(if b { "on" } else { "off" }.into())),
            other => Err(serde::de::Error::custom(format!(
                "a setting value must be a string, number or boolean, not {other}"
            ))),
        }
    }
}

/// A `valid_until` value as written: a YAML string or a TOML date/datetime.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct ValidUntil(
    /// A date as `YYYY-MM-DD`, a UTC time as `YYYY-MM-DD HH:MM:SS`, or `infinity`.
    pub String,
);

impl<'de> Deserialize<'de> for ValidUntil {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // TOML dates arrive as a one-entry map (toml's private datetime key); YAML dates are
        // strings.
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => Ok(ValidUntil(s)),
            serde_json::Value::Object(map) if map.len() == 1 => match map.into_iter().next() {
                Some((_, serde_json::Value::String(s))) => Ok(ValidUntil(s)),
                _ => Err(serde::de::Error::custom("valid_until must be a date")),
            },
            other => Err(serde::de::Error::custom(format!(
                "valid_until must be a date such as 2027-03-31, not {other}"
            ))),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::located::Yaml;
    use super::*;

    const ROLE_TOML: &str = r#"
[[roles]]
name = "jsmith"
profile = "app"
targets = ["dev/*"]
login = true
connection_limit = -1
valid_until = 2027-03-31
search_path = ["$user", "public"]
set = { work_mem = "64MB", jit = false, random_page_cost = 1.5 }
settings_scope = "role"
member_of = ["app_ro", { role = "app_rw", admin = true }]
password = { rotate = "2026-11" }
grants = [{ on = "tables", schemas = ["public"], privileges = ["SELECT"], future = true }]
schemas = ["reports"]
servername = "web01"
port = 8080
"#;

    const ROLE_YAML: &str = r#"
roles:
  - name: jsmith
    profile: app
    targets: ["dev/*"]
    login: true
    connection_limit: -1
    valid_until: 2027-03-31
    search_path: ["$user", public]
    set: { work_mem: 64MB, jit: false, random_page_cost: 1.5 }
    settings_scope: role
    member_of: [app_ro, { role: app_rw, admin: true }]
    password: { rotate: "2026-11" }
    grants: [{ on: tables, schemas: [public], privileges: [SELECT], future: true }]
    schemas: [reports]
    servername: web01
    port: 8080
"#;

    fn yaml(text: &str) -> Result<RawFile<Yaml>, serde_saphyr::Error> {
        serde_saphyr::from_str(text)
    }

    #[test]
    fn a_role_reads_the_same_from_toml_and_yaml() {
        let toml_role = &toml::from_str::<RawFile>(ROLE_TOML).unwrap().roles[0];
        let yaml_role = &yaml(ROLE_YAML).unwrap().roles[0];
        assert_eq!(
            format!("{:?}", toml_role.value),
            format!("{:?}", yaml_role.value)
        );
        assert_eq!(
            toml_role.value.valid_until,
            Some(ValidUntil("2027-03-31".into()))
        );
        fn extra<S>(role: &Located<RawRole, S>) -> BTreeMap<String, serde_json::Value> {
            let extra = role.extra.iter();
            extra
                .map(|(key, _, value)| (key.clone(), value.clone()))
                .collect()
        }
        let placeholders = BTreeMap::from([
            ("servername".to_string(), serde_json::json!("web01")),
            ("port".to_string(), serde_json::json!(8080)),
        ]);
        assert_eq!(extra(toml_role), placeholders);
        assert_eq!(extra(yaml_role), placeholders);
    }

    #[test]
    fn toml_datetimes_read_alike_in_roles_and_profiles() {
        let text = "[profiles.p]\nvalid_until = 2027-03-31T12:00:00Z\n\n\
                    [[roles]]\nvalid_until = 2027-03-31T12:00:00Z\n";
        let file = toml::from_str::<RawFile>(text).unwrap();
        let from_profile = file.profiles.value["p"].value.valid_until.clone();
        assert!(from_profile.is_some());
        assert_eq!(file.roles[0].value.valid_until, from_profile);
    }

    #[test]
    fn a_role_key_given_twice_is_an_error() {
        let err = yaml("roles:\n  - name: a\n    login: true\n    login: false\n").unwrap_err();
        assert!(err.to_string().contains("duplicate mapping key"), "{err}");
        let err =
            toml::from_str::<RawFile>("[[roles]]\nlogin = true\nlogin = false\n").unwrap_err();
        assert!(err.to_string().contains("duplicate key"), "{err}");
    }
}
