//! Where the audit log lives, as `[settings] audit_log` names it: a SQLite file, or a PostgreSQL
//! database that many runners share (`postgresql://user@host:port/database?sslmode=...`). The
//! URL never holds a password: credentials come from the environment.

use crate::model::{ClusterKey, SslMode, UnknownSslMode};
use std::fmt;
use std::path::{Path, PathBuf};

/// The audit log when `[settings] audit_log` is not set, relative to the config directory.
pub const DEFAULT_FILE: &str = "pgroster-audit.db";

/// The variable the PostgreSQL sink's password is read from first, before libpq's PGPASSWORD
/// and password file. The admin password is not used: the sink is usually another server.
pub const PASSWORD_ENV: &str = "PGROSTER_AUDIT_PASSWORD";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSink {
    File(PathBuf),
    Postgres(PgSink),
}

/// A PostgreSQL audit sink: one database, reached as one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSink {
    /// The URL as configured; it holds no password, so it is safe to show.
    pub url: String,
    pub cluster: ClusterKey,
    pub database: String,
    /// `None`: PGUSER, else the OS user, as for the admin connection.
    pub user: Option<String>,
    /// `None`: the config's default sslmode.
    pub sslmode: Option<SslMode>,
}

impl fmt::Display for AuditSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditSink::File(path) => write!(f, "{}", path.display()),
            AuditSink::Postgres(sink) => f.write_str(&sink.url),
        }
    }
}

/// What is wrong with the audit log URL; the caller locates it (`audit_log` in the config).
/// None of them repeats the URL, which may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    SslMode(#[from] UnknownSslMode),
    #[error("the audit log URL holds a password: {}", credentials_elsewhere())]
    Password,
    #[error("the audit log URL has the parameter `{0}`; only `sslmode` is accepted")]
    Parameter(String),
    /// The driver's message, which names the part at fault, never the text.
    #[error("the audit log URL is not a PostgreSQL URL: {0}")]
    NotPostgres(String),
    #[error("the audit log URL names no host")]
    NoHost,
    #[error("the audit log URL names several hosts; give one")]
    SeveralHosts,
    #[error("the audit log URL names several ports; give one")]
    SeveralPorts,
    #[error("the audit log URL names no database: postgresql://user@host:port/DATABASE")]
    NoDatabase,
}

impl AuditSink {
    /// A `postgresql://` or `postgres://` URL is a PostgreSQL sink; anything else is a file
    /// path, relative to `dir`. The error says what is wrong, never the password.
    pub fn parse(text: &str, dir: &Path) -> Result<AuditSink, SinkError> {
        let is_url = ["postgresql://", "postgres://"]
            .iter()
            .any(|scheme| text.starts_with(scheme));
        if !is_url {
            return Ok(AuditSink::File(dir.join(text)));
        }
        parse_url(text).map(AuditSink::Postgres)
    }
}

fn credentials_elsewhere() -> String {
    format!(
        "credentials come from the environment ({PASSWORD_ENV}, PGPASSWORD or the password \
         file), never the file"
    )
}

fn parse_url(url: &str) -> Result<PgSink, SinkError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut sslmode = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => {
                sslmode = Some(value.parse::<SslMode>()?);
            }
            "password" => return Err(SinkError::Password),
            other => return Err(SinkError::Parameter(other.to_string())),
        }
    }
    // The driver parses the rest as libpq does (percent-decoding, IPv6 brackets); its errors
    // name the part at fault, never the text.
    let config: postgres::Config = base
        .parse()
        .map_err(|e: postgres::Error| SinkError::NotPostgres(e.to_string()))?;
    if config.get_password().is_some() {
        return Err(SinkError::Password);
    }
    let host = match config.get_hosts() {
        [postgres::config::Host::Tcp(host)] => host.clone(),
        #[cfg(unix)]
        [postgres::config::Host::Unix(dir)] => dir.display().to_string(),
        [] => return Err(SinkError::NoHost),
        _ => return Err(SinkError::SeveralHosts),
    };
    let port = match config.get_ports() {
        [] => 5432,
        [port] => *port,
        _ => return Err(SinkError::SeveralPorts),
    };
    let database = config
        .get_dbname()
        .filter(|db| !db.is_empty())
        .ok_or(SinkError::NoDatabase)?
        .to_string();
    Ok(PgSink {
        url: url.to_string(),
        cluster: ClusterKey { host, port },
        database,
        user: config.get_user().map(str::to_string),
        sslmode,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pg(text: &str) -> PgSink {
        match AuditSink::parse(text, Path::new("/cfg")).unwrap() {
            AuditSink::Postgres(sink) => sink,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_path_is_a_file_relative_to_the_config_dir() {
        for (text, path) in [
            ("pgroster-audit.db", "/cfg/pgroster-audit.db"),
            ("/var/lib/pgroster/audit.db", "/var/lib/pgroster/audit.db"),
            ("postgresql:audit.db", "/cfg/postgresql:audit.db"),
        ] {
            assert_eq!(
                AuditSink::parse(text, Path::new("/cfg")).unwrap(),
                AuditSink::File(PathBuf::from(path))
            );
        }
    }

    #[test]
    fn a_url_names_host_port_database_user_and_sslmode() {
        let sink = pg("postgresql://audit@db.example:6432/pgroster?sslmode=verify-full");
        assert_eq!(
            (
                sink.cluster.to_string(),
                sink.database.as_str(),
                sink.user.as_deref(),
                sink.sslmode
            ),
            (
                "db.example:6432".to_string(),
                "pgroster",
                Some("audit"),
                Some(SslMode::VerifyFull)
            )
        );
        let sink = pg("postgres://[::1]/audit%20log");
        assert_eq!(
            (sink.cluster.host.as_str(), sink.cluster.port),
            ("::1", 5432)
        );
        assert_eq!(
            (sink.database.as_str(), sink.user, sink.sslmode),
            ("audit log", None, None)
        );
    }

    #[test]
    fn a_password_is_refused_and_never_repeated() {
        for text in [
            "postgresql://audit:Hunter2-secret@db/pgroster",
            "postgresql://audit:@db/pgroster",
            "postgresql://audit@db/pgroster?password=Hunter2-secret",
        ] {
            let e = AuditSink::parse(text, Path::new("/cfg"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("holds a password"), "{e}");
            assert!(e.contains("PGROSTER_AUDIT_PASSWORD"), "{e}");
            assert!(!e.contains("Hunter2"), "{e}");
        }
    }

    #[test]
    fn incomplete_or_unknown_parts_are_refused() {
        for (text, says) in [
            ("postgresql://db.example", "names no database"),
            ("postgresql:///pgroster", "names no host"),
            ("postgresql://a,b/pgroster", "several hosts"),
            (
                "postgresql://db/pgroster?sslmode=sometimes",
                "sslmode `sometimes`",
            ),
            (
                "postgresql://db/pgroster?connect_timeout=3",
                "parameter `connect_timeout`",
            ),
            ("postgresql://db:port/pgroster", "not a PostgreSQL URL"),
        ] {
            let e = AuditSink::parse(text, Path::new("/cfg"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
