//! The admin connection: credentials (configured env vars, else libpq's PGUSER/PGPASSWORD and
//! the password file), TLS as libpq's `sslmode`, `application_name`, timeouts. Credentials never
//! appear in errors.

use crate::model::{ClusterKey, Secret, SslMode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type TlsConnector = tokio_postgres_rustls::MakeRustlsConnect;

pub(crate) const APPLICATION_NAME: &str = "pgroster";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCredentials {
    pub user: String,
    pub password: Option<Secret>,
    /// The configured variable the password was looked for in, and where it was configured,
    /// to name when none was found.
    password_var: Option<String>,
    /// Where the password file lives, for per-host look-ups (libpq's ~/.pgpass or PGPASSFILE).
    passfile: Option<PathBuf>,
}

/// Why TLS could not be set up; names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS setup failed: {0}")]
    Setup(String),
    #[error("cannot read sslrootcert {path}: {error}")]
    RootCertUnreadable {
        path: PathBuf,
        error: rustls::pki_types::pem::Error,
    },
    #[error("sslrootcert {0} holds no usable certificate")]
    RootCertEmpty(PathBuf),
    #[error("no trusted CA certificates found; set sslrootcert")]
    NoSystemRoots,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to {cluster} (database {database}) as {user}: {reason}")]
    Failed {
        cluster: ClusterKey,
        database: String,
        user: String,
        reason: String,
    },
}

impl AdminCredentials {
    /// Reads credentials: the configured variables first, then libpq's.
    pub fn from_env(
        user_var: Option<&str>,
        password_var: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> AdminCredentials {
        let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let user = user_var
            .and_then(|v| non_empty(env(v)))
            .or_else(|| non_empty(env("PGUSER")))
            .or_else(|| non_empty(env("USER")))
            .unwrap_or_else(|| "postgres".into());
        let password = password_var
            .and_then(|v| non_empty(env(v)))
            .or_else(|| non_empty(env("PGPASSWORD")))
            .map(Secret::new);
        let passfile = non_empty(env("PGPASSFILE"))
            .map(PathBuf::from)
            .or_else(|| non_empty(env("HOME")).map(|h| PathBuf::from(h).join(".pgpass")));
        AdminCredentials {
            user,
            password,
            password_var: password_var.map(|var| format!("{var} (settings.admin_password_env)")),
            passfile,
        }
    }

    /// Credentials for another server (the PostgreSQL audit sink): `user` (else PGUSER, else
    /// USER), the password from `password_var`, else libpq's PGPASSWORD and password file.
    pub fn for_user(
        user: Option<&str>,
        password_var: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> AdminCredentials {
        let mut credentials = AdminCredentials::from_env(None, Some(password_var), env);
        if let Some(user) = user {
            credentials.user = user.to_string();
        }
        credentials.password_var = Some(password_var.to_string());
        credentials
    }

    /// Why no password was sent, and where one can be given: the server asked for one.
    fn password_missing(&self) -> String {
        let variables = match &self.password_var {
            Some(var) => format!("{var} or PGPASSWORD"),
            None => "PGPASSWORD, or name a variable in settings.admin_password_env".to_string(),
        };
        let passfile = match &self.passfile {
            Some(path) => format!(
                ", or add the cluster to the password file {}",
                path.display()
            ),
            None => String::new(),
        };
        format!("the server asks for a password and none was found: set {variables}{passfile}")
    }

    fn password_for(&self, cluster: &ClusterKey, database: &str) -> Option<Secret> {
        if let Some(p) = &self.password {
            return Some(p.clone());
        }
        let text = std::fs::read_to_string(self.passfile.as_ref()?).ok()?;
        pgpass_lookup(&text, &cluster.host, cluster.port, database, &self.user).map(Secret::new)
    }
}

/// An admin connection that keeps the server's warnings: PostgreSQL answers some requests it
/// cannot carry out (a GRANT by a role without the grant option, a REVOKE of someone else's
/// grant) with a WARNING instead of an error, and apply must not take that for success.
pub struct Connection {
    client: postgres::Client,
    warnings: Arc<Mutex<Vec<String>>>,
}

impl Connection {
    /// The warnings received since the last call.
    pub(crate) fn take_warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }
}

impl std::ops::Deref for Connection {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        &self.client
    }
}

impl std::ops::DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        &mut self.client
    }
}

/// TLS for every cluster: a default mode, per-cluster overrides, and the CA to trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub default_mode: SslMode,
    pub per_cluster: BTreeMap<ClusterKey, SslMode>,
    /// PEM file of trusted CAs for verify-ca/verify-full; `None`: the system's trust store.
    pub root_cert: Option<PathBuf>,
}

/// Opens admin connections: who to log in as and how to secure the connection.
pub struct Connector {
    credentials: AdminCredentials,
    tls: TlsSettings,
    /// One TLS setup per mode: loading a trust store costs more than a whole catalog read.
    connectors: Mutex<BTreeMap<SslMode, TlsConnector>>,
}

impl Connector {
    pub fn new(credentials: AdminCredentials, tls: TlsSettings) -> Connector {
        Connector {
            credentials,
            tls,
            connectors: Mutex::new(BTreeMap::new()),
        }
    }

    fn tls_connector(&self, mode: SslMode) -> Result<TlsConnector, TlsError> {
        let mut cache = self
            .connectors
            .lock()
            .map_err(|_| TlsError::Setup("another thread failed".into()))?;
        if let Some(connector) = cache.get(&mode) {
            return Ok(connector.clone());
        }
        let connector = tls_connector(mode, self.tls.root_cert.as_deref())?;
        cache.insert(mode, connector.clone());
        Ok(connector)
    }

    /// Opens the admin connection to one database of a cluster.
    pub fn connect(
        &self,
        cluster: &ClusterKey,
        database: &str,
    ) -> Result<Connection, ConnectError> {
        let mode = self
            .tls
            .per_cluster
            .get(cluster)
            .copied()
            .unwrap_or(self.tls.default_mode);
        let tls = match mode {
            SslMode::Disable => None,
            _ => Some(
                self.tls_connector(mode)
                    .map_err(|error| ConnectError::Failed {
                        cluster: cluster.clone(),
                        database: database.to_string(),
                        user: self.credentials.user.clone(),
                        reason: error.to_string(),
                    })?,
            ),
        };
        connect(cluster, database, &self.credentials, mode, tls)
    }
}

/// A rustls connector for `mode`, with libpq's semantics: `prefer` and `require` encrypt without
/// verifying; `verify-ca` checks the chain; `verify-full` also the host name. rustls needs no
/// trust store at all for the first two, which keeps a run's start-up fast.
fn tls_connector(mode: SslMode, root_cert: Option<&Path>) -> Result<TlsConnector, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => Arc::new(Unverified(provider)),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = Arc::new(trusted_roots(root_cert)?);
            let webpki =
                rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| TlsError::Setup(e.to_string()))?;
            if mode == SslMode::VerifyCa {
                Arc::new(AnyHostName(webpki))
            } else {
                webpki
            }
        }
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(TlsConnector::new(config))
}

/// The CAs to trust: `sslrootcert` only, as libpq does, else the system's trust store.
fn trusted_roots(root_cert: Option<&Path>) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let certificates: Vec<CertificateDer<'static>> = match root_cert {
        Some(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|error| TlsError::RootCertUnreadable {
                path: path.to_path_buf(),
                error,
            })?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (added, _) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(match root_cert {
            Some(path) => TlsError::RootCertEmpty(path.to_path_buf()),
            None => TlsError::NoSystemRoots,
        });
    }
    Ok(roots)
}

/// `prefer`/`require`: encrypt, trust any certificate (the handshake signature is still checked).
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the full chain check, but any host name.
#[derive(Debug)]
struct AnyHostName(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for AnyHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn connect(
    cluster: &ClusterKey,
    database: &str,
    credentials: &AdminCredentials,
    mode: SslMode,
    tls: Option<TlsConnector>,
) -> Result<Connection, ConnectError> {
    let failed = |reason: String| ConnectError::Failed {
        cluster: cluster.clone(),
        database: database.to_string(),
        user: credentials.user.clone(),
        reason,
    };
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&warnings);
    let mut config = postgres::Config::new();
    config
        .host(&cluster.host)
        .port(cluster.port)
        .dbname(database)
        .user(&credentials.user)
        .application_name(APPLICATION_NAME)
        .connect_timeout(Duration::from_secs(10));
    let password = credentials.password_for(cluster, database);
    if let Some(password) = &password {
        config.password(password.expose());
    }
    config.notice_callback(move |notice| {
        if notice.parsed_severity() == Some(postgres::error::Severity::Warning) {
            if let Ok(mut w) = sink.lock() {
                w.push(notice.message().to_string());
            }
        }
    });
    let client = match tls {
        None => {
            config.ssl_mode(postgres::config::SslMode::Disable);
            config.connect(postgres::NoTls)
        }
        Some(tls) => {
            config.ssl_mode(if mode == SslMode::Prefer {
                postgres::config::SslMode::Prefer
            } else {
                postgres::config::SslMode::Require
            });
            config.connect(tls)
        }
    };
    client
        .map(|client| Connection { client, warnings })
        .map_err(|e| {
            // The driver's own words are "invalid configuration: password missing".
            let asked_for_password = std::error::Error::source(&e)
                .is_some_and(|source| source.to_string() == "password missing");
            failed(if password.is_none() && asked_for_password {
                credentials.password_missing()
            } else {
                describe_error(&e)
            })
        })
}

/// A PostgreSQL error as one line: the server's message when there is one.
pub(crate) fn describe_error(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            if let Some(detail) = db.detail() {
                text.push_str(" (");
                text.push_str(detail);
                text.push(')');
            }
            text
        }
        None => {
            let text = error.to_string();
            match std::error::Error::source(error) {
                Some(source) => format!("{text}: {source}"),
                None => text,
            }
        }
    }
}

/// libpq's password file format: `host:port:database:user:password`, `*` wildcards, `\` escapes.
fn pgpass_lookup(text: &str, host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = split_pgpass_line(line);
            if fields.len() != 5 {
                return None;
            }
            let matches = |field: &str, value: &str| field == "*" || field == value;
            (matches(&fields[0], host)
                && matches(&fields[1], &port)
                && matches(&fields[2], database)
                && matches(&fields[3], user))
            .then(|| fields[4].clone())
        })
}

fn split_pgpass_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => field.extend(chars.next()),
            ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_matches_with_wildcards_and_escapes() {
        let text = "# comment\nother:5432:*:admin:nope\n*:5433:*:admin:p\\:w\\\\d\n";
        assert_eq!(
            pgpass_lookup(text, "h", 5433, "db", "admin").as_deref(),
            Some("p:w\\d")
        );
        assert_eq!(pgpass_lookup(text, "h", 5432, "db", "admin"), None);
    }

    #[test]
    fn configured_variables_win_over_libpq_ones() {
        let env = |k: &str| match k {
            "PG_ADMIN_USER" => Some("admin".to_string()),
            "PGUSER" => Some("libpq".to_string()),
            "PGPASSWORD" => Some("pw".to_string()),
            _ => None,
        };
        let creds = AdminCredentials::from_env(Some("PG_ADMIN_USER"), Some("PG_ADMIN_PASS"), env);
        assert_eq!(creds.user, "admin");
        assert_eq!(
            creds.password.map(|p| p.expose().to_string()).as_deref(),
            Some("pw")
        );
        assert!(
            format!("{:?}", AdminCredentials::from_env(None, None, env)).contains("(sensitive)")
        );
    }

    #[test]
    fn a_missing_password_names_the_variable_it_was_looked_for_in() {
        let env = |k: &str| (k == "HOME").then(|| "/home/ci".to_string());
        let configured = AdminCredentials::from_env(None, Some("DB_ADMIN_SECRET"), env);
        let message = configured.password_missing();
        assert!(
            message.contains("set DB_ADMIN_SECRET (settings.admin_password_env)"),
            "{message}"
        );
        assert!(message.contains("/home/ci/.pgpass"), "{message}");
        let unconfigured = AdminCredentials::from_env(None, None, env).password_missing();
        assert!(
            unconfigured
                .contains("set PGPASSWORD, or name a variable in settings.admin_password_env"),
            "{unconfigured}"
        );
    }
}
