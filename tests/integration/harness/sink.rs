//! [`Sink`]: an audit log for one test, a SQLite file or a PostgreSQL database in a throwaway
//! cluster of its own, so that one suite runs every audit case on both backends.

use super::credentials::random_secret;
use super::sql::{exec, lit};
use super::{Cluster, Scenario};
use pgroster::audit::{AuditError, AuditLog, AuditSink};
use pgroster::connection::{AdminCredentials, Connector, TlsSettings};
use pgroster::model::SslMode;
use std::collections::BTreeMap;
use std::path::Path;

/// The sink's login role: not a superuser, with CREATE on the sink's database only, which is
/// what the README asks of a sink's first run.
pub const SINK_USER: &str = "audit_writer";
/// The sink's database.
pub const SINK_DATABASE: &str = "audit";
/// The variable pgroster reads the sink's password from.
pub const SINK_PASSWORD_ENV: &str = "PGROSTER_AUDIT_PASSWORD";

pub enum Sink {
    Sqlite { dir: tempfile::TempDir },
    Postgres { cluster: Cluster, password: String },
}

impl Sink {
    pub fn sqlite() -> Sink {
        Sink::Sqlite {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A fresh cluster with the empty database [`SINK_DATABASE`] and the role [`SINK_USER`].
    pub fn postgres() -> Sink {
        let cluster = Cluster::start();
        cluster.create_database(SINK_DATABASE);
        let password = random_secret("Audit-");
        exec(
            &cluster,
            "postgres",
            &format!(
                "CREATE ROLE {SINK_USER} LOGIN PASSWORD {};
                 GRANT CREATE ON DATABASE {SINK_DATABASE} TO {SINK_USER}",
                lit(&password)
            ),
        );
        Sink::Postgres { cluster, password }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Sink::Postgres { .. })
    }

    /// The value of `[settings] audit_log`: the file's absolute path, or the sink's URL.
    pub fn setting(&self) -> String {
        match self {
            Sink::Sqlite { dir } => dir.path().join("audit.db").display().to_string(),
            Sink::Postgres { cluster, .. } => format!(
                "postgresql://{SINK_USER}@{}:{}/{SINK_DATABASE}?sslmode=disable",
                cluster.host(),
                cluster.port
            ),
        }
    }

    /// `registry` (as [`registry_toml`](super::registry_toml) writes it) with its audit log
    /// pointed at this sink.
    pub fn registry(&self, registry: &str) -> String {
        let default = "audit_log = \"pgroster-audit.db\"";
        assert!(registry.contains(default), "{registry}");
        registry.replacen(default, &format!("audit_log = \"{}\"", self.setting()), 1)
    }

    /// Gives `scenario` the sink's password, where pgroster looks for it.
    pub fn credentials(&self, scenario: &mut Scenario) {
        if let Sink::Postgres { password, .. } = self {
            scenario.env(SINK_PASSWORD_ENV, password);
        }
    }

    /// The log, opened through the library as the CLI opens it.
    pub fn open(&self) -> AuditLog {
        self.try_open().unwrap()
    }

    pub fn try_open(&self) -> Result<AuditLog, AuditError> {
        match AuditSink::parse(&self.setting(), Path::new("/")).unwrap() {
            AuditSink::File(path) => AuditLog::open(&path),
            AuditSink::Postgres(sink) => AuditLog::connect(&sink, &self.connector()),
        }
    }

    /// How the library reaches the PostgreSQL sink: its user, its password from the variable.
    fn connector(&self) -> Connector {
        let password = match self {
            Sink::Postgres { password, .. } => password.clone(),
            Sink::Sqlite { .. } => String::new(),
        };
        let env = move |name: &str| (name == SINK_PASSWORD_ENV).then(|| password.clone());
        Connector::new(
            AdminCredentials::for_user(Some(SINK_USER), SINK_PASSWORD_ENV, env),
            TlsSettings {
                default_mode: SslMode::Disable,
                per_cluster: BTreeMap::new(),
                root_cert: None,
            },
        )
    }

    /// Runs the tests' own SQL on the log's tables (`runs`, `changes`), as the superuser on a
    /// PostgreSQL sink, whose tables are found in `pgroster_audit`; every value as text.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            Sink::Sqlite { dir } => {
                let conn = rusqlite::Connection::open(dir.path().join("audit.db")).unwrap();
                conn.execute_batch("PRAGMA busy_timeout = 30000").unwrap();
                let mut statement = conn.prepare(sql).unwrap();
                let columns = statement.column_count();
                let rows = statement
                    .query_map([], |row| {
                        (0..columns)
                            .map(|i| {
                                Ok(match row.get_ref(i)? {
                                    rusqlite::types::ValueRef::Null => None,
                                    rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
                                    rusqlite::types::ValueRef::Text(t) => {
                                        Some(String::from_utf8_lossy(t).into_owned())
                                    }
                                    other => Some(format!("{other:?}")),
                                })
                            })
                            .collect()
                    })
                    .unwrap();
                rows.collect::<Result<_, _>>().unwrap()
            }
            Sink::Postgres { cluster, .. } => cluster.query_strings(
                SINK_DATABASE,
                &format!("SET search_path = pgroster_audit; {sql}"),
            ),
        }
    }

    /// The one value of `sql`.
    pub fn value(&self, sql: &str) -> Option<String> {
        let rows = self.rows(sql);
        assert_eq!(rows.len(), 1, "{sql}");
        rows[0][0].clone()
    }

    /// The log's schema version: SQLite's `user_version`, the sink's `schema_version` row.
    pub fn schema_version(&self) -> i64 {
        let sql = match self {
            Sink::Sqlite { .. } => "PRAGMA user_version",
            Sink::Postgres { .. } => "SELECT version FROM schema_version",
        };
        self.value(sql).unwrap().parse().unwrap()
    }

    /// Sets the schema version, as a newer pgroster would have.
    pub fn set_schema_version(&self, version: i64) {
        match self {
            Sink::Sqlite { dir } => {
                let conn = rusqlite::Connection::open(dir.path().join("audit.db")).unwrap();
                conn.pragma_update(None, "user_version", version).unwrap();
            }
            Sink::Postgres { cluster, .. } => exec(
                cluster,
                SINK_DATABASE,
                &format!("UPDATE pgroster_audit.schema_version SET version = {version}"),
            ),
        }
    }
}
