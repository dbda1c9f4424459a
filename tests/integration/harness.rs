//! Throwaway PostgreSQL clusters and scenario directories for the integration tests.
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

mod cluster;
mod scenario;
mod template;
mod text;

pub use cluster::Cluster;
pub use scenario::{registry_toml, Output, Scenario};
pub use text::{assert_has, assert_lacks};

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
}
