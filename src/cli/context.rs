//! Where settings come from (flags > environment > files), decided in one place.

use super::output::Output;
use anyhow::{Context as _, Result};
use pgroster::audit::{self, AuditError, AuditLog, AuditSink, PgSink};
use pgroster::catalog;
use pgroster::config::{self, Config, ConfigError, LowerInput, Lowered};
use pgroster::connection::{AdminCredentials, Connection, Connector, TlsSettings};
use pgroster::fleet::lock::{self, ClusterLock, LockSettings};
use pgroster::fleet::Locking;
use pgroster::model::{ClusterKey, CurrentCluster, SslMode, TargetName};
use pgroster::registry::{DatabaseEntry, Registry, TargetGlob};
use pgroster::saved::ConfigDigest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Context {
    pub lowered: Lowered,
    pub connector: Connector,
    pub audit_log: AuditLogAt,
    /// Where apply and reset take pgroster's lock, and how long they wait for it.
    pub lock: LockSettings,
    /// The config files read, relative to the config directory, in the order merged.
    pub files: Vec<PathBuf>,
    /// The digest of each config file read, for saved plans.
    pub config_digest: ConfigDigest,
}

impl Context {
    /// `--parallelism` wins over `[settings] parallelism`.
    pub fn override_parallelism(&mut self, parallelism: Option<usize>) {
        if let Some(n) = parallelism {
            self.lowered.parallelism = n.max(1);
        }
    }

    /// `--mode` wins over `[settings] mode`.
    pub fn override_mode(&mut self, mode: Option<crate::cli::args::ModeArg>) {
        if let Some(mode) = mode {
            self.lowered.policy.mode = mode.into();
        }
    }

    /// The registry entry of `env/database` as given on the command line.
    pub fn find_target(&self, text: &str) -> Result<(TargetName, &DatabaseEntry)> {
        Ok(self.lowered.registry.find_text(text)?)
    }

    /// Compiles `--target` globs, refusing one that matches no registry entry: a typo must not
    /// select nothing and report that nothing needs changing.
    pub fn selection(&self, globs: &[String]) -> Result<Vec<TargetGlob>> {
        Ok(self.lowered.registry.select(globs)?)
    }

    /// Reading a fleet under pgroster's lock, telling `output` which cluster is waited for.
    pub fn locking<'a>(&'a self, on_wait: &'a dyn Fn(&str)) -> Locking<'a> {
        Locking::Hold {
            settings: &self.lock,
            on_wait,
        }
    }

    /// Takes pgroster's lock on one cluster (for a command that reads one target), waiting
    /// for it when another run holds it.
    pub fn lock_cluster(&self, cluster: &ClusterKey, output: &Output) -> Result<ClusterLock> {
        lock::lock_cluster(&self.connector, cluster, &self.lock, &|m| output.notice(m))
            .with_context(|| format!("{cluster}"))
    }

    /// An admin connection to the target's database, and its cluster's roles read over it.
    pub fn read_target(
        &self,
        target: &TargetName,
        entry: &DatabaseEntry,
    ) -> Result<(Connection, CurrentCluster)> {
        let mut connection = self.connector.connect(&entry.cluster, &target.database)?;
        let current = catalog::read_cluster(&mut connection)
            .with_context(|| format!("reading {} (target {target})", entry.cluster))?;
        Ok((connection, current))
    }
}

/// A variable of the process environment (settings, credentials, declared passwords).
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads and validates the config, and reads the admin credentials from the environment. No
/// cluster is contacted.
pub fn load(path: &Path) -> Result<Context> {
    let config = config::load(path)?;
    let credentials = admin_credentials(&config);
    let audit_log = AuditLogAt::new(&config);
    let files = config
        .files
        .iter()
        .map(|f| {
            f.path
                .strip_prefix(&config.dir)
                .unwrap_or(&f.path)
                .to_path_buf()
        })
        .collect();
    let config_digest = ConfigDigest::new(&config.dir, &config.files);
    let root_cert = config
        .settings
        .sslrootcert
        .as_ref()
        .map(|p| config.dir.join(p));
    let default_sslmode = config.settings.sslmode;
    let lock = LockSettings::new(
        config.settings.lock_database.as_deref(),
        config.settings.lock_timeout.as_deref(),
    )
    .map_err(|(key, message)| {
        let error = ConfigError {
            location: config.settings_location(key),
            message,
        };
        anyhow::anyhow!("{error}").context("the configuration is invalid")
    })?;
    let lowered = config::lower(
        config,
        &LowerInput {
            admin_user: Some(&credentials.user),
        },
    )
    .context("the configuration is invalid")?;
    // Lowering reports a bad audit_log with the other errors; this only takes the value.
    let audit_log = audit_log?;
    let tls = tls_settings(default_sslmode, root_cert, &lowered.registry)?;
    Ok(Context {
        lowered,
        connector: Connector::new(credentials, tls),
        audit_log,
        lock,
        files,
        config_digest,
    })
}

fn admin_credentials(config: &Config) -> AdminCredentials {
    AdminCredentials::from_env(
        config.settings.admin_user_env.as_deref(),
        config.settings.admin_password_env.as_deref(),
        env_var,
    )
}

fn tls_settings(
    default_sslmode: Option<SslMode>,
    root_cert: Option<PathBuf>,
    registry: &Registry,
) -> Result<TlsSettings> {
    Ok(TlsSettings {
        default_mode: default_sslmode_or_env(default_sslmode)?,
        per_cluster: registry.sslmodes(),
        root_cert: root_cert.or_else(|| env_var("PGSSLROOTCERT").map(Into::into)),
    })
}

/// `[settings] sslmode`, else PGSSLMODE, else libpq's default.
fn default_sslmode_or_env(configured: Option<SslMode>) -> Result<SslMode> {
    Ok(match (configured, env_var("PGSSLMODE")) {
        (Some(mode), _) => mode,
        (None, Some(text)) => text
            .parse::<SslMode>()
            .map_err(|e| anyhow::anyhow!("PGSSLMODE: {e}"))?,
        (None, None) => SslMode::Prefer,
    })
}

/// The audit log as configured, and for a PostgreSQL sink how to reach it: its URL's user and
/// sslmode, the password from PGROSTER_AUDIT_PASSWORD, else libpq's PGPASSWORD and password
/// file (never the admin's), the config's sslrootcert.
pub enum AuditLogAt {
    File(PathBuf),
    Postgres {
        sink: PgSink,
        connector: Box<Connector>,
    },
}

impl AuditLogAt {
    /// Reads `[settings] audit_log` and the environment; contacts nothing.
    pub fn new(config: &Config) -> Result<AuditLogAt> {
        let sink = config
            .audit_sink()
            .map_err(|error| anyhow::anyhow!("{error}").context("the configuration is invalid"))?;
        Ok(match sink {
            AuditSink::File(path) => AuditLogAt::File(path),
            AuditSink::Postgres(sink) => {
                let credentials = AdminCredentials::for_user(
                    sink.user.as_deref(),
                    audit::sink::PASSWORD_ENV,
                    env_var,
                );
                let tls = TlsSettings {
                    default_mode: match sink.sslmode {
                        Some(mode) => mode,
                        None => default_sslmode_or_env(config.settings.sslmode)?,
                    },
                    per_cluster: BTreeMap::new(),
                    root_cert: config
                        .settings
                        .sslrootcert
                        .as_ref()
                        .map(|p| config.dir.join(p))
                        .or_else(|| env_var("PGSSLROOTCERT").map(Into::into)),
                };
                let connector = Box::new(Connector::new(credentials, tls));
                AuditLogAt::Postgres { sink, connector }
            }
        })
    }

    /// Opens the file, or connects to the sink.
    pub fn open(&self) -> Result<AuditLog, AuditError> {
        match self {
            AuditLogAt::File(path) => AuditLog::open(path),
            AuditLogAt::Postgres { sink, connector } => AuditLog::connect(sink, connector),
        }
    }
}

/// Who is applying: PGROSTER_ACTOR, else the CI system's user, else the OS user.
pub fn actor() -> String {
    [
        "PGROSTER_ACTOR",
        "GITHUB_ACTOR",
        "GITLAB_USER_LOGIN",
        "BUILDKITE_BUILD_CREATOR",
        "BUILD_REQUESTEDFOR",
        "USER",
        "LOGNAME",
    ]
    .iter()
    .find_map(|v| env_var(v).filter(|s| !s.is_empty()))
    .or_else(os_user)
    .unwrap_or_else(|| "unknown".into())
}

/// The OS user when the environment names none (cron, containers): what `id -un` says.
fn os_user() -> Option<String> {
    let output = std::process::Command::new("id").arg("-un").output().ok()?;
    let name = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !name.is_empty()).then_some(name)
}
