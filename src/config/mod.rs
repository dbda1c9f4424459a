//! Config files -> one validated configuration. `load` is the only part that touches the disk.
//!
//! A config is a directory whose `*.toml`, `*.yaml` and `*.yml` files are merged, or one file.
//! `load` reads them; `source` parses each with toml or serde-saphyr into the `raw` types, every
//! entry `located` by its parser's spans; `merge` combines the files; `lower` checks what refers
//! to what and builds the desired state. Errors name the file, line and column at fault.

mod error;
pub mod located;
pub mod lower;
mod merge;
mod profiles;
pub mod raw;
mod source;

pub use error::{ConfigError, ConfigErrors, Location};
pub use lower::{lower, LowerInput, Lowered, ProfileState};
pub use merge::merge;
pub use profiles::builtin_profile_names;
pub use source::{Format, SourceFile};

use crate::audit::AuditSink;
use raw::{RawDatabase, RawEnv, RawProfile, RawRole, RawSettings};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A line and a column in a config file, 1-based, the column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Where an entry was written, as its parser reported it: the file, where the entry starts and
/// where each of its keys is.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Index into `Config::files`.
    pub file: usize,
    pub at: Position,
    pub keys: Vec<(Cow<'static, str>, Position)>,
    /// The keys the entry's type accepts, for suggestions.
    pub accepted: &'static [&'static str],
}

impl Origin {
    /// Where `key` of the entry is, or the entry itself when it has no such key.
    pub fn position(&self, key: Option<&str>) -> Position {
        key.and_then(|key| self.keys.iter().find(|(name, _)| name == key))
            .map_or(self.at, |(_, at)| *at)
    }

    /// Declaration order across files: by file, then by place in it.
    fn order(&self) -> (usize, Position) {
        (self.file, self.at)
    }
}

/// The merged configuration, each entry remembering its origin for later errors.
#[derive(Debug)]
pub struct Config {
    /// The directory relative paths (the audit log) are resolved against.
    pub dir: PathBuf,
    pub files: Vec<SourceFile>,
    pub settings: RawSettings,
    settings_origin: Option<Origin>,
    pub envs: BTreeMap<String, RawEnv>,
    pub databases: Vec<(RawDatabase, Origin)>,
    pub profiles: BTreeMap<String, (RawProfile, Origin)>,
    pub roles: Vec<(RawRole, Origin)>,
    /// `[[notify]]` entries of every file, in file order.
    pub notify: Vec<(raw::RawNotify, Origin)>,
}

impl Config {
    /// Where `key` of the entry is, or the entry itself when it has no such key.
    pub fn location(&self, origin: &Origin, key: Option<&str>) -> Location {
        self.files[origin.file].location(origin.position(key))
    }

    pub fn settings_location(&self, key: &str) -> Location {
        match &self.settings_origin {
            Some(origin) => self.location(origin, Some(key)),
            None => Location::new(&self.dir, 1, 1),
        }
    }

    /// Where the audit log is: a file resolved against the config directory, or a PostgreSQL
    /// URL, which must not hold a password.
    pub fn audit_sink(&self) -> Result<AuditSink, ConfigError> {
        let text = self
            .settings
            .audit_log
            .as_deref()
            .unwrap_or(crate::audit::sink::DEFAULT_FILE);
        AuditSink::parse(text, &self.dir).map_err(|problem| ConfigError {
            location: self.settings_location("audit_log"),
            message: format!("audit_log: {problem}"),
        })
    }
}

/// Reads a config directory, with its subfolders (a repo of access lists is organised in
/// folders, one file per team), or a single file, and merges its files in path order. Hidden
/// entries (`.git`, editor files) are skipped.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let unreadable = |reason: String| ConfigErrors::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let metadata = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    let (dir, paths) = if metadata.is_dir() {
        let hidden = |entry: &walkdir::DirEntry| {
            entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.')
        };
        let mut paths = Vec::new();
        for entry in walkdir::WalkDir::new(path)
            .follow_links(true)
            .into_iter()
            .filter_entry(|e| !hidden(e))
        {
            let entry = entry.map_err(|e| unreadable(e.to_string()))?;
            if entry.file_type().is_file() && format_of(entry.path()).is_some() {
                paths.push(entry.into_path());
            }
        }
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
