//! Reads every cluster in scope and plans it: the one place where catalog and planner meet.
//!
//! Clusters are read in parallel, since each is a network round trip (and an unreachable host
//! costs a connect timeout); an unreachable or unreadable cluster becomes an error in its own
//! section of the plan while the others are still planned. Before any catalog is read, each
//! cluster says which server it is: two registry addresses that reach one server would plan
//! its roles twice, against each other, so both are refused. For apply, each cluster's lock is
//! taken before its catalogs are read and kept with its connections (see `lock`). For saved
//! plans, each cluster read is fingerprinted when asked (`saved::fingerprint`). `import` reads one
//! cluster the same way, without planning it (`read_cluster_state`).

pub mod lock;

use crate::catalog::server::{read_identity, ServerIdentity};
use crate::catalog::{self, CatalogError};
use crate::config::Lowered;
use crate::connection::{ConnectError, Connection, Connector};
use crate::model::privileges::DatabaseState;
use crate::model::public::{PublicPolicy, PublicState};
use crate::model::TargetName;
use crate::model::{ClusterKey, CurrentCluster, DesiredCluster};
use crate::plan::privileges::DatabaseIndex;
use crate::plan::{
    diff_cluster, ClusterPlan, DiffInput, Plan, PlanError, RegistryTarget, SkippedRole,
};
use crate::progress::Progress;
use crate::registry::{DatabaseEntry, TargetGlob};
use crate::saved::fingerprint;
use lock::{ClusterLock, LockError, LockSettings};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

/// The admin connections of one cluster that was read, kept for apply.
pub struct ClusterConnections {
    /// One connection per target database; the first target's also runs role changes.
    pub by_database: BTreeMap<String, Connection>,
    pub role_database: String,
    /// pgroster's lock on the cluster, held until this is dropped (none for a read-only plan).
    pub lock: Option<ClusterLock>,
    /// Databases outside the targets that the plan needs (a dropped role's objects) and that
    /// could not be connected to, with why.
    pub unreachable: BTreeMap<String, String>,
}

/// Whether a fleet is read under pgroster's lock.
pub enum Locking<'a> {
    /// `plan`: read-only, takes no lock.
    None,
    /// apply: each cluster's lock is taken before its catalogs are read and held with its
    /// connections; `on_wait` is told which cluster is busy before waiting for it.
    Hold {
        settings: &'a LockSettings,
        on_wait: &'a dyn Fn(&str),
    },
}

/// What one cluster's catalogs hold.
struct CatalogState {
    current: CurrentCluster,
    databases: BTreeMap<String, DatabaseState>,
    /// PUBLIC's privileges and the system-schema grants, by database.
    public: BTreeMap<String, PublicState>,
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
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// A cluster's state, or why it could not be read.
type ReadResult = Result<(ClusterConnections, CatalogState), ReadError>;

pub struct Fleet {
    pub plan: Plan,
    /// Open admin connections of the clusters that were read, for apply to reuse.
    pub connections: BTreeMap<ClusterKey, ClusterConnections>,
    /// The fingerprint of each cluster that was read, under `Fingerprints::Take`: what a saved
    /// plan is checked against.
    pub fingerprints: BTreeMap<ClusterKey, String>,
}

/// Connects to the databases `plan`'s changes need beyond the targets that were read (a
/// dropped role is cleaned in every database that accepts connections), in parallel per
/// cluster. A database that cannot be reached is remembered with why: its unit then fails
/// with that reason, and the drop waits for the next apply.
pub fn open_databases(
    plan: &Plan,
    clusters: &mut BTreeMap<ClusterKey, ClusterConnections>,
    connector: &Connector,
    parallelism: usize,
) {
    let missing = |key: &ClusterKey, connections: &ClusterConnections| -> Vec<String> {
        let mut databases: Vec<String> = plan
            .clusters
            .iter()
            .filter(|c| &c.cluster == key)
            .flat_map(|c| c.roles.iter().flat_map(|r| &r.changes))
            .filter_map(|c| c.database())
            .filter(|d| !connections.by_database.contains_key(*d))
            .map(str::to_string)
            .collect();
        databases.sort();
        databases.dedup();
        databases
    };
    let jobs: Vec<(&ClusterKey, Vec<String>)> = clusters
        .iter()
        .map(|(key, connections)| (key, missing(key, connections)))
        .filter(|(_, missing)| !missing.is_empty())
        .collect();
    let mut opened = in_parallel(
        jobs,
        parallelism,
        |key, databases| {
            databases
                .into_iter()
                .map(|database| {
                    let connection = connector
                        .connect(key, &database)
                        .map_err(|error| error.to_string());
                    (database, connection)
                })
                .collect::<Vec<_>>()
        },
        |_| Vec::new(),
    );
    for (key, connections) in clusters.iter_mut() {
        for (database, connection) in opened.remove(key).into_iter().flatten() {
            match connection {
                Ok(connection) => {
                    connections.by_database.insert(database, connection);
                }
                Err(reason) => {
                    connections.unreachable.insert(database, reason);
                }
            }
        }
    }
}

fn is_selected(selection: &[TargetGlob], target: &TargetName, cluster_name: &str) -> bool {
    selection.is_empty() || selection.iter().any(|g| g.matches_at(target, cluster_name))
}

/// Whether `plan_fleet` fingerprints what it read: only a saved plan needs that (`plan --out`
/// writes the fingerprints, `apply FILE` compares them), and at 10,000 roles hashing the read
/// state is a visible part of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fingerprints {
    Take,
    Skip,
}

/// Reads every cluster with a selected active target (all when `selection` is empty), in
/// parallel, and plans each; under `locking`, only clusters whose lock was taken are read.
pub fn plan_fleet(
    lowered: &Lowered,
    connector: &Connector,
    selection: &[TargetGlob],
    locking: Locking<'_>,
    fingerprints_wanted: Fingerprints,
    progress: &dyn Progress,
) -> Fleet {
    let registry = &lowered.registry;
    let cluster_name = |key: &ClusterKey| {
        registry
            .entries
            .iter()
            .find(|e| &e.cluster == key)
            .map_or_else(|| key.to_string(), |e| e.cluster_name.clone())
    };
    let desired: BTreeMap<&ClusterKey, Cow<DesiredCluster>> = lowered
        .desired
        .iter()
        .map(|(key, cluster)| {
            // Narrowing copies the desired state; without a selection there is nothing to drop.
            let cluster = if selection.is_empty() {
                Cow::Borrowed(cluster)
            } else {
                let name = registry.cluster_name(key);
                Cow::Owned(cluster.narrowed(|t: &TargetName| is_selected(selection, t, &name)))
            };
            (key, cluster)
        })
        .filter(|(_, cluster)| !cluster.targets.is_empty())
        .collect();
    let Admitted {
        mut first,
        mut locks,
        mut blocked,
    } = admit(&desired, connector, &locking, lowered.parallelism);
    let jobs: Vec<_> = desired
        .iter()
        .filter(|(key, _)| !blocked.contains_key(**key))
        .map(|(key, cluster)| (*key, (databases(cluster), first.remove(*key))))
        .collect();
    progress.reading(jobs.len());
    let mut reads = in_parallel(
        jobs,
        lowered.parallelism,
        |key, (databases, role_connection)| {
            let policy = lowered.public_privileges.as_ref();
            let result = read(key, &databases, connector, role_connection, policy);
            progress.read(key);
            result
        },
        |key| Err(ReadError::Panicked(key.clone())),
    );
    let mut clusters = Vec::new();
    let now = jiff::Timestamp::now();
    let mut connections = BTreeMap::new();
    let mut fingerprints = BTreeMap::new();
    for (key, cluster) in &desired {
        let key = (*key).clone();
        let result = match reads.remove(&key) {
            Some(read) => read.map_err(|error| unreadable(targets_of(&desired, &key), &error)),
            None => Err(blocked.remove(&key).unwrap_or_else(|| {
                unreadable(
                    targets_of(&desired, &key),
                    &ReadError::Panicked(key.clone()),
                )
            })),
        };
        match result {
            Ok((mut read, state)) => {
                let indexes: BTreeMap<String, DatabaseIndex> = state
                    .databases
                    .iter()
                    .map(|(name, state)| (name.clone(), DatabaseIndex::new(state)))
                    .collect();
                clusters.push(diff_cluster(
                    key.clone(),
                    cluster_name(&key),
                    &DiffInput {
                        desired: cluster,
                        current: &state.current,
                        databases: &indexes,
                        public_policy: lowered.public_privileges.as_ref(),
                        public: &state.public,
                        ignore_roles: &lowered.ignore_roles,
                        revoke_ignored_memberships: lowered.revoke_ignored_memberships,
                        narrowed: !selection.is_empty(),
                        drops: &lowered.drops,
                        policy: &lowered.policy,
                        now,
                    },
                ));
                read.lock = locks.remove(&key);
                if fingerprints_wanted == Fingerprints::Take {
                    let read_state = fingerprint(&state.current, &state.databases, &state.public);
                    fingerprints.insert(key.clone(), read_state);
                }
                connections.insert(key, read);
            }
            Err(error) => {
                clusters.push(ClusterPlan {
                    name: cluster_name(&key),
                    cluster: key,
                    targets: cluster.targets.iter().cloned().collect(),
                    server_version_num: None,
                    roles: Vec::new(),
                    public: Vec::new(),
                    notes: Vec::new(),
                    unmanaged: Vec::new(),
                    expiring: Vec::new(),
                    errors: vec![error],
                });
            }
        }
    }
    // Registry order, as the user wrote the fleet down, whichever cluster was read first.
    clusters.sort_by_key(|c| registry.entries.iter().position(|e| e.cluster == c.cluster));
    let inactive: Vec<&DatabaseEntry> = registry
        .entries
        .iter()
        .filter(|e| !e.active && is_selected(selection, &e.target, &e.cluster_name))
        .collect();
    let registry_target = |e: &DatabaseEntry| RegistryTarget {
        target: e.target.clone(),
        cluster: e.cluster_name.clone(),
    };
    let inactive_targets = inactive.iter().map(|e| registry_target(e)).collect();
    // A skipped role is recorded by target: shown for each inactive entry of it.
    let skipped_roles = lowered
        .skipped
        .iter()
        .flat_map(|(role, target)| {
            inactive
                .iter()
                .filter(move |e| &e.target == target)
                .map(|e| SkippedRole {
                    role: role.clone(),
                    target: registry_target(e),
                })
        })
        .collect();
    Fleet {
        plan: Plan::new(clusters, inactive_targets, skipped_roles).with_policy(&lowered.policy),
        connections,
        fingerprints,
    }
}

/// The clusters that may be read, after each said which server it is and, under a lock, was
/// locked; the others, with why not.
struct Admitted {
    /// Role connections already open (none under a lock, whose first connection is the lock's).
    first: BTreeMap<ClusterKey, Connection>,
    locks: BTreeMap<ClusterKey, ClusterLock>,
    blocked: BTreeMap<ClusterKey, PlanError>,
}

/// Opens each cluster's first connection and reads which server it reached: to the lock
/// database under a lock, else the role connection that the read goes on with. Two clusters
/// that reach one server are both blocked; under a lock, the others are then locked.
fn admit(
    desired: &BTreeMap<&ClusterKey, Cow<DesiredCluster>>,
    connector: &Connector,
    locking: &Locking<'_>,
    parallelism: usize,
) -> Admitted {
    let lock_settings = match locking {
        Locking::Hold { settings, .. } => Some(*settings),
        Locking::None => None,
    };
    let opened = in_parallel(
        desired
            .iter()
            .map(|(key, cluster)| (*key, databases(cluster))),
        parallelism,
        |key, databases| open(key, &databases, connector, lock_settings),
        |key| Err(ReadError::Panicked(key.clone())),
    );
    let mut blocked: BTreeMap<ClusterKey, PlanError> = BTreeMap::new();
    let mut first: BTreeMap<ClusterKey, Connection> = BTreeMap::new();
    let mut identities = BTreeMap::new();
    for (key, result) in opened {
        match result {
            Ok((connection, identity)) => {
                first.insert(key.clone(), connection);
                identities.insert(key, identity);
            }
            Err(error) => {
                let targets = targets_of(desired, &key);
                blocked.insert(key, unreadable(targets, &error));
            }
        }
    }
    for (key, other) in same_servers(&identities) {
        first.remove(&key);
        let error = PlanError::SameServer {
            cluster: key.clone(),
            targets: targets_of(desired, &key),
            other_targets: targets_of(desired, &other),
            other,
        };
        blocked.insert(key, error);
    }
    let mut locks = BTreeMap::new();
    if let Locking::Hold { settings, on_wait } = locking {
        for (key, lock) in lock::lock_all(std::mem::take(&mut first), settings, *on_wait) {
            match lock {
                Ok(lock) => {
                    locks.insert(key, lock);
                }
                Err(error) => {
                    let targets = targets_of(desired, &key);
                    blocked.insert(key, unreadable(targets, &ReadError::Lock(error)));
                }
            }
        }
    }
    Admitted {
        first,
        locks,
        blocked,
    }
}

fn databases(cluster: &DesiredCluster) -> Vec<String> {
    cluster.targets.iter().map(|t| t.database.clone()).collect()
}

/// Runs `work` on every cluster's job, up to `limit` at once, each on a thread:
/// each is network round trips, and an unreachable host costs a whole connect timeout. A job
/// whose thread panicked gives `panicked`'s value.
pub(crate) fn in_parallel<'k, J: Send, T: Send>(
    jobs: impl IntoIterator<Item = (&'k ClusterKey, J)>,
    limit: usize,
    work: impl Fn(&ClusterKey, J) -> T + Sync,
    panicked: impl Fn(&ClusterKey) -> T + Sync,
) -> BTreeMap<ClusterKey, T> {
    let jobs: Vec<(&ClusterKey, J)> = jobs.into_iter().collect();
    let workers = limit.clamp(1, jobs.len().max(1));
    let queue = Mutex::new(jobs.into_iter());
    let results = Mutex::new(BTreeMap::new());
    let (work, panicked) = (&work, &panicked);
    let worker = || loop {
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
        let Some((key, job)) = next else {
            return;
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(key, job)))
            .unwrap_or_else(|_| panicked(key));
        results
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), result);
    };
    // The calling thread is one of the workers, so one cluster is read where the config was:
    // its catalog reuses the memory parsing freed instead of filling a second malloc arena.
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(worker);
        }
        worker();
    });
    results.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// The cluster's first connection, and which server it reached: to the lock database under a
/// lock, else to the role database (the first of `databases`).
fn open(
    key: &ClusterKey,
    databases: &[String],
    connector: &Connector,
    lock_settings: Option<&LockSettings>,
) -> Result<(Connection, ServerIdentity), ReadError> {
    let (mut connection, database) = match lock_settings {
        Some(settings) => (
            lock::connect(connector, key, settings)?,
            settings.database.as_str(),
        ),
        None => {
            let database = databases.first().map_or("", String::as_str);
            (connector.connect(key, database)?, database)
        }
    };
    let identity =
        read_identity(&mut connection).map_err(|error| catalog_error(key, database, error))?;
    Ok((connection, identity))
}

/// Each cluster that reaches the same server as another, with (one of) the other(s).
fn same_servers(
    identities: &BTreeMap<ClusterKey, ServerIdentity>,
) -> Vec<(ClusterKey, ClusterKey)> {
    let mut by_server: HashMap<&ServerIdentity, Vec<&ClusterKey>> = HashMap::new();
    for (key, identity) in identities {
        by_server.entry(identity).or_default().push(key);
    }
    let mut pairs: Vec<(ClusterKey, ClusterKey)> = by_server
        .values()
        .filter(|keys| keys.len() > 1)
        .flat_map(|keys| {
            keys.iter().enumerate().map(|(i, key)| {
                let other = keys[if i == 0 { 1 } else { 0 }];
                ((*key).clone(), other.clone())
            })
        })
        .collect();
    pairs.sort();
    pairs
}

fn targets_of(
    desired: &BTreeMap<&ClusterKey, Cow<DesiredCluster>>,
    key: &ClusterKey,
) -> Vec<TargetName> {
    desired
        .get(key)
        .map(|cluster| cluster.targets.iter().cloned().collect())
        .unwrap_or_default()
}

fn unreadable(targets: Vec<TargetName>, error: &ReadError) -> PlanError {
    PlanError::ClusterUnreadable {
        targets,
        reason: error.to_string(),
    }
}

fn read(
    key: &ClusterKey,
    databases: &[String],
    connector: &Connector,
    role_connection: Option<Connection>,
    policy: Option<&PublicPolicy>,
) -> ReadResult {
    let role_database = databases.first().cloned().unwrap_or_default();
    // Every database's privileges are read over a connection of its own, side by side with the
    // roles over the role connection: each is its own backend, and a fresh backend spends most
    // of a small read warming its caches. The role database's extra connection is closed after.
    let (first, current, privileges) = std::thread::scope(|scope| {
        let privileges: Vec<_> = databases
            .iter()
            .map(|database| {
                scope.spawn(
                    move || -> Result<(Connection, (DatabaseState, PublicState)), ReadError> {
                        let mut client = connector.connect(key, database)?;
                        let state = catalog::privileges::read_database(&mut client)
                            .map_err(|error| catalog_error(key, database, error))?;
                        let public =
                            catalog::public::read_database(&mut client, &state.database, policy)
                                .map_err(|error| catalog_error(key, database, error))?;
                        Ok((client, (state, public)))
                    },
                )
            })
            .collect();
        let roles = role_connection
            .map_or_else(|| connector.connect(key, &role_database), Ok)
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
    let mut public = BTreeMap::new();
    for (database, read) in databases.iter().zip(privileges) {
        // A missing database is reported by the planner, which sees pg_database.
        if !current.databases.contains(database) {
            continue;
        }
        let (client, (state, public_state)) = read?;
        if *database != role_database {
            connections.insert(database.clone(), client);
        }
        states.insert(database.clone(), state);
        public.insert(database.clone(), public_state);
    }
    Ok((
        ClusterConnections {
            by_database: connections,
            role_database,
            lock: None,
            unreachable: BTreeMap::new(),
        },
        CatalogState {
            current,
            databases: states,
            public,
        },
    ))
}

/// What `import` reads of one cluster: its roles, and the privileges of each of its active
/// registered databases that exists (by name).
pub struct ClusterState {
    pub current: CurrentCluster,
    pub databases: BTreeMap<String, DatabaseState>,
}

/// Why `import` could not read a cluster.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ClusterReadError(ReadError);

/// Reads one cluster as `plan` does, without a lock and without planning: the catalogs of its
/// active registered databases. For `import`, which declares what is there.
pub fn read_cluster_state(
    lowered: &Lowered,
    connector: &Connector,
    cluster: &ClusterKey,
) -> Result<ClusterState, ClusterReadError> {
    let databases: Vec<String> = lowered
        .registry
        .active_by_cluster()
        .get(cluster)
        .into_iter()
        .flatten()
        .map(|entry| entry.target.database.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let (_, state) = read(cluster, &databases, connector, None, None).map_err(ClusterReadError)?;
    Ok(ClusterState {
        current: state.current,
        databases: state.databases,
    })
}

/// Reads every cluster with a selected active target (all when `selection` is empty), up to
/// `parallelism` at once, as `read_cluster_state` reads one: for `report`, which plans nothing.
pub fn read_fleet_states(
    lowered: &Lowered,
    connector: &Connector,
    selection: &[TargetGlob],
    progress: &dyn Progress,
) -> BTreeMap<ClusterKey, Result<ClusterState, ClusterReadError>> {
    let clusters: Vec<ClusterKey> = lowered
        .registry
        .active_by_cluster()
        .into_iter()
        .filter(|(_, entries)| {
            entries
                .iter()
                .any(|e| is_selected(selection, &e.target, &e.cluster_name))
        })
        .map(|(key, _)| key)
        .collect();
    progress.reading(clusters.len());
    in_parallel(
        clusters.iter().map(|key| (key, ())),
        lowered.parallelism,
        |key, ()| {
            let state = read_cluster_state(lowered, connector, key);
            progress.read(key);
            state
        },
        |key| Err(ClusterReadError(ReadError::Panicked(key.clone()))),
    )
}

fn catalog_error(cluster: &ClusterKey, database: &str, error: CatalogError) -> ReadError {
    ReadError::Catalog {
        cluster: cluster.clone(),
        database: database.to_string(),
        error,
    }
}
