//! Located configuration errors: every one names file:line:column.

use std::path::{Path, PathBuf};

/// A place in a config file, 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub fn new(file: &Path, line: usize, column: usize) -> Self {
        Location {
            file: file.to_path_buf(),
            line,
            column,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub location: Location,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// All errors found in one pass, so a user fixes them together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigErrors {
    #[error("cannot read config {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}", display_all(.0))]
    Invalid(Vec<ConfigError>),
}

fn display_all(errors: &[ConfigError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

use crate::model::spelling::nearest;

pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match nearest(word, candidates) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

/// "unknown key `x`; did you mean `y`? (expected one of ...)", for every kind of entry.
pub fn unknown_key(word: &str, expected: &[&str]) -> String {
    if expected.is_empty() {
        return format!("unknown key `{word}`");
    }
    format!(
        "unknown key `{word}`{} (expected one of {})",
        did_you_mean(word, expected.iter().copied()),
        expected.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_key() {
        let keys = ["connection_limit", "createdb", "login"];
        assert_eq!(nearest("conection_limit", keys), Some("connection_limit"));
        assert_eq!(nearest("createbd", keys), Some("createdb"));
        assert_eq!(nearest("zzzzzzzz", keys), None);
    }
}
