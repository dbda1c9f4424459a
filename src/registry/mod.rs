//! The registry: databases (targets `env/database`) and the clusters (host:port) they live on.
//!
//! One `env/database` may be registered on many clusters (a regional fleet); each entry names
//! its cluster (`cluster`, default `host:port`), and a target written `env/database@cluster`
//! (the cluster part a glob) picks among them.

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
    /// The registry's name for `cluster`: its `cluster` key, else `host:port`.
    pub cluster_name: String,
    pub active: bool,
    pub sslmode: Option<SslMode>,
}

impl DatabaseEntry {
    /// `env/database@cluster`: how a command line picks this entry among others of its target.
    pub(crate) fn qualified(&self) -> String {
        format!("{}@{}", self.target, self.cluster_name)
    }
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
    #[error("target `{0}` must be written env/database or env/database@cluster")]
    Target(String),
    /// A command that works on one database must not pick a cluster for the user.
    #[error(
        "target `{text}` is on {} clusters: {}; pick one with --target {}@CLUSTER (a glob), e.g. {}",
        .clusters.len(), .clusters.join(", "), .target, .example
    )]
    Ambiguous {
        text: String,
        target: String,
        clusters: Vec<String>,
        example: String,
    },
    /// A typo in `--target` must not select nothing and report "no changes".
    #[error("--target `{text}` matches no database in the registry; {known}")]
    NoMatch { text: String, known: String },
}

/// A compiled `env/database[@cluster]` glob. A glob without `/` selects whole envs (`dev` =
/// `dev/*`); without `@` it selects every cluster. The last `@` starts the cluster glob, so a
/// database whose name holds `@` is written with one: `prod/a@b@*`.
#[derive(Debug, Clone)]
pub struct TargetGlob {
    pub text: String,
    matcher: GlobMatcher,
    cluster: Option<GlobMatcher>,
}

impl TargetGlob {
    pub fn new(text: &str) -> Result<Self, RegistryError> {
        let bad = |reason: String| RegistryError::TargetGlob {
            text: text.to_string(),
            reason,
        };
        let (target, cluster) = match text.rsplit_once('@') {
            Some((target, cluster)) => (target, Some(cluster)),
            None => (text, None),
        };
        let pattern = if target.contains('/') {
            target.to_string()
        } else {
            format!("{target}/*")
        };
        let glob = globset::GlobBuilder::new(&pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| bad(e.kind().to_string()))?;
        let cluster = match cluster {
            Some("") => return Err(bad("nothing after `@`: name a cluster or `*`".into())),
            Some(cluster) => Some(
                Glob::new(cluster)
                    .map_err(|e| bad(e.kind().to_string()))?
                    .compile_matcher(),
            ),
            None => None,
        };
        Ok(TargetGlob {
            text: text.to_string(),
            matcher: glob.compile_matcher(),
            cluster,
        })
    }

    pub fn matches(&self, entry: &DatabaseEntry) -> bool {
        self.matches_at(&entry.target, &entry.cluster_name)
    }

    /// Whether `target` on the cluster the registry names `cluster_name` is selected.
    pub(crate) fn matches_at(&self, target: &TargetName, cluster_name: &str) -> bool {
        self.matcher.is_match(target.to_string())
            && self
                .cluster
                .as_ref()
                .is_none_or(|c| c.is_match(cluster_name))
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
    /// The entry of `env/database[@cluster]` as written on the command line: exactly one, so
    /// a target on many clusters must be narrowed to one of them.
    pub fn find_text(&self, text: &str) -> Result<(TargetName, &DatabaseEntry), RegistryError> {
        let (target_text, cluster) = match text.rsplit_once('@') {
            Some((target, cluster)) => (target, Some(cluster)),
            None => (text, None),
        };
        let target = parse_target(target_text).map_err(|_| RegistryError::Target(text.into()))?;
        let cluster = match cluster {
            Some(c) => Some(
                Glob::new(c)
                    .map_err(|e| RegistryError::TargetGlob {
                        text: text.to_string(),
                        reason: e.kind().to_string(),
                    })?
                    .compile_matcher(),
            ),
            None => None,
        };
        let found: Vec<&DatabaseEntry> = self
            .entries
            .iter()
            .filter(|e| e.target == target)
            .filter(|e| cluster.as_ref().is_none_or(|c| c.is_match(&e.cluster_name)))
            .collect();
        match found.as_slice() {
            [] => Err(self.no_match(text)),
            [entry] => Ok((target, entry)),
            [first, ..] => Err(RegistryError::Ambiguous {
                text: text.to_string(),
                target: target.to_string(),
                clusters: found.iter().map(|e| e.cluster_name.clone()).collect(),
                example: first.qualified(),
            }),
        }
    }

    /// The registry's name of a cluster (`host:port` when it has no entries, which lowering
    /// never produces).
    pub fn cluster_name(&self, cluster: &ClusterKey) -> String {
        self.entries
            .iter()
            .find(|e| &e.cluster == cluster)
            .map_or_else(|| cluster.to_string(), |e| e.cluster_name.clone())
    }

    /// Compiles `--target` globs; each must match at least one entry (active or not).
    pub fn select(&self, texts: &[String]) -> Result<Vec<TargetGlob>, RegistryError> {
        texts
            .iter()
            .map(|text| {
                let glob = TargetGlob::new(text)?;
                if self.entries.iter().any(|e| glob.matches(e)) {
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
            let mut known = format!(
                "envs: {}; targets: {}",
                envs.into_iter().collect::<Vec<_>>().join(", "),
                shown.join(", ")
            );
            // Only a glob naming a cluster needs them: without `@` every cluster is matched.
            if text.contains('@') {
                let clusters: BTreeSet<&str> = self
                    .entries
                    .iter()
                    .map(|e| e.cluster_name.as_str())
                    .collect();
                let mut shown: Vec<&str> = clusters.iter().take(SHOWN).copied().collect();
                let more = format!("and {} more", clusters.len().saturating_sub(SHOWN));
                if clusters.len() > SHOWN {
                    shown.push(&more);
                }
                known.push_str(&format!("; clusters: {}", shown.join(", ")));
            }
            known
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
                .filter(|(_, e)| compiled.matches(e))
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
pub(crate) fn parse_target(text: &str) -> Result<TargetName, RegistryError> {
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
        assert!(g.matches_at(&target("dev", "app_dev_main"), "h:5432"));
        assert!(!g.matches_at(&target("qa", "app_dev_main"), "h:5432"));
        let env_only = TargetGlob::new("qa").unwrap();
        assert!(env_only.matches_at(&target("qa", "anything"), "h:5432"));
        let all = TargetGlob::new("*/*").unwrap();
        assert!(all.matches_at(&target("prod", "x"), "h:5432"));
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
            cluster_name: "h:5432".into(),
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

    fn fleet() -> Registry {
        let entry = |name: &str, host: &str, db: &str| DatabaseEntry {
            target: target("prod", db),
            cluster: ClusterKey {
                host: host.into(),
                port: 5432,
            },
            cluster_name: name.into(),
            active: true,
            sslmode: None,
        };
        Registry {
            entries: vec![
                entry("eu-west", "pg-eu", "app"),
                entry("us-east", "pg-us", "app"),
                entry("us-east", "pg-us", "billing"),
            ],
        }
    }

    #[test]
    fn a_cluster_glob_after_at_narrows_a_target_to_clusters() {
        let registry = fleet();
        let picked = |text: &str| {
            let glob = TargetGlob::new(text).unwrap();
            registry
                .entries
                .iter()
                .filter(|e| glob.matches(e))
                .map(DatabaseEntry::qualified)
                .collect::<Vec<_>>()
        };
        assert_eq!(picked("prod/app"), ["prod/app@eu-west", "prod/app@us-east"]);
        assert_eq!(picked("prod/app@eu-*"), ["prod/app@eu-west"]);
        assert_eq!(
            picked("prod@us-east"),
            ["prod/app@us-east", "prod/billing@us-east"]
        );
        assert_eq!(picked("*/*@*"), picked("*/*"));
        assert!(TargetGlob::new("prod/app@").is_err());
        assert!(TargetGlob::new("prod/app@[").is_err());
        let error = registry.select(&["prod/app@ap-*".into()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "--target `prod/app@ap-*` matches no database in the registry; \
             envs: prod; targets: prod/app, prod/billing; clusters: eu-west, us-east"
        );
    }

    #[test]
    fn one_target_on_many_clusters_must_be_narrowed_to_one() {
        let registry = fleet();
        let error = registry.find_text("prod/app").unwrap_err();
        assert_eq!(
            error.to_string(),
            "target `prod/app` is on 2 clusters: eu-west, us-east; pick one with \
             --target prod/app@CLUSTER (a glob), e.g. prod/app@eu-west"
        );
        assert!(matches!(
            registry.find_text("prod/app@*"),
            Err(RegistryError::Ambiguous { .. })
        ));
        let (t, entry) = registry.find_text("prod/app@us-*").unwrap();
        assert_eq!(
            (t, entry.cluster.host.as_str()),
            (target("prod", "app"), "pg-us")
        );
        let (_, entry) = registry.find_text("prod/billing").unwrap();
        assert_eq!(entry.cluster_name, "us-east");
        assert!(matches!(
            registry.find_text("prod/app@ap-south"),
            Err(RegistryError::NoMatch { .. })
        ));
    }
}
