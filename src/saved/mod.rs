//! Saved plans: `plan --out FILE` writes a plan with what it was made from (the config files'
//! digests, the `--target` selection, each cluster's state fingerprint); `apply FILE` reads it
//! back and runs exactly that plan, only while the config and every cluster it covers still
//! read as they did at plan time (`SavedPlan::check`).
//!
//! The file holds no secret: a plan names where a password comes from, never its value, and
//! generated passwords are made at apply time.

mod digest;

pub use digest::{fingerprint, ConfigDigest};

use crate::model::ClusterKey;
use crate::plan::{ClusterPlan, Plan};
use crate::render::json::PlanDocument;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped when the file's layout changes; a file of another version is refused.
pub const SAVED_FORMAT_VERSION: u32 = 1;

/// The pgroster that made a plan is the one that applies it: another version may plan, order
/// or render the same changes differently.
const PGROSTER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A plan as written to its file, documented by `schema/saved-plan.schema.json`.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SavedPlan {
    pub saved_format_version: u32,
    pub pgroster_version: String,
    /// When the plan was made, UTC (`YYYY-MM-DDTHH:MM:SSZ`).
    pub made_at: String,
    /// The `--target` globs it was made with; empty for every target.
    pub selection: Vec<String>,
    pub config: ConfigDigest,
    /// Each cluster that was read, with the fingerprint of its state.
    pub clusters: Vec<ClusterState>,
    /// As `plan --format json` prints it.
    #[serde(serialize_with = "plan_document")]
    #[schemars(with = "PlanDocument<'static>")]
    pub plan: Plan,
}

/// One cluster's fingerprint at plan time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClusterState {
    pub cluster: ClusterKey,
    pub fingerprint: String,
}

/// Now, UTC, as `made_at` is written.
pub fn made_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn plan_document<S: serde::Serializer>(plan: &Plan, serializer: S) -> Result<S::Ok, S::Error> {
    PlanDocument::new(plan).serialize(serializer)
}

/// Why a saved plan cannot be written, read or applied. Nothing was changed on any cluster.
#[derive(Debug, thiserror::Error)]
pub enum SavedError {
    #[error("{}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: not a saved plan: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "{}: a saved plan of format {found}, and this pgroster reads format {SAVED_FORMAT_VERSION}; \
         plan again",
        .path.display()
    )]
    FormatVersion { path: PathBuf, found: u32 },
    #[error(
        "{}: made by pgroster {made_with}, and this is pgroster {PGROSTER_VERSION}; \
         plan again with this version",
        .path.display()
    )]
    OtherVersion { path: PathBuf, made_with: String },
    #[error(
        "the saved plan has errors on {}, so it cannot be applied; fix them and plan again",
        clusters_text(.clusters)
    )]
    HasErrors { clusters: Vec<ClusterKey> },
    #[error(
        "the config changed since the plan was made ({}); plan again",
        .differences.join(", ")
    )]
    ConfigChanged { differences: Vec<String> },
    #[error(
        "the saved plan is stale: {}; plan again",
        .clusters.iter().map(|(key, why)| format!("cluster {key} {why}")).collect::<Vec<_>>().join("; ")
    )]
    Stale { clusters: Vec<(ClusterKey, String)> },
}

fn clusters_text(clusters: &[ClusterKey]) -> String {
    let names: Vec<String> = clusters.iter().map(|c| format!("cluster {c}")).collect();
    names.join(", ")
}

/// What a cluster reads like now, for `SavedPlan::check`.
pub struct ReadNow<'a> {
    pub config: &'a ConfigDigest,
    /// The plan made now, under pgroster's lock, from the same selection.
    pub plan: &'a Plan,
    /// The fingerprint of each cluster read now.
    pub fingerprints: &'a BTreeMap<ClusterKey, String>,
}

impl SavedPlan {
    /// A plan made at `made_at` from `config` with `selection`, and the fingerprints of the
    /// clusters it read.
    pub fn new(
        plan: Plan,
        selection: &[String],
        config: ConfigDigest,
        fingerprints: &BTreeMap<ClusterKey, String>,
        made_at: String,
    ) -> SavedPlan {
        SavedPlan {
            saved_format_version: SAVED_FORMAT_VERSION,
            pgroster_version: PGROSTER_VERSION.to_string(),
            made_at,
            selection: selection.to_vec(),
            config,
            clusters: fingerprints
                .iter()
                .map(|(cluster, fingerprint)| ClusterState {
                    cluster: cluster.clone(),
                    fingerprint: fingerprint.clone(),
                })
                .collect(),
            plan,
        }
    }

    /// Writes the file whole or not at all: a temporary file beside it, renamed over it. An
    /// existing file is replaced, as `terraform plan -out` does.
    pub fn write(&self, path: &Path) -> Result<(), SavedError> {
        let io = |error| SavedError::Io {
            path: path.to_path_buf(),
            error,
        };
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| io(e.into()))?;
        json.push(b'\n');
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map_or_else(|| "plan".into(), |n| n.to_string_lossy().into_owned());
        let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = std::fs::File::create(&temporary).and_then(|mut file| {
            file.write_all(&json)?;
            file.sync_all()
        });
        if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
            let _ = std::fs::remove_file(&temporary);
            return Err(io(error));
        }
        Ok(())
    }

    /// Reads a saved plan, refusing one of another format or pgroster version.
    pub fn read(path: &Path) -> Result<SavedPlan, SavedError> {
        let text = std::fs::read_to_string(path).map_err(|error| SavedError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let unreadable = |reason: String| SavedError::Unreadable {
            path: path.to_path_buf(),
            reason,
        };
        // The version first: a file of another format may not parse as this one.
        #[derive(Deserialize)]
        struct Versions {
            saved_format_version: u32,
            pgroster_version: String,
        }
        let versions: Versions =
            serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
        if versions.saved_format_version != SAVED_FORMAT_VERSION {
            return Err(SavedError::FormatVersion {
                path: path.to_path_buf(),
                found: versions.saved_format_version,
            });
        }
        if versions.pgroster_version != PGROSTER_VERSION {
            return Err(SavedError::OtherVersion {
                path: path.to_path_buf(),
                made_with: versions.pgroster_version,
            });
        }
        serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))
    }

    /// Refuses a plan that has errors: it was never a plan that could run whole.
    pub fn check_runnable(&self) -> Result<(), SavedError> {
        let clusters: Vec<ClusterKey> = self
            .plan
            .clusters
            .iter()
            .filter(|c| !c.errors.is_empty())
            .map(|c| c.cluster.clone())
            .collect();
        if clusters.is_empty() {
            Ok(())
        } else {
            Err(SavedError::HasErrors { clusters })
        }
    }

    /// Refuses a config whose files differ from the ones the plan was made from.
    pub fn check_config(&self, now: &ConfigDigest) -> Result<(), SavedError> {
        if self.config.digest == now.digest {
            return Ok(());
        }
        let mut differences = self.config.differences(now);
        if differences.is_empty() {
            differences.push("the set of files read".into());
        }
        Err(SavedError::ConfigChanged { differences })
    }

    /// Checks, for every cluster the plan covers, that it reads now as it did at plan time,
    /// and that the plan made now (under the lock apply holds) has exactly the saved changes.
    /// Every cluster is checked, so the error names all that differ.
    pub fn check(&self, now: &ReadNow<'_>) -> Result<(), SavedError> {
        self.check_runnable()?;
        self.check_config(now.config)?;
        let mut stale: Vec<(ClusterKey, String)> = Vec::new();
        let fresh: BTreeMap<&ClusterKey, _> =
            now.plan.clusters.iter().map(|c| (&c.cluster, c)).collect();
        for saved in &self.clusters {
            let why = match now.fingerprints.get(&saved.cluster) {
                None => {
                    let errors: Vec<String> = fresh
                        .get(&saved.cluster)
                        .map(|c| c.errors.iter().map(ToString::to_string).collect())
                        .unwrap_or_default();
                    Some(format!("could not be read: {}", errors.join("; ")))
                }
                Some(fingerprint) if *fingerprint != saved.fingerprint => {
                    Some("changed since the plan was made".to_string())
                }
                Some(_) => None,
            };
            if let Some(why) = why {
                stale.push((saved.cluster.clone(), why));
            }
        }
        for cluster in now.fingerprints.keys() {
            if !self.clusters.iter().any(|c| c.cluster == *cluster) {
                stale.push((cluster.clone(), "is not in the saved plan".into()));
            }
        }
        if stale.is_empty() {
            // The fingerprints match, so the planner sees what it saw and plans the same: other
            // changes in the file mean it was edited (the file is not signed) or the fingerprint
            // missed something, and either way they are not what was reviewed. Everything but
            // the notes is compared, so that a part of a cluster's plan added later is too.
            for saved in &self.plan.clusters {
                let same = fresh
                    .get(&saved.cluster)
                    .is_some_and(|now| same_but_notes(now, saved));
                if !same {
                    stale.push((
                        saved.cluster.clone(),
                        "has other changes than the plan made now from the same config and state"
                            .into(),
                    ));
                }
            }
        }
        if stale.is_empty() {
            Ok(())
        } else {
            Err(SavedError::Stale { clusters: stale })
        }
    }
}

/// Whether two plans of a cluster are the same but for their notes, which say and change
/// nothing.
fn same_but_notes(one: &ClusterPlan, other: &ClusterPlan) -> bool {
    let without_notes = |plan: &ClusterPlan| ClusterPlan {
        notes: Vec::new(),
        ..plan.clone()
    };
    without_notes(one) == without_notes(other)
}

#[cfg(test)]
mod tests;
