//! Where settings come from (flags > environment > files), decided in one place.

use anyhow::{Context as _, Result};
use pgroster::config::{self, Config, LowerInput, Lowered};
use pgroster::connection::{AdminCredentials, Connector, TlsSettings};
use pgroster::model::SslMode;
use std::path::Path;

pub struct Context {
    pub config: Config,
    pub lowered: Lowered,
    pub connector: Connector,
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads and validates the config; reads the admin credentials from the environment.
pub fn load(path: &Path) -> Result<Context> {
    let config = config::load(path).map_err(anyhow::Error::new)?;
    let credentials = AdminCredentials::from_env(
        config.settings.admin_user_env.as_deref(),
        config.settings.admin_password_env.as_deref(),
        env_var,
    );
    let lowered = config::lower(
        &config,
        &LowerInput {
            admin_user: Some(&credentials.user),
        },
    )
    .map_err(anyhow::Error::new)
    .context("the configuration is invalid")?;
    let tls = TlsSettings {
        default_mode: match (config.settings.sslmode, env_var("PGSSLMODE")) {
            (Some(mode), _) => mode,
            (None, Some(text)) => text
                .parse::<SslMode>()
                .map_err(|e| anyhow::anyhow!("PGSSLMODE: {e}"))?,
            (None, None) => SslMode::Prefer,
        },
        per_cluster: lowered.registry.sslmodes(),
        root_cert: config
            .settings
            .sslrootcert
            .as_ref()
            .map(|p| config.dir.join(p))
            .or_else(|| env_var("PGSSLROOTCERT").map(Into::into)),
    };
    Ok(Context {
        config,
        lowered,
        connector: Connector::new(credentials, tls),
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
