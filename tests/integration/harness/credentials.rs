//! Passwords as pgroster delivers them: `--credentials-out` files, read back and checked, and
//! random secrets for the tests' own declarations.

use super::Scenario;
use rand::distributions::{Alphanumeric, DistString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// `<prefix>` and 24 random alphanumerics.
pub fn random_secret(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 24)
    )
}

/// `<scenario dir>/<name>`, where [`Scenario::apply`] puts a credentials file.
pub fn creds_path(scenario: &Scenario, name: &str) -> PathBuf {
    scenario.path().join(name)
}

/// One entry of a `--credentials-out` file.
#[derive(Debug, Clone)]
pub struct Credential {
    pub role: String,
    pub env: String,
    pub database: String,
    pub host: String,
    pub port: u16,
    pub password: String,
    /// The audit run that delivered it (`pgroster audit --run` says whether it committed).
    pub run: String,
}

#[track_caller]
pub fn read_credentials(path: &Path) -> Vec<Credential> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("credentials file {}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let field = |entry: &serde_json::Value, key: &str| {
        entry[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string `{key}` in {entry}"))
            .to_owned()
    };
    value
        .as_array()
        .unwrap_or_else(|| panic!("credentials file is not a JSON array: {text}"))
        .iter()
        .map(|entry| Credential {
            role: field(entry, "role"),
            env: field(entry, "env"),
            database: field(entry, "database"),
            host: field(entry, "host"),
            port: u16::try_from(entry["port"].as_u64().unwrap()).unwrap(),
            password: field(entry, "password"),
            run: field(entry, "run"),
        })
        .collect()
}

/// The one password the file holds for `role` (a role has one password however many targets).
#[track_caller]
pub fn password_of(credentials: &[Credential], role: &str) -> String {
    let mut passwords: Vec<&str> = credentials
        .iter()
        .filter(|c| c.role == role)
        .map(|c| c.password.as_str())
        .collect();
    passwords.dedup();
    assert_eq!(
        passwords.len(),
        1,
        "expected one password for {role} in {credentials:?}"
    );
    passwords[0].to_owned()
}

#[track_caller]
pub fn assert_mode_0600(path: &Path) {
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
}
