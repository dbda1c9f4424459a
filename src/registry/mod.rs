//! The registry: databases (targets `env/database`) and the clusters (host:port) they live on.

use crate::model::{ClusterKey, SslMode, TargetName};
use globset::{Glob, GlobMatcher};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseEntry {
    pub target: TargetName,
    pub cluster: ClusterKey,
    pub active: bool,
    pub sslmode: Option<SslMode>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Registry {
    pub entries: Vec<DatabaseEntry>,
}

/// A glob or target the registry cannot use, as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("bad target glob `{text}`: {reason}")]
    TargetGlob { text: String, reason: String },
    #[error("bad glob `{text}`: {reason}")]
    NameGlob { text: String, reason: String },
    #[error("target `{0}` must be written env/database")]
    Target(String),
    /// A typo in `--target` must not select nothing and report "no changes".
    #[error("--target `{text}` matches no database in the registry; {known}")]
    NoMatch { text: String, known: String },
}

/// A compiled `env/database` glob. A glob without `/` selects whole envs (`dev` = `dev/*`).
#[derive(Debug, Clone)]
pub struct TargetGlob {
    pub text: String,
    matcher: GlobMatcher,
}

impl TargetGlob {
    pub fn new(text: &str) -> Result<Self, RegistryError> {
        let pattern = if text.contains('/') {
            text.to_string()
        } else {
            format!("{text}/*")
        };
        let glob = globset::GlobBuilder::new(&pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| RegistryError::TargetGlob {
                text: text.to_string(),
                reason: e.kind().to_string(),
            })?;
        Ok(TargetGlob {
            text: text.to_string(),
            matcher: glob.compile_matcher(),
        })
    }

    pub fn matches(&self, target: &TargetName) -> bool {
        self.matcher.is_match(target.to_string())
    }
}

/// A compiled name glob (role names, env names): `*` matches any characters.
#[derive(Debug, Clone)]
pub struct NameGlob {
    pub text: String,
    matcher: GlobMatcher,
}

impl NameGlob {
    pub fn new(text: &str) -> Result<Self, RegistryError> {
        let glob = Glob::new(text).map_err(|e| RegistryError::NameGlob {
            text: text.to_string(),
            reason: e.kind().to_string(),
        })?;
        Ok(NameGlob {
            text: text.to_string(),
            matcher: glob.compile_matcher(),
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }
}

impl Registry {
    pub fn find(&self, target: &TargetName) -> Option<&DatabaseEntry> {
        self.entries.iter().find(|e| &e.target == target)
    }

    /// The entry of `env/database` as written on the command line.
    pub fn find_text(&self, text: &str) -> Result<(TargetName, &DatabaseEntry), RegistryError> {
        let target = parse_target(text)?;
        match self.find(&target) {
            Some(entry) => Ok((target, entry)),
            None => Err(self.no_match(text)),
        }
    }

    /// Compiles `--target` globs; each must match at least one entry (active or not).
    pub fn select(&self, texts: &[String]) -> Result<Vec<TargetGlob>, RegistryError> {
        texts
            .iter()
            .map(|text| {
                let glob = TargetGlob::new(text)?;
                if self.entries.iter().any(|e| glob.matches(&e.target)) {
                    Ok(glob)
                } else {
                    Err(self.no_match(text))
                }
            })
            .collect()
    }

    /// What the registry holds, briefly: every env, and the first few targets.
    fn no_match(&self, text: &str) -> RegistryError {
        const SHOWN: usize = 8;
        let envs: BTreeSet<&str> = self.entries.iter().map(|e| e.target.env.as_str()).collect();
        let targets: BTreeSet<String> = self.entries.iter().map(|e| e.target.to_string()).collect();
        let known = if targets.is_empty() {
            "the registry is empty".to_string()
        } else {
            let mut shown: Vec<String> = targets.iter().take(SHOWN).cloned().collect();
            if targets.len() > SHOWN {
                shown.push(format!("and {} more", targets.len() - SHOWN));
            }
            format!(
                "envs: {}; targets: {}",
                envs.into_iter().collect::<Vec<_>>().join(", "),
                shown.join(", ")
            )
        };
        RegistryError::NoMatch {
            text: text.to_string(),
            known,
        }
    }

    /// The TLS mode each cluster's entries ask for, where they ask.
    pub fn sslmodes(&self) -> BTreeMap<ClusterKey, SslMode> {
        self.entries
            .iter()
            .filter_map(|e| e.sslmode.map(|m| (e.cluster.clone(), m)))
            .collect()
    }

    /// Active targets grouped by cluster.
    pub(crate) fn active_by_cluster(&self) -> BTreeMap<ClusterKey, Vec<&DatabaseEntry>> {
        let mut clusters: BTreeMap<ClusterKey, Vec<&DatabaseEntry>> = BTreeMap::new();
        for entry in self.entries.iter().filter(|e| e.active) {
            clusters
                .entry(entry.cluster.clone())
                .or_default()
                .push(entry);
        }
        clusters
    }
}

/// Resolves target globs to registry entries, compiling and matching each distinct glob once:
/// a fleet config repeats the same few globs on thousands of roles.
pub struct TargetSelector<'r> {
    registry: &'r Registry,
    cache: RefCell<HashMap<String, Selection>>,
}

/// The entries a glob matches (indices into the registry), or why the glob is bad.
type Selection = Result<Rc<[usize]>, RegistryError>;

impl<'r> TargetSelector<'r> {
    pub fn new(registry: &'r Registry) -> Self {
        TargetSelector {
            registry,
            cache: Default::default(),
        }
    }

    /// Indices of the entries `glob` matches, or why the glob is bad.
    pub fn matches(&self, glob: &str) -> Selection {
        if let Some(hit) = self.cache.borrow().get(glob) {
            return hit.clone();
        }
        let result = TargetGlob::new(glob).map(|compiled| {
            self.registry
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| compiled.matches(&e.target))
                .map(|(i, _)| i)
                .collect::<Rc<[usize]>>()
        });
        self.cache
            .borrow_mut()
            .insert(glob.to_string(), result.clone());
        result
    }

    pub fn entry(&self, index: usize) -> Option<&'r DatabaseEntry> {
        self.registry.entries.get(index)
    }
}

/// Parses `env/database` as given on the command line.
pub fn parse_target(text: &str) -> Result<TargetName, RegistryError> {
    match text.split_once('/') {
        Some((env, database)) if !env.is_empty() && !database.is_empty() => Ok(TargetName {
            env: env.to_string(),
            database: database.to_string(),
        }),
        _ => Err(RegistryError::Target(text.to_string())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn target(env: &str, db: &str) -> TargetName {
        TargetName {
            env: env.into(),
            database: db.into(),
        }
    }

    #[test]
    fn globs_match_env_and_database() {
        let g = TargetGlob::new("dev/app_dev_*").unwrap();
        assert!(g.matches(&target("dev", "app_dev_main")));
        assert!(!g.matches(&target("qa", "app_dev_main")));
        let env_only = TargetGlob::new("qa").unwrap();
        assert!(env_only.matches(&target("qa", "anything")));
        let all = TargetGlob::new("*/*").unwrap();
        assert!(all.matches(&target("prod", "x")));
        assert!(TargetGlob::new("dev/[").is_err());
    }

    #[test]
    fn a_glob_that_selects_nothing_is_refused_with_what_the_registry_holds() {
        let entry = |env: &str, db: &str, active| DatabaseEntry {
            target: target(env, db),
            cluster: ClusterKey {
                host: "h".into(),
                port: 5432,
            },
            active,
            sslmode: None,
        };
        let registry = Registry {
            entries: vec![
                entry("dev", "a", true),
                entry("prod", "b", true),
                entry("qa", "c", false),
            ],
        };
        // An inactive entry is still an entry: the plan says it is skipped.
        assert_eq!(
            registry
                .select(&["qa".into(), "dev/*".into()])
                .unwrap()
                .len(),
            2
        );
        let error = registry.select(&["dev".into(), "de".into()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--target `de` matches no database in the registry; \
             envs: dev, prod, qa; targets: dev/a, prod/b, qa/c"
        );
        assert!(matches!(
            registry.find_text("dev/nope"),
            Err(RegistryError::NoMatch { .. })
        ));
        assert!(matches!(
            registry.find_text("dev"),
            Err(RegistryError::Target(_))
        ));
    }
}
