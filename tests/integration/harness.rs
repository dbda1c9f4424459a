//! Throwaway PostgreSQL clusters, scenario directories, and the helpers every scenario shares.
//!
//! A [`Cluster`] is a real server on 127.0.0.1 with SCRAM password auth, copied from a data directory
//! that `initdb` makes once per test process, and stopped (and deleted) on drop. A [`Scenario`] is a temp
//! dir of config files plus the environment that the real `pgroster` binary runs with.
//!
//! Server binaries come from `PGROSTER_PG_BIN` (see `scripts/pg-bin.sh` for 16 and 18), else the
//! highest-numbered `/usr/lib/postgresql/*/bin`. As root, `initdb` and `postgres` run as the `postgres`
//! OS user (initdb refuses root). Every cluster lives in `pgroster-test-clusters/<test pid>-<n>` under
//! /dev/shm (or /tmp when /dev/shm is small), the template under /tmp, so a later run finds and stops
//! the postmasters of a test process that was killed before Drop ran, and deletes what it left.
//!
//! The helpers every scenario module uses, each defined once: `output` (a run's exit code and
//! streams, assertions on them), `text` and `json` (reading what pgroster prints), `sql` (the tests'
//! own queries), `catalog` (roles as the catalog holds them), `privileges` (grants as the catalog
//! holds them), `credentials` (delivered passwords), `sink` (an audit log on either backend).
//! Scenario configs that are not generated live in `tests/fixtures/<scenario>/`: see [`fixture!`].

mod catalog;
mod cluster;
mod credentials;
mod json;
mod output;
mod privileges;
mod scenario;
mod sink;
mod sql;
mod template;
mod text;

pub use catalog::{
    attrs, catalog_snapshot, comment, logs_in, member_of, memberships, role_count, role_exists,
    settings, stored_password,
};
pub use cluster::{free_port, Cluster};
pub use credentials::{assert_mode_0600, creds_path, password_of, random_secret, read_credentials};
pub use json::{audit_entries, parse_json, schema_errors, text_of};
pub use output::{
    assert_line, assert_no_ansi, assert_nowhere, assert_stderr_has, assert_stdout_has, dump,
    run_id, Output,
};
pub use privileges::{
    can_table, default_privileges, direct_privileges, public_database_privileges, table_privileges,
};
pub use scenario::{
    database_entry, inactive_entry, location, registry_toml, single_cluster, with_settings,
    Scenario,
};
pub use sink::{Sink, SINK_DATABASE, SINK_USER};
pub use sql::{column, exec, exec_as, ident, lit, scalar, sqlstate};
pub use text::{assert_has, assert_lacks, line_of, parse_table, squeezed_lines};

/// The text of `tests/fixtures/<path>`, read at compile time: `fixture!("convergence/v1.yaml")`.
macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $path
        ))
    };
}
pub(crate) use fixture;

/// The non-superuser admin every cluster has, as the seed's `role_create` and managed services are.
pub const CREATEROLE_ADMIN: &str = "roster_admin";

/// Env vars that [`registry_toml`] names for the admin credentials and [`Scenario::with_admin`] sets.
pub const ADMIN_USER_ENV: &str = "PG_ADMIN_USER";
pub const ADMIN_PASS_ENV: &str = "PG_ADMIN_PASS";

/// Which admin a test runs pgroster with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminKind {
    /// `postgres`, the bootstrap superuser.
    Superuser,
    /// [`CREATEROLE_ADMIN`]: `LOGIN CREATEROLE CREATEDB`, not a superuser.
    CreateRole,
}

impl AdminKind {
    pub const ALL: [AdminKind; 2] = [AdminKind::Superuser, AdminKind::CreateRole];

    /// The admin's role name.
    pub fn user(self) -> &'static str {
        match self {
            AdminKind::Superuser => "postgres",
            AdminKind::CreateRole => CREATEROLE_ADMIN,
        }
    }
}
