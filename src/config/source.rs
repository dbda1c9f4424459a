//! One config file: its text, parsed by toml or serde-saphyr into entries that each carry the
//! positions the parser reported (see `located`), whatever the format.

use super::error::{unknown_key, ConfigError, Location};
use super::located::{Located, Pos, Spans, Toml, Yaml};
use super::raw::{RawDatabase, RawEnv, RawFile, RawNotify, RawProfile, RawRole, RawSettings};
use super::{Origin, Position};
use std::borrow::Cow;
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
    text: String,
    /// Byte offset of each line's start, to turn toml's offsets into lines and columns.
    line_starts: Vec<usize>,
}

/// One file's entries in file order, each with its origin.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    pub settings: Option<(RawSettings, Origin)>,
    pub envs: Vec<(String, RawEnv, Origin)>,
    pub databases: Vec<(RawDatabase, Origin)>,
    pub profiles: Vec<(String, RawProfile, Origin)>,
    pub roles: Vec<(RawRole, Origin)>,
    pub notify: Vec<(RawNotify, Origin)>,
    /// Keys that no entry of their kind has.
    pub unknown_keys: Vec<ConfigError>,
}

impl SourceFile {
    /// The file's text as read.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn new(path: &Path, format: Format, text: String) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path: path.to_path_buf(),
            format,
            text,
            line_starts,
        }
    }

    /// Parses the file; `index` is its place in the config, recorded in every origin.
    pub(super) fn parse(&self, index: usize) -> Result<Parsed, ConfigError> {
        match self.format {
            Format::Toml => toml::from_str::<RawFile<Toml>>(&self.text)
                .map(|raw| self.entries(raw, index))
                .map_err(|e| {
                    let at = e.span().map_or(Pos::Offset(0), |s| Pos::Offset(s.start));
                    self.error_at(self.position(at), improve_toml_message(e.message()))
                }),
            Format::Yaml => {
                // YAML 1.2's core schema, as serde_yaml read it: `yes` and `off` are strings
                // and `007` stays `007`. No size budget: the files are the operator's own, and
                // a budget would only turn away a large fleet.
                let options = serde_saphyr::options! {
                    budget: None,
                    strict_booleans: true,
                    leading_zero_numbers_as_strings: true,
                    underscored_numbers_as_strings: true,
                    with_snippet: false,
                };
                serde_saphyr::from_str_with_options::<RawFile<Yaml>>(&self.text, options)
                    .map(|raw| self.entries(raw, index))
                    .map_err(|e| {
                        let at = e.location().filter(|l| l.line() > 0).map_or(
                            Pos::LineColumn(1, 1),
                            |l| {
                                let number = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
                                Pos::LineColumn(number(l.line()), number(l.column()))
                            },
                        );
                        let message = serde_saphyr::MessageFormatter::format_message(
                            &YamlMessages,
                            e.without_snippet(),
                        );
                        self.error_at(self.position(at), message)
                    })
            }
        }
    }

    /// The file's entries with their origins; keys no entry has become errors, except on roles,
    /// where they are the name template's placeholders.
    fn entries<S: Spans>(&self, raw: RawFile<S>, index: usize) -> Parsed {
        let mut parsed = Parsed::default();
        let origin = |at: Pos, keys: &[(Cow<'static, str>, Pos)], accepted| Origin {
            file: index,
            at: self.entry_position(at),
            keys: keys
                .iter()
                .map(|(name, pos)| (name.clone(), self.position(*pos)))
                .collect(),
            accepted,
        };
        if let Some(settings) = raw.settings {
            self.reject_extra("settings", &settings, &mut parsed.unknown_keys);
            let origin = origin(settings.at, &settings.keys, settings.fields);
            parsed.settings = Some((settings.value, origin));
        }
        let envs = raw.envs;
        for (name, env) in envs.value {
            let at = key_position(&envs.keys, &name).unwrap_or(envs.at);
            parsed.envs.push((name, env, origin(at, &[], &[])));
        }
        for db in raw.databases {
            self.reject_extra("database", &db, &mut parsed.unknown_keys);
            let origin = origin(db.at, &db.keys, db.fields);
            parsed.databases.push((db.value, origin));
        }
        let profiles = raw.profiles;
        for (name, profile) in profiles.value {
            let kind = format!("profile `{name}`");
            self.reject_extra(&kind, &profile, &mut parsed.unknown_keys);
            let at = key_position(&profiles.keys, &name).unwrap_or(profile.at);
            let origin = origin(at, &profile.keys, profile.fields);
            parsed.profiles.push((name, profile.value, origin));
        }
        for role in raw.roles {
            let mut keys = role.keys;
            let mut value = role.value;
            for (name, at, placeholder) in role.extra {
                keys.push((Cow::Owned(name.clone()), at));
                value.placeholders.insert(name, placeholder);
            }
            let origin = origin(role.at, &keys, role.fields);
            parsed.roles.push((value, origin));
        }
        for notify in raw.notify {
            self.reject_extra("notify", &notify, &mut parsed.unknown_keys);
            let origin = origin(notify.at, &notify.keys, notify.fields);
            parsed.notify.push((notify.value, origin));
        }
        parsed
    }

    fn reject_extra<T, S>(&self, kind: &str, entry: &Located<T, S>, errors: &mut Vec<ConfigError>) {
        for (key, at, _) in &entry.extra {
            errors.push(self.error_at(
                self.position(*at),
                format!("{kind}: {}", unknown_key(key, entry.fields)),
            ));
        }
    }

    fn error_at(&self, at: Position, message: impl Into<String>) -> ConfigError {
        ConfigError {
            location: self.location(at),
            message: message.into(),
        }
    }

    pub(super) fn location(&self, at: Position) -> Location {
        Location::new(&self.path, at.line, at.column)
    }

    fn position(&self, pos: Pos) -> Position {
        match pos {
            Pos::LineColumn(line, column) => Position { line, column },
            Pos::Offset(offset) => {
                let line = self.line_starts.partition_point(|&start| start <= offset);
                let start = self.line_starts[line.saturating_sub(1)];
                let column = self
                    .text
                    .get(start..offset)
                    .map_or(0, |t| t.chars().count())
                    + 1;
                Position { line, column }
            }
        }
    }

    /// Where an entry starts as people read it: at the dash of a block sequence's entry, where
    /// YAML parsers place a block mapping at its first key.
    fn entry_position(&self, pos: Pos) -> Position {
        let at = self.position(pos);
        let line = at.line.checked_sub(1).and_then(|i| {
            let start = *self.line_starts.get(i)?;
            let end = self
                .line_starts
                .get(i + 1)
                .copied()
                .unwrap_or(self.text.len());
            self.text.get(start..end)
        });
        let Some(line) = line else { return at };
        let before: String = line.chars().take(at.column.saturating_sub(1)).collect();
        match before.find('-') {
            Some(dash) if before.split_whitespace().all(|t| t == "-") => Position {
                line: at.line,
                column: before[..dash].chars().count() + 1,
            },
            _ => at,
        }
    }
}

fn key_position(keys: &[(Cow<'static, str>, Pos)], name: &str) -> Option<Pos> {
    keys.iter().find(|(key, _)| key == name).map(|(_, at)| *at)
}

/// serde-saphyr's user-facing messages, with ours for unknown keys and bad scalars.
struct YamlMessages;

impl serde_saphyr::MessageFormatter for YamlMessages {
    fn format_message<'a>(&self, err: &'a serde_saphyr::Error) -> Cow<'a, str> {
        match err {
            serde_saphyr::Error::SerdeUnknownField {
                field, expected, ..
            } => Cow::Owned(unknown_key(field, expected)),
            // Its own words are "invalid i32".
            serde_saphyr::Error::InvalidScalar { ty, .. } => {
                Cow::Owned(format!("invalid value: expected {ty}"))
            }
            other => serde_saphyr::UserMessageFormatter.format_message(other),
        }
    }
}

/// toml reports unknown keys in serde's words only: "unknown field `x`, expected one of `a`, `b`".
fn improve_toml_message(message: &str) -> String {
    let message = message.trim();
    let Some((context, rest)) = message.split_once("unknown field `") else {
        return message.to_string();
    };
    let Some((word, rest)) = rest.split_once('`') else {
        return message.to_string();
    };
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    format!("{context}{}", unknown_key(word, &expected))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
