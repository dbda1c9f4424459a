//! pgroster's cluster-wide lock. apply and reset hold a session advisory lock in one fixed
//! database of each cluster (`lock_database`) from before its catalogs are read until the run
//! is over, so a second run plans against what the first committed instead of replaying it.
//! One fixed database, because advisory locks are per database while roles are per cluster.
//! The lock lives as long as its connection: dropping it, or the process dying, releases it.
//!
//! Several clusters: every lock is tried at once; when one is busy, those taken are released
//! and all are then taken waiting, one by one in `ClusterKey` order, so two runs over
//! overlapping clusters never each hold a lock the other waits for.

use crate::catalog::server::{self, LockHolder};
use crate::connection::{describe_error, ConnectError, Connection, Connector};
use crate::model::ClusterKey;
use crate::render::ddl;
use postgres::error::SqlState;
use std::collections::BTreeMap;

/// Where the lock is taken and how long a run waits for it (`lock_database`, `lock_timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockSettings {
    pub database: String,
    /// Milliseconds; 0 waits for ever, as PostgreSQL's `lock_timeout` does.
    timeout_ms: u64,
    /// As written, for messages.
    timeout: String,
}

impl LockSettings {
    pub const DEFAULT_DATABASE: &'static str = "postgres";
    pub const DEFAULT_TIMEOUT: &'static str = "5min";

    /// The settings as written, or the setting that cannot be used and why.
    pub fn new(
        database: Option<&str>,
        timeout: Option<&str>,
    ) -> Result<LockSettings, (&'static str, String)> {
        let database = database.unwrap_or(Self::DEFAULT_DATABASE);
        if database.is_empty() {
            return Err(("lock_database", "lock_database must name a database".into()));
        }
        let timeout = timeout.unwrap_or(Self::DEFAULT_TIMEOUT);
        let timeout_ms = parse_timeout(timeout).ok_or_else(|| {
            let message = format!(
                "lock_timeout `{timeout}` is not a time PostgreSQL accepts: write a whole \
                 number with ms, s, min, h or d (such as 5min), at most 24 days"
            );
            ("lock_timeout", message)
        })?;
        Ok(LockSettings {
            database: database.to_string(),
            timeout_ms,
            timeout: timeout.to_string(),
        })
    }
}

impl Default for LockSettings {
    fn default() -> Self {
        LockSettings {
            database: Self::DEFAULT_DATABASE.into(),
            timeout_ms: 5 * 60 * 1000,
            timeout: Self::DEFAULT_TIMEOUT.into(),
        }
    }
}

/// PostgreSQL's units for a time setting: a whole number and `ms`, `s`, `min`, `h` or `d`,
/// without a unit milliseconds; at most `i32::MAX` milliseconds (docs: Server Configuration,
/// Parameter Names and Values).
fn parse_timeout(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..digits].parse().ok()?;
    let unit: u64 = match text[digits..].trim_start() {
        "" | "ms" => 1,
        "s" => 1000,
        "min" => 60 * 1000,
        "h" => 60 * 60 * 1000,
        "d" => 24 * 60 * 60 * 1000,
        _ => return None,
    };
    number
        .checked_mul(unit)
        .filter(|ms| *ms <= i32::MAX.unsigned_abs().into())
}

/// One cluster's lock, held while this lives.
pub struct ClusterLock {
    _connection: Connection,
}

/// Why a cluster's lock was not taken; the cluster is then neither read nor changed.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "cannot take pgroster's lock: the lock database \"{database}\" (setting lock_database) \
         cannot be reached: {reason}"
    )]
    Unreachable { database: String, reason: String },
    #[error(
        "another pgroster run held the lock on this cluster for longer than lock_timeout \
         ({timeout}); nothing was read or changed here, run again once it is done"
    )]
    TimedOut { timeout: String },
    #[error("taking pgroster's lock in database \"{database}\" failed: {reason}")]
    Failed { database: String, reason: String },
}

/// A connection to the cluster's lock database, not locked yet.
pub(crate) fn connect(
    connector: &Connector,
    cluster: &ClusterKey,
    settings: &LockSettings,
) -> Result<Connection, LockError> {
    connector
        .connect(cluster, &settings.database)
        .map_err(|error: ConnectError| LockError::Unreachable {
            database: settings.database.clone(),
            reason: error.to_string(),
        })
}

/// Takes the lock of one cluster, waiting for it when busy.
pub fn lock_cluster(
    connector: &Connector,
    cluster: &ClusterKey,
    settings: &LockSettings,
    on_wait: &dyn Fn(&str),
) -> Result<ClusterLock, LockError> {
    let connection = connect(connector, cluster, settings)?;
    let mut locks = lock_all(
        BTreeMap::from([(cluster.clone(), connection)]),
        settings,
        on_wait,
    );
    locks
        .remove(cluster)
        .unwrap_or_else(|| Err(failed(settings, "the lock was never tried".into())))
}

/// Takes the lock of every cluster over its lock connection: all tried at once; when any is
/// busy, all are released and taken waiting in `ClusterKey` order. `on_wait` is told once for
/// each cluster waited for.
pub(crate) fn lock_all(
    mut connections: BTreeMap<ClusterKey, Connection>,
    settings: &LockSettings,
    on_wait: &dyn Fn(&str),
) -> BTreeMap<ClusterKey, Result<ClusterLock, LockError>> {
    // A try is one short query: every cluster at once.
    let tried = super::in_parallel(
        connections.iter_mut(),
        usize::MAX,
        |_, connection| try_lock(connection, settings),
        |_| Err(failed(settings, "the lock thread panicked".into())),
    );
    let busy = tried.iter().any(|(_, result)| matches!(result, Ok(false)));
    let mut results = BTreeMap::new();
    for (key, result) in tried {
        let released = match result {
            Ok(true) if busy => connections.get_mut(&key).map_or(Ok(()), |connection| {
                connection
                    .batch_execute(&ddl::unlock())
                    .map_err(|e| failed(settings, describe_error(&e)))
            }),
            Ok(_) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = released {
            connections.remove(&key);
            results.insert(key, Err(error));
        }
    }
    for (key, mut connection) in connections {
        let locked = if busy {
            wait_for(&key, &mut connection, settings, on_wait)
        } else {
            Ok(())
        };
        results.insert(
            key,
            locked.map(|()| ClusterLock {
                _connection: connection,
            }),
        );
    }
    results
}

fn try_lock(connection: &mut Connection, settings: &LockSettings) -> Result<bool, LockError> {
    connection
        .query_one(&ddl::try_lock(), &[])
        .and_then(|row| row.try_get(0))
        .map_err(|e| failed(settings, describe_error(&e)))
}

/// Takes the lock, telling `on_wait` first when another session holds it.
fn wait_for(
    cluster: &ClusterKey,
    connection: &mut Connection,
    settings: &LockSettings,
    on_wait: &dyn Fn(&str),
) -> Result<(), LockError> {
    if try_lock(connection, settings)? {
        return Ok(());
    }
    // Only to say who is in the way: a holder gone by now is simply not named.
    let holder = server::lock_holder(connection, ddl::LOCK_KEY)
        .ok()
        .flatten();
    on_wait(&waiting_message(cluster, settings, holder.as_ref()));
    match connection.batch_execute(&ddl::lock_waiting(settings.timeout_ms)) {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => Err(LockError::TimedOut {
            timeout: settings.timeout.clone(),
        }),
        Err(e) => Err(failed(settings, describe_error(&e))),
    }
}

fn waiting_message(
    cluster: &ClusterKey,
    settings: &LockSettings,
    holder: Option<&LockHolder>,
) -> String {
    let held_by = match holder {
        Some(holder) if holder.application_name.is_empty() => {
            format!(", held by pid {}", holder.pid)
        }
        Some(holder) => format!(", held by pid {} ({})", holder.pid, holder.application_name),
        None => String::new(),
    };
    let limit = if settings.timeout_ms == 0 {
        "for as long as it takes (lock_timeout 0)".to_string()
    } else {
        format!("up to {} (setting lock_timeout)", settings.timeout)
    };
    format!(
        "{cluster} is busy: another run holds pgroster's lock (database {}){held_by}; \
         waiting {limit}",
        settings.database
    )
}

fn failed(settings: &LockSettings, reason: String) -> LockError {
    LockError::Failed {
        database: settings.database.clone(),
        reason,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lock_timeout_takes_postgresql_time_units() {
        assert_eq!(parse_timeout("5min"), Some(300_000));
        assert_eq!(parse_timeout(" 30 s "), Some(30_000));
        assert_eq!(parse_timeout("250"), Some(250));
        assert_eq!(parse_timeout("0"), Some(0));
        assert_eq!(parse_timeout("24d"), Some(2_073_600_000));
        for bad in ["", "5 minutes", "-1s", "1.5s", "25d", "min"] {
            assert_eq!(parse_timeout(bad), None, "{bad}");
        }
        let (key, error) = LockSettings::new(None, Some("5 minutes")).unwrap_err();
        assert_eq!(key, "lock_timeout");
        assert!(error.contains("lock_timeout `5 minutes`"), "{error}");
        assert_eq!(
            LockSettings::new(Some(""), None).unwrap_err().0,
            "lock_database"
        );
        assert_eq!(
            LockSettings::new(None, None).unwrap(),
            LockSettings::default()
        );
    }

    #[test]
    fn the_waiting_message_names_the_cluster_the_holder_and_the_limit() {
        let cluster = ClusterKey {
            host: "db1".into(),
            port: 5432,
        };
        let settings = LockSettings::default();
        let holder = LockHolder {
            pid: 42,
            application_name: "pgroster".into(),
        };
        assert_eq!(
            waiting_message(&cluster, &settings, Some(&holder)),
            "db1:5432 is busy: another run holds pgroster's lock (database postgres), held by \
             pid 42 (pgroster); waiting up to 5min (setting lock_timeout)"
        );
    }
}
