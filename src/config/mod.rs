//! Config files -> one validated configuration. `load` is the only part that touches the disk.
//!
//! A config is a directory whose `*.toml`, `*.yaml` and `*.yml` files are merged, or one file.
//! Any file may hold any section; a section or entry defined twice is an error naming both places.

mod error;
pub mod lower;
mod profiles;
pub mod raw;
mod source;

pub use error::{ConfigError, ConfigErrors, Location};
pub use lower::{lower, LowerInput, Lowered};
pub use profiles::builtin_profile_names;
pub use source::{Format, SourceFile};

use raw::{RawDatabase, RawEnv, RawProfile, RawRole, RawSettings};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Points back at the file and item a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    pub file: usize,
    pub index: usize,
}

/// The merged configuration, each entry remembering its origin for later errors.
#[derive(Debug)]
pub struct Config {
    /// The directory relative paths (the audit log) are resolved against.
    pub dir: PathBuf,
    pub files: Vec<SourceFile>,
    pub settings: RawSettings,
    settings_file: Option<usize>,
    pub envs: BTreeMap<String, RawEnv>,
    pub databases: Vec<(RawDatabase, Origin)>,
    pub profiles: BTreeMap<String, (RawProfile, Origin)>,
    pub roles: Vec<(RawRole, Origin)>,
}

impl Config {
    pub fn role_location(&self, origin: Origin, key: Option<&str>) -> Location {
        self.files[origin.file].array_item_location("roles", origin.index, key)
    }

    pub fn database_location(&self, origin: Origin, key: Option<&str>) -> Location {
        self.files[origin.file].array_item_location("databases", origin.index, key)
    }

    pub fn profile_location(&self, name: &str, origin: Origin, key: Option<&str>) -> Location {
        self.files[origin.file].map_entry_location("profiles", name, key)
    }

    pub fn settings_location(&self, key: &str) -> Location {
        match self.settings_file {
            Some(i) => {
                let file = &self.files[i];
                let section = file.section_location("settings");
                file.key_location_after(section.line, key)
            }
            None => Location::new(&self.dir, 1, 1),
        }
    }

    /// The audit log path, resolved against the config directory.
    pub fn audit_log_path(&self) -> PathBuf {
        self.dir.join(
            self.settings
                .audit_log
                .as_deref()
                .unwrap_or("pgroster-audit.db"),
        )
    }
}

/// Reads a config directory (or a single file) and merges its files.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let unreadable = |reason: String| ConfigErrors::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let metadata = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    let (dir, paths) = if metadata.is_dir() {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| unreadable(e.to_string()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && format_of(p).is_some())
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(unreadable("no *.toml, *.yaml or *.yml files in it".into()));
        }
        (path.to_path_buf(), paths)
    } else {
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        (dir, vec![path.to_path_buf()])
    };
    let mut files = Vec::new();
    for p in &paths {
        let format = format_of(p).ok_or_else(|| {
            unreadable(format!("{}: not a .toml, .yaml or .yml file", p.display()))
        })?;
        let text = std::fs::read_to_string(p).map_err(|e| ConfigErrors::Unreadable {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        files.push(SourceFile::new(p, format, text));
    }
    merge(dir, files)
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()? {
        "toml" => Some(Format::Toml),
        "yaml" | "yml" => Some(Format::Yaml),
        _ => None,
    }
}

/// Merges parsed files; public so tests can build a config from strings.
pub fn merge(dir: PathBuf, files: Vec<SourceFile>) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let mut config = Config {
        dir,
        files: Vec::new(),
        settings: RawSettings::default(),
        settings_file: None,
        envs: BTreeMap::new(),
        databases: Vec::new(),
        profiles: BTreeMap::new(),
        roles: Vec::new(),
    };
    let mut env_files: BTreeMap<String, usize> = BTreeMap::new();
    let mut database_seen: BTreeMap<(String, String), Origin> = BTreeMap::new();
    for (file_index, file) in files.iter().enumerate() {
        let raw = match file.parse() {
            Ok(raw) => raw,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if let Some(settings) = raw.settings {
            if let Some(first) = config.settings_file {
                let here = file.section_location("settings");
                let there = files[first].section_location("settings");
                errors.push(ConfigError {
                    location: here,
                    message: format!("[settings] is defined twice; first at {there}"),
                });
            } else {
                config.settings = settings;
                config.settings_file = Some(file_index);
            }
        }
        for (name, env) in raw.envs {
            if let Some(&first) = env_files.get(&name) {
                errors.push(ConfigError {
                    location: file.map_entry_location("envs", &name, None),
                    message: format!(
                        "env `{name}` is defined twice; first at {}",
                        files[first].map_entry_location("envs", &name, None)
                    ),
                });
            } else {
                env_files.insert(name.clone(), file_index);
                config.envs.insert(name, env);
            }
        }
        for (index, db) in raw.databases.into_iter().enumerate() {
            let origin = Origin {
                file: file_index,
                index,
            };
            let key = (db.env.clone(), db.name.clone());
            if let Some(first) = database_seen.get(&key) {
                errors.push(ConfigError {
                    location: file.array_item_location("databases", index, None),
                    message: format!(
                        "database {}/{} is registered twice; first at {}",
                        db.env,
                        db.name,
                        files[first.file].array_item_location("databases", first.index, None)
                    ),
                });
                continue;
            }
            database_seen.insert(key, origin);
            config.databases.push((db, origin));
        }
        for (index, (name, profile)) in raw.profiles.into_iter().enumerate() {
            let origin = Origin {
                file: file_index,
                index,
            };
            if let Some((_, first)) = config.profiles.get(&name) {
                errors.push(ConfigError {
                    location: file.map_entry_location("profiles", &name, None),
                    message: format!(
                        "profile `{name}` is defined twice; first at {}",
                        files[first.file].map_entry_location("profiles", &name, None)
                    ),
                });
                continue;
            }
            config.profiles.insert(name, (profile, origin));
        }
        config.roles.reserve_exact(raw.roles.len());
        for (index, role) in raw.roles.into_iter().enumerate() {
            config.roles.push((
                role,
                Origin {
                    file: file_index,
                    index,
                },
            ));
        }
    }
    config.files = files;
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors::Invalid(errors))
    }
}
