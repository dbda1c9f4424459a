//! Reads every cluster in scope and plans it: the one place where catalog and planner meet.
//!
//! Clusters are read in parallel, since each is a network round trip (and an unreachable host
//! costs a connect timeout); an unreachable or unreadable cluster becomes an error in its own
//! section of the plan while the others are still planned.

use crate::catalog::{self, CatalogError};
use crate::config::Lowered;
use crate::connection::{ConnectError, Connection, Connector};
use crate::model::privileges::DatabaseState;
use crate::model::TargetName;
use crate::model::{ClusterKey, CurrentCluster, DesiredCluster};
use crate::plan::privileges::DatabaseIndex;
use crate::plan::{diff_cluster, ClusterPlan, DiffInput, Plan, PlanError, SkippedRole};
use crate::registry::TargetGlob;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The admin connections of one cluster that was read, kept for apply.
pub struct ClusterConnections {
    /// One connection per target database; the first target's also runs role changes.
    pub by_database: BTreeMap<String, Connection>,
    pub role_database: String,
}

/// What one cluster's catalogs hold.
struct CatalogState {
    current: CurrentCluster,
    databases: BTreeMap<String, DatabaseState>,
}

/// Why a cluster could not be read.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{cluster}: database {database}: {error}")]
    Catalog {
        cluster: ClusterKey,
        database: String,
        error: CatalogError,
    },
    #[error("{0}: reading the cluster failed")]
    Panicked(ClusterKey),
}

/// A cluster's state, or why it could not be read.
type ReadResult = Result<(ClusterConnections, CatalogState), ReadError>;

pub struct Fleet {
    pub plan: Plan,
    /// Open admin connections of the clusters that were read, for apply to reuse.
    pub connections: BTreeMap<ClusterKey, ClusterConnections>,
}

fn is_selected(selection: &[TargetGlob], target: &TargetName) -> bool {
    selection.is_empty() || selection.iter().any(|g| g.matches(target))
}

/// Reads every cluster with a selected active target (all when `selection` is empty), in
/// parallel, and plans each.
pub fn plan_fleet(lowered: &Lowered, connector: &Connector, selection: &[TargetGlob]) -> Fleet {
    let selected = |t: &TargetName| is_selected(selection, t);
    let desired: BTreeMap<&ClusterKey, Cow<DesiredCluster>> = lowered
        .desired
        .iter()
        .map(|(key, cluster)| {
            // Narrowing copies the desired state; without a selection there is nothing to drop.
            let cluster = if selection.is_empty() {
                Cow::Borrowed(cluster)
            } else {
                Cow::Owned(cluster.narrowed(selected))
            };
            (key, cluster)
        })
        .filter(|(_, cluster)| !cluster.targets.is_empty())
        .collect();
    let results: Vec<ReadResult> = std::thread::scope(|scope| {
        let reads: Vec<_> = desired
            .iter()
            .map(|(key, cluster)| {
                let databases: Vec<String> =
                    cluster.targets.iter().map(|t| t.database.clone()).collect();
                let key = *key;
                scope.spawn(move || read(key, &databases, connector))
            })
            .collect();
        reads
            .into_iter()
            .zip(desired.keys())
            .map(|(handle, key)| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(ReadError::Panicked((*key).clone())))
            })
            .collect()
    });
    let mut clusters = Vec::new();
    let mut connections = BTreeMap::new();
    for ((key, cluster), result) in desired.iter().zip(results) {
        let key = (*key).clone();
        match result {
            Ok((read, state)) => {
                let indexes: BTreeMap<String, DatabaseIndex> = state
                    .databases
                    .iter()
                    .map(|(name, state)| (name.clone(), DatabaseIndex::new(state)))
                    .collect();
                clusters.push(diff_cluster(
                    key.clone(),
                    &DiffInput {
                        desired: cluster,
                        current: &state.current,
                        databases: &indexes,
                        ignore_roles: &lowered.ignore_roles,
                        narrowed: !selection.is_empty(),
                    },
                ));
                connections.insert(key, read);
            }
            Err(error) => {
                let targets: Vec<TargetName> = cluster.targets.iter().cloned().collect();
                clusters.push(ClusterPlan {
                    cluster: key,
                    targets: targets.clone(),
                    server_version_num: None,
                    roles: Vec::new(),
                    notes: Vec::new(),
                    errors: vec![PlanError::ClusterUnreadable {
                        targets,
                        reason: error.to_string(),
                    }],
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
    // Every database's privileges are read over a connection of its own, side by side with the
    // roles over the role connection: each is its own backend, and a fresh backend spends most
    // of a small read warming its caches. The role database's extra connection is closed after.
    let (first, current, privileges) = std::thread::scope(|scope| {
        let privileges: Vec<_> = databases
            .iter()
            .map(|database| {
                scope.spawn(move || -> Result<(Connection, DatabaseState), ReadError> {
                    let mut client = connector.connect(key, database)?;
                    let state = catalog::privileges::read_database(&mut client)
                        .map_err(|error| catalog_error(key, database, error))?;
                    Ok((client, state))
                })
            })
            .collect();
        let roles = connector
            .connect(key, &role_database)
            .map_err(ReadError::from)
            .and_then(|mut first| {
                let current = catalog::read_cluster(&mut first)
                    .map_err(|error| catalog_error(key, &role_database, error))?;
                Ok((first, current))
            });
        let privileges: Vec<_> = privileges
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(ReadError::Panicked(key.clone())))
            })
            .collect();
        roles.map(|(first, current)| (first, current, privileges))
    })?;
    let mut connections = BTreeMap::from([(role_database.clone(), first)]);
    let mut states = BTreeMap::new();
    for (database, read) in databases.iter().zip(privileges) {
        // A missing database is reported by the planner, which sees pg_database.
        if !current.databases.contains(database) {
            continue;
        }
        let (client, state) = read?;
        if *database != role_database {
            connections.insert(database.clone(), client);
        }
        states.insert(database.clone(), state);
    }
    Ok((
        ClusterConnections {
            by_database: connections,
            role_database,
        },
        CatalogState {
            current,
            databases: states,
        },
    ))
}

fn catalog_error(cluster: &ClusterKey, database: &str, error: CatalogError) -> ReadError {
    ReadError::Catalog {
        cluster: cluster.clone(),
        database: database.to_string(),
        error,
    }
}
