//! One config file: its text, its parsed raw form, and where its items are.
//!
//! serde gives positions for syntax and unknown-key errors; for semantic errors found later
//! (a role's profile, a database's glob) we find the item's line in the text, which works
//! for the block styles people write and falls back to the section's line otherwise.

use super::error::{did_you_mean, ConfigError, Location};
use super::raw::RawFile;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Yaml,
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub format: Format,
    pub(super) text: String,
}

impl SourceFile {
    pub fn new(path: &Path, format: Format, text: String) -> Self {
        SourceFile {
            path: path.to_path_buf(),
            format,
            text,
        }
    }

    pub fn parse(&self) -> Result<RawFile, ConfigError> {
        match self.format {
            Format::Toml => toml::from_str::<RawFile>(&self.text).map_err(|e| {
                let (line, column) = e.span().map(|s| self.line_col(s.start)).unwrap_or((1, 1));
                self.error_at(line, column, improve_serde_message(e.message()))
            }),
            Format::Yaml => {
                if self.text.trim().is_empty() {
                    return Ok(RawFile::default());
                }
                serde_yaml_ng::from_str::<RawFile>(&self.text).map_err(|e| {
                    let (line, column) = e
                        .location()
                        .map(|l| (l.line(), l.column()))
                        .unwrap_or((1, 1));
                    let message = e.to_string();
                    // serde_yaml_ng appends " at line X column Y"; the location is already in front.
                    let message = message
                        .split(" at line ")
                        .next()
                        .unwrap_or(&message)
                        .to_string();
                    self.error_at(line, column, improve_serde_message(&message))
                })
            }
        }
    }

    pub fn error_at(&self, line: usize, column: usize, message: impl Into<String>) -> ConfigError {
        ConfigError {
            location: Location::new(&self.path, line, column),
            message: message.into(),
        }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn lines(&self) -> impl Iterator<Item = (usize, &str)> {
        self.text.lines().enumerate().map(|(i, l)| (i + 1, l))
    }

    /// Line where a top-level section starts (`[[roles]]`, `[settings]`, `roles:`).
    pub fn section_location(&self, section: &str) -> Location {
        let line = self
            .lines()
            .find(|(_, l)| match self.format {
                Format::Toml => toml_header(l)
                    .is_some_and(|h| h == section || h.starts_with(&format!("{section}."))),
                Format::Yaml => yaml_top_key(l) == Some(section),
            })
            .map_or(1, |(n, _)| n);
        Location::new(&self.path, line, 1)
    }

    /// Lines `[start, end)` of the `index`-th entry of an array section (`[[roles]]` / `roles: - ...`).
    fn array_item_span(&self, section: &str, index: usize) -> Option<(usize, usize)> {
        let lines: Vec<(usize, &str)> = self.lines().collect();
        let mut starts = Vec::new();
        let mut end_of_section = lines.len() + 1;
        match self.format {
            Format::Toml => {
                let header = format!("[[{section}]]");
                let start = lines
                    .iter()
                    .filter(|(_, l)| l.trim() == header)
                    .nth(index)
                    .map(|(n, _)| *n)?;
                let end = lines
                    .iter()
                    .find(|(n, l)| *n > start && l.trim_start().starts_with('['))
                    .map_or(end_of_section, |(n, _)| *n);
                Some((start, end))
            }
            Format::Yaml => {
                let section_line = lines
                    .iter()
                    .find(|(_, l)| yaml_top_key(l) == Some(section))
                    .map(|(n, _)| *n)?;
                let mut item_indent = None;
                for (n, l) in lines.iter().filter(|(n, _)| *n > section_line) {
                    let trimmed = l.trim_start();
                    if trimmed.is_empty() || trimmed.starts_with('#') {
                        continue;
                    }
                    let indent = l.len() - trimmed.len();
                    if indent == 0 && !trimmed.starts_with('-') {
                        end_of_section = *n;
                        break;
                    }
                    if trimmed.starts_with("- ") || trimmed == "-" {
                        match item_indent {
                            None => {
                                item_indent = Some(indent);
                                starts.push(*n);
                            }
                            Some(i) if i == indent => starts.push(*n),
                            _ => {}
                        }
                    }
                }
                let start = *starts.get(index)?;
                let end = starts.get(index + 1).copied().unwrap_or(end_of_section);
                Some((start, end))
            }
        }
    }

    /// Location of the `index`-th entry of an array section, or of `key` inside it when given.
    pub fn array_item_location(&self, section: &str, index: usize, key: Option<&str>) -> Location {
        let Some((start, end)) = self.array_item_span(section, index) else {
            return self.section_location(section);
        };
        self.key_location_in(start, end, key)
    }

    /// Location of a map entry such as `[profiles.app]` / `profiles:\n  app:`, or a key inside it.
    pub fn map_entry_location(&self, section: &str, name: &str, key: Option<&str>) -> Location {
        let lines: Vec<(usize, &str)> = self.lines().collect();
        let span = match self.format {
            Format::Toml => {
                let wanted = [format!("{section}.{name}"), format!("{section}.\"{name}\"")];
                lines
                    .iter()
                    .find(|(_, l)| toml_header(l).is_some_and(|h| wanted.iter().any(|w| w == h)))
                    .map(|(n, _)| {
                        let end = lines
                            .iter()
                            .find(|(m, l)| *m > *n && l.trim_start().starts_with('['))
                            .map_or(lines.len() + 1, |(m, _)| *m);
                        (*n, end)
                    })
            }
            Format::Yaml => {
                let section_line = lines
                    .iter()
                    .find(|(_, l)| yaml_top_key(l) == Some(section))
                    .map(|(n, _)| *n);
                section_line.and_then(|s| {
                    let start = lines.iter().find(|(n, l)| {
                        *n > s && {
                            let t = l.trim_start();
                            let key = t
                                .split(':')
                                .next()
                                .unwrap_or("")
                                .trim()
                                .trim_matches(['"', '\'']);
                            l.len() > t.len() && key == name
                        }
                    })?;
                    let indent = start.1.len() - start.1.trim_start().len();
                    let end = lines
                        .iter()
                        .find(|(m, l)| {
                            let t = l.trim_start();
                            *m > start.0
                                && !t.is_empty()
                                && !t.starts_with('#')
                                && l.len() - t.len() <= indent
                        })
                        .map_or(lines.len() + 1, |(m, _)| *m);
                    Some((start.0, end))
                })
            }
        };
        match span {
            Some((start, end)) => self.key_location_in(start, end, key),
            None => self.section_location(section),
        }
    }

    /// Location of `key` in the lines that follow `line` (a section's keys), else `line`.
    pub fn key_location_after(&self, line: usize, key: &str) -> Location {
        let end = self
            .lines()
            .find(|(n, l)| {
                *n > line && (l.trim_start().starts_with('[') || yaml_top_key(l).is_some())
            })
            .map_or(usize::MAX, |(n, _)| n);
        self.key_location_in(line, end, Some(key))
    }

    fn key_location_in(&self, start: usize, end: usize, key: Option<&str>) -> Location {
        if let Some(key) = key {
            for (n, l) in self.lines().filter(|(n, _)| *n >= start && *n < end) {
                let body = l.trim_start();
                let body = body.strip_prefix("- ").unwrap_or(body).trim_start();
                if let Some(rest) = body.strip_prefix(key) {
                    if rest.trim_start().starts_with([':', '=']) {
                        let column = l.len() - body.len() + 1;
                        return Location::new(&self.path, n, column);
                    }
                }
            }
        }
        let line_text = self
            .lines()
            .find(|(n, _)| *n == start)
            .map_or("", |(_, l)| l);
        let column = line_text.len() - line_text.trim_start().len() + 1;
        Location::new(&self.path, start, column)
    }
}

fn toml_header(line: &str) -> Option<&str> {
    let t = line.trim();
    let inner = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]"));
    inner
        .or_else(|| t.strip_prefix('[').and_then(|r| r.strip_suffix(']')))
        .map(str::trim)
}

fn yaml_top_key(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t', '#', '-']) {
        return None;
    }
    line.split_once(':').map(|(k, _)| k.trim())
}

/// Adds a "did you mean" to serde's unknown-field messages.
fn improve_serde_message(message: &str) -> String {
    let message = message.trim();
    let Some((context, rest)) = message.split_once("unknown field `") else {
        return message.to_string();
    };
    let Some((word, rest)) = rest.split_once('`') else {
        return message.to_string();
    };
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    format!(
        "{context}unknown key `{word}`{}",
        if expected.is_empty() {
            String::new()
        } else {
            did_you_mean(word, expected.iter().copied()).to_string()
                + &format!(" (expected one of {})", expected.join(", "))
        }
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> SourceFile {
        SourceFile::new(Path::new("roles.yaml"), Format::Yaml, text.to_string())
    }

    #[test]
    fn finds_yaml_items_and_keys() {
        let f = yaml(
            "roles:\n  - name: a\n    profile: x\n  - name: b\n    targets: []\n    profile: y\n",
        );
        assert_eq!(f.array_item_location("roles", 1, None).line, 4);
        let loc = f.array_item_location("roles", 1, Some("profile"));
        assert_eq!((loc.line, loc.column), (6, 5));
        let loc = f.array_item_location("roles", 0, Some("name"));
        assert_eq!((loc.line, loc.column), (2, 5));
    }

    #[test]
    fn finds_toml_items_and_map_entries() {
        let f = SourceFile::new(
            Path::new("c.toml"),
            Format::Toml,
            "[settings]\n\n[[databases]]\nenv = \"dev\"\n[[databases]]\nenv = \"qa\"\nhost = \"h\"\n[profiles.app]\nconnection_limit = 3\n".into(),
        );
        let loc = f.array_item_location("databases", 1, Some("host"));
        assert_eq!((loc.line, loc.column), (7, 1));
        let loc = f.map_entry_location("profiles", "app", Some("connection_limit"));
        assert_eq!(loc.line, 9);
    }

    #[test]
    fn unknown_keys_get_a_suggestion_and_a_position() {
        let f = SourceFile::new(
            Path::new("c.toml"),
            Format::Toml,
            "[[databases]]\nenv = \"dev\"\nname = \"x\"\nhots = \"h\"\n".into(),
        );
        let err = f.parse().unwrap_err();
        assert_eq!(err.location.line, 4, "{err}");
        assert!(err.message.contains("did you mean `host`?"), "{err}");
        let f = yaml("databases:\n  - env: dev\n    name: x\n    hots: h\n");
        let err = f.parse().unwrap_err();
        assert_eq!(err.location.line, 4, "{err}");
        assert!(err.message.contains("did you mean `host`?"), "{err}");
    }
}
