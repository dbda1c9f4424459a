//! Parsed files -> one `Config`: any file may hold any section, and a section or entry defined
//! twice is an error naming both places.

use super::error::{ConfigError, ConfigErrors};
use super::raw::RawSettings;
use super::source::SourceFile;
use super::{Config, Origin};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Parses and merges `files`; public so tests can build a config from strings.
pub fn merge(dir: PathBuf, files: Vec<SourceFile>) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let mut config = Config {
        dir,
        files: Vec::new(),
        settings: RawSettings::default(),
        settings_origin: None,
        envs: BTreeMap::new(),
        databases: Vec::new(),
        profiles: BTreeMap::new(),
        roles: Vec::new(),
        notify: Vec::new(),
    };
    let mut env_origins: BTreeMap<String, Origin> = BTreeMap::new();
    let mut database_origins: BTreeMap<(String, String, String), Origin> = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        let parsed = match file.parse(index) {
            Ok(parsed) => parsed,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        errors.extend(parsed.unknown_keys);
        let first_at = |origin: &Origin| files[origin.file].location(origin.at);
        let twice = |origin: &Origin, what: String, first: &Origin| ConfigError {
            location: file.location(origin.at),
            message: format!("{what}; first at {}", first_at(first)),
        };
        if let Some((settings, origin)) = parsed.settings {
            match &config.settings_origin {
                Some(first) => {
                    errors.push(twice(&origin, "[settings] is defined twice".into(), first))
                }
                None => {
                    config.settings = settings;
                    config.settings_origin = Some(origin);
                }
            }
        }
        for (name, env, origin) in parsed.envs {
            if let Some(first) = env_origins.get(&name) {
                errors.push(twice(
                    &origin,
                    format!("env `{name}` is defined twice"),
                    first,
                ));
                continue;
            }
            env_origins.insert(name.clone(), origin);
            config.envs.insert(name, env);
        }
        for (db, origin) in parsed.databases {
            let cluster = db.cluster_name();
            let key = (db.env.clone(), db.name.clone(), cluster.clone());
            if let Some(first) = database_origins.get(&key) {
                let what = format!(
                    "database {}/{} is registered twice on cluster {cluster}",
                    db.env, db.name
                );
                errors.push(twice(&origin, what, first));
                continue;
            }
            database_origins.insert(key, origin.clone());
            config.databases.push((db, origin));
        }
        for (name, profile, origin) in parsed.profiles {
            if let Some((_, first)) = config.profiles.get(&name) {
                let what = format!("profile `{name}` is defined twice");
                errors.push(twice(&origin, what, first));
                continue;
            }
            config.profiles.insert(name, (profile, origin));
        }
        config.roles.extend(parsed.roles);
        config.notify.extend(parsed.notify);
    }
    config.files = files;
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors::Invalid(errors))
    }
}
