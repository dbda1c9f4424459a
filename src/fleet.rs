//! Reads every cluster in scope and plans it: the one place where catalog and planner meet.
//!
//! Clusters are read in parallel, since each is a network round trip (and an unreachable host
//! costs a connect timeout); an unreachable or unreadable cluster becomes an error in its own
//! section of the plan while the others are still planned.

use crate::catalog;
use crate::config::Lowered;
use crate::connection::{Connection, Connector};
use crate::model::privileges::DatabaseState;
use crate::model::TargetName;
use crate::model::{ClusterKey, CurrentCluster, DesiredCluster};
use crate::plan::privileges::DatabaseIndex;
use crate::plan::{diff_cluster, ClusterPlan, DiffInput, Plan, SkippedRole};
use crate::registry::{Registry, TargetGlob};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The connections apply will reuse, from one cluster that was read.
pub struct ClusterRead {
    /// One connection per target database; the first target's also runs role changes.
    pub connections: BTreeMap<String, Connection>,
    pub role_database: String,
}

/// What one cluster's catalogs hold.
pub struct CatalogState {
    current: CurrentCluster,
    databases: BTreeMap<String, DatabaseState>,
}

/// A cluster's state, or why it could not be read.
type ReadResult = Result<(ClusterRead, CatalogState), String>;

pub struct Fleet {
    pub plan: Plan,
    /// Open admin connections of the clusters that were read, for apply to reuse.
    pub connections: BTreeMap<ClusterKey, ClusterRead>,
    /// The state the plan was made from, kept until the caller decides how to let go of it.
    pub catalog: Vec<CatalogState>,
}

/// Cluster reads in flight. They need only the registry, so they run while the roles are
/// still being lowered: at 10,000 roles both take tens of milliseconds.
pub struct PendingReads {
    reads: Vec<(ClusterKey, JoinHandle<ReadResult>)>,
}

/// Starts reading every cluster with a selected active target (all when `selection` is empty).
pub fn start_reads(
    registry: &Registry,
    connector: &Arc<Connector>,
    selection: &[TargetGlob],
) -> PendingReads {
    let reads = registry
        .active_by_cluster()
        .into_iter()
        .filter_map(|(key, entries)| {
            let targets: BTreeSet<&TargetName> = entries
                .iter()
                .map(|e| &e.target)
                .filter(|t| is_selected(selection, t))
                .collect();
            let databases: Vec<String> = targets.iter().map(|t| t.database.clone()).collect();
            if databases.is_empty() {
                return None;
            }
            let connector = Arc::clone(connector);
            let thread_key = key.clone();
            let handle = std::thread::spawn(move || read(&thread_key, &databases, &connector));
            Some((key, handle))
        })
        .collect();
    PendingReads { reads }
}

fn is_selected(selection: &[TargetGlob], target: &TargetName) -> bool {
    selection.is_empty() || selection.iter().any(|g| g.matches(target))
}

/// Plans every cluster with a selected target from the reads `start_reads` began.
pub fn plan_fleet(lowered: &Lowered, reads: PendingReads, selection: &[TargetGlob]) -> Fleet {
    let selected = |t: &TargetName| is_selected(selection, t);
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
    let mut results: BTreeMap<ClusterKey, ReadResult> = reads
        .reads
        .into_iter()
        .map(|(key, handle)| {
            let result = handle
                .join()
                .unwrap_or_else(|_| Err(format!("{key}: reading the cluster failed")));
            (key, result)
        })
        .collect();
    let mut clusters = Vec::new();
    let mut connections = BTreeMap::new();
    let mut catalog = Vec::new();
    // Every desired cluster gets a section: one whose read was never started is an error in
    // the plan, not a cluster silently left out of it.
    for (key, cluster) in &desired {
        let result = results
            .remove(key)
            .unwrap_or_else(|| Err(format!("{key}: the cluster was not read")));
        let key = key.clone();
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
                drop(indexes);
                connections.insert(key, read);
                catalog.push(state);
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
        catalog,
    }
}

impl Fleet {
    /// Closes the admin connections; each says goodbye to its server.
    pub fn close_connections(&mut self) {
        for read in self.connections.values_mut() {
            read.connections.clear();
        }
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
                scope.spawn(move || -> Result<(Connection, DatabaseState), String> {
                    let mut client = connector
                        .connect(key, database)
                        .map_err(|e| e.to_string())?;
                    let state = catalog::privileges::read_database(&mut client)
                        .map_err(|e| format!("{key}: database {database}: {e}"))?;
                    Ok((client, state))
                })
            })
            .collect();
        let roles = connector
            .connect(key, &role_database)
            .map_err(|e| e.to_string())
            .and_then(|mut first| {
                let current = catalog::read_cluster(&mut first)
                    .map_err(|e| format!("{key}: database {role_database}: {e}"))?;
                Ok((first, current))
            });
        let privileges: Vec<_> = privileges
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(format!("{key}: reading a database failed")))
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
        ClusterRead {
            connections,
            role_database,
        },
        CatalogState {
            current,
            databases: states,
        },
    ))
}
