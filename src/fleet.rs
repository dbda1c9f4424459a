//! Reads every cluster in scope and plans it: the one place where catalog and planner meet.
//!
//! Clusters are read in parallel, since each is a network round trip (and an unreachable host
//! costs a connect timeout); an unreachable or unreadable cluster becomes an error in its own
//! section of the plan while the others are still planned.

use crate::catalog;
use crate::config::Lowered;
use crate::connection::{Connection, Connector};
use crate::model::privileges::DatabaseState;
use crate::model::{ClusterKey, CurrentCluster, DesiredCluster};
use crate::plan::privileges::DatabaseIndex;
use crate::plan::{diff_cluster, ClusterPlan, DiffInput, Plan, SkippedRole};
use crate::registry::TargetGlob;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// What was read from one cluster, with the connections apply will reuse.
pub struct ClusterRead {
    /// One connection per target database; the first target's also runs role changes.
    pub connections: BTreeMap<String, Connection>,
    pub role_database: String,
    current: CurrentCluster,
    databases: BTreeMap<String, DatabaseState>,
}

/// A cluster's state, or why it could not be read.
type ReadResult = Result<ClusterRead, String>;

pub struct Fleet {
    pub plan: Plan,
    /// Open admin connections of the clusters that were read, for apply to reuse.
    pub connections: BTreeMap<ClusterKey, ClusterRead>,
}

/// Plans every cluster with a selected target (all when `selection` is empty).
pub fn plan_fleet(lowered: &Lowered, connector: &Connector, selection: &[TargetGlob]) -> Fleet {
    let selected = |t: &crate::model::TargetName| {
        selection.is_empty() || selection.iter().any(|g| g.matches(t))
    };
    let desired: BTreeMap<ClusterKey, Cow<DesiredCluster>> = lowered
        .desired
        .iter()
        .map(|(key, cluster)| {
            // Narrowing copies the desired state; without a selection there is nothing to drop.
            let cluster = if selection.is_empty() {
                Cow::Borrowed(cluster)
            } else {
                Cow::Owned(cluster.narrowed(selected))
            };
            (key.clone(), cluster)
        })
        .filter(|(_, cluster)| !cluster.targets.is_empty())
        .collect();
    let results: Vec<(ClusterKey, ReadResult)> = std::thread::scope(|scope| {
        let handles: Vec<_> = desired
            .iter()
            .map(|(key, cluster)| {
                let key = key.clone();
                let databases: Vec<String> =
                    cluster.targets.iter().map(|t| t.database.clone()).collect();
                scope.spawn(move || {
                    let result = read(&key, &databases, connector);
                    (key, result)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut clusters = Vec::new();
    let mut connections = BTreeMap::new();
    for (key, result) in results {
        let Some(cluster) = desired.get(&key) else {
            continue;
        };
        match result {
            Ok(read) => {
                let indexes: BTreeMap<String, DatabaseIndex> = read
                    .databases
                    .iter()
                    .map(|(name, state)| (name.clone(), DatabaseIndex::new(state)))
                    .collect();
                clusters.push(diff_cluster(
                    key.clone(),
                    &DiffInput {
                        desired: cluster,
                        current: &read.current,
                        databases: &indexes,
                        ignore_roles: &lowered.ignore_roles,
                        narrowed: !selection.is_empty(),
                    },
                ));
                drop(indexes);
                connections.insert(key, read);
            }
            Err(error) => {
                let targets: Vec<String> =
                    cluster.targets.iter().map(ToString::to_string).collect();
                clusters.push(ClusterPlan {
                    cluster: key,
                    targets: cluster.targets.iter().cloned().collect(),
                    server_version_num: None,
                    roles: Vec::new(),
                    notes: Vec::new(),
                    errors: vec![format!("targets {}: {error}", targets.join(", "))],
                });
            }
        }
    }
    let inactive_targets = lowered
        .registry
        .entries
        .iter()
        .filter(|e| !e.active && selected(&e.target))
        .map(|e| e.target.clone())
        .collect();
    let skipped_roles = lowered
        .skipped
        .iter()
        .filter(|(_, t)| selected(t))
        .map(|(role, target)| SkippedRole {
            role: role.clone(),
            target: target.clone(),
        })
        .collect();
    Fleet {
        plan: Plan::new(clusters, inactive_targets, skipped_roles),
        connections,
    }
}

fn read(key: &ClusterKey, databases: &[String], connector: &Connector) -> ReadResult {
    let role_database = databases.first().cloned().unwrap_or_default();
    let mut first = connector
        .connect(key, &role_database)
        .map_err(|e| e.to_string())?;
    let current = catalog::read_cluster(&mut first).map_err(|e| format!("{key}: {e}"))?;
    let mut connections = BTreeMap::from([(role_database.clone(), first)]);
    let mut states = BTreeMap::new();
    // A missing database is reported by the planner, which sees pg_database.
    for database in databases.iter().filter(|d| current.databases.contains(*d)) {
        if !connections.contains_key(database) {
            let client = connector
                .connect(key, database)
                .map_err(|e| e.to_string())?;
            connections.insert(database.clone(), client);
        }
        let Some(client) = connections.get_mut(database) else {
            continue;
        };
        let state = catalog::privileges::read_database(client)
            .map_err(|e| format!("{key}: database {database}: {e}"))?;
        states.insert(database.clone(), state);
    }
    Ok(ClusterRead {
        connections,
        role_database,
        current,
        databases: states,
    })
}
