//! Where settings come from (flags > environment > files), decided in one place.

use anyhow::{bail, Context as _, Result};
use pgroster::config::{self, Config, LowerInput, Lowered};
use pgroster::connection::{AdminCredentials, Connector, TlsSettings};
use pgroster::fleet::{start_reads, PendingReads};
use pgroster::model::SslMode;
use pgroster::registry::{Registry, TargetGlob};
use std::path::Path;
use std::sync::Arc;

pub struct Context {
    pub config: Config,
    pub lowered: Lowered,
    pub connector: Arc<Connector>,
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads and validates the config; reads the admin credentials from the environment.
pub fn load(path: &Path) -> Result<Context> {
    Ok(load_inner(path, None)?.0)
}

/// `load`, with the selected clusters' catalogs already being read while the roles are lowered.
pub fn load_and_read(path: &Path, selection: &[TargetGlob]) -> Result<(Context, PendingReads)> {
    let (ctx, reads) = load_inner(path, Some(selection))?;
    let reads = reads.ok_or_else(|| anyhow::anyhow!("the configuration is invalid"))?;
    Ok((ctx, reads))
}

fn load_inner(
    path: &Path,
    selection: Option<&[TargetGlob]>,
) -> Result<(Context, Option<PendingReads>)> {
    let (dir, files) = config::read(path).map_err(anyhow::Error::new)?;
    // Reading clusters needs only the registry and the settings. When the roles are in files
    // of their own, the reads start before those are parsed, and are kept if the whole config
    // agrees on the registry, the credentials and TLS.
    let early = selection.and_then(|selection| {
        let preview = config::preview(&dir, &files)?;
        let access = ClusterAccess::of(&preview, admin_credentials(&preview)).ok()??;
        let reads = start_reads(&access.registry, &access.connector, selection);
        Some((access, reads))
    });
    let mut config = config::merge(dir, files).map_err(anyhow::Error::new)?;
    let credentials = admin_credentials(&config);
    let lowered = config::lower(
        &mut config,
        &LowerInput {
            admin_user: Some(&credentials.user),
        },
    )
    .map_err(anyhow::Error::new)
    .context("the configuration is invalid")?;
    let access = ClusterAccess::of(&config, credentials)?;
    let Some(access) = access else {
        bail!("the configuration is invalid: the registry has errors");
    };
    let reads = match (early, selection) {
        (Some((early, reads)), _) if early.same_as(&access) => Some(reads),
        (_, Some(selection)) => Some(start_reads(&access.registry, &access.connector, selection)),
        (_, None) => None,
    };
    Ok((
        Context {
            config,
            lowered,
            connector: access.connector,
        },
        reads,
    ))
}

/// What reading the clusters takes: the registry and how to connect.
struct ClusterAccess {
    registry: Registry,
    credentials: AdminCredentials,
    tls: TlsSettings,
    connector: Arc<Connector>,
}

impl ClusterAccess {
    /// `None` when the registry has errors (`lower` reports them).
    fn of(config: &Config, credentials: AdminCredentials) -> Result<Option<ClusterAccess>> {
        let Some(registry) = config::lower::registry(config) else {
            return Ok(None);
        };
        let tls = tls_settings(config, &registry)?;
        let connector = Arc::new(Connector::new(credentials.clone(), tls.clone()));
        Ok(Some(ClusterAccess {
            registry,
            credentials,
            tls,
            connector,
        }))
    }

    fn same_as(&self, other: &ClusterAccess) -> bool {
        self.registry == other.registry
            && self.credentials == other.credentials
            && self.tls == other.tls
    }
}

fn admin_credentials(config: &Config) -> AdminCredentials {
    AdminCredentials::from_env(
        config.settings.admin_user_env.as_deref(),
        config.settings.admin_password_env.as_deref(),
        env_var,
    )
}

fn tls_settings(config: &Config, registry: &Registry) -> Result<TlsSettings> {
    Ok(TlsSettings {
        default_mode: match (config.settings.sslmode, env_var("PGSSLMODE")) {
            (Some(mode), _) => mode,
            (None, Some(text)) => text
                .parse::<SslMode>()
                .map_err(|e| anyhow::anyhow!("PGSSLMODE: {e}"))?,
            (None, None) => SslMode::Prefer,
        },
        per_cluster: registry.sslmodes(),
        root_cert: config
            .settings
            .sslrootcert
            .as_ref()
            .map(|p| config.dir.join(p))
            .or_else(|| env_var("PGSSLROOTCERT").map(Into::into)),
    })
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

pub fn lookup_env(name: &str) -> Option<String> {
    env_var(name)
}
