//! The audit log's SQLite schema and its migrations, versioned by `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

/// Migration `i` takes the file from `user_version` `i` to `i + 1`. Append only: a shipped
/// migration is never edited, because files in the field already ran it.
pub(crate) const MIGRATIONS: &[&str] = &[
    // v1. Times are UTC text in one fixed-width RFC 3339 form, so comparing strings compares times.
    // STRICT makes SQLite reject a value of the wrong type instead of storing it as given.
    // `runs.status` and `changes.outcome` start as 'started' and are updated afterwards, so a
    // process that dies in between leaves a visible 'started' row. Changes point at their run by
    // its integer key, which keeps rows small and the foreign-key check a rowid lookup.
    "CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        run_id      TEXT NOT NULL UNIQUE,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        actor       TEXT NOT NULL,
        command     TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('started', 'ok', 'failed'))
    ) STRICT;
    CREATE TABLE changes (
        id      INTEGER PRIMARY KEY,
        run     INTEGER NOT NULL REFERENCES runs (id),
        time    TEXT NOT NULL,
        env     TEXT NOT NULL,
        dbname  TEXT NOT NULL,
        host    TEXT NOT NULL,
        port    INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
        role    TEXT NOT NULL,
        action  TEXT NOT NULL,
        detail  TEXT NOT NULL,
        outcome TEXT NOT NULL
    ) STRICT;
    CREATE INDEX changes_time ON changes (time);
    CREATE INDEX changes_role ON changes (role);
    CREATE INDEX changes_env ON changes (env);",
    // v2 (issue 9). `changes.xid`: the PostgreSQL transaction a change ran in, written (synced)
    // before that transaction commits, so a change left 'started' by a crash can be resolved by
    // asking the server. `runs.records_xid`: whether the run's pgroster wrote `xid`; in an older
    // run, a started change without one says nothing about whether it ran.
    "ALTER TABLE changes ADD COLUMN xid TEXT;
    ALTER TABLE runs ADD COLUMN records_xid INTEGER NOT NULL DEFAULT 0;",
];

/// The schema version this build writes.
pub(crate) const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// What `migrate` found wrong with a file, before the caller attaches its path.
#[derive(Debug)]
pub(crate) enum MigrateError {
    Sqlite(rusqlite::Error),
    /// A version this build has no migrations for, most likely written by a newer pgroster;
    /// writing to it could break that version's data.
    Unknown(i64),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sqlite(e)
    }
}

/// Brings the file to `CURRENT_VERSION`. The version is read inside a write transaction, so when
/// several processes open a new file at once, one migrates and the others then find nothing to do.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    // user_version is a signed header field: a negative one was set by hand, not by us.
    let start = match usize::try_from(found) {
        Ok(start) if start <= MIGRATIONS.len() => start,
        _ => return Err(MigrateError::Unknown(found)),
    };
    for sql in &MIGRATIONS[start..] {
        tx.execute_batch(sql)?;
    }
    if start < MIGRATIONS.len() {
        // user_version lives in the file header and is transactional, so a crash mid-migration
        // leaves the old version and the old schema together.
        tx.pragma_update(None, "user_version", CURRENT_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_new_file_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, CURRENT_VERSION);
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'changes' ORDER BY name")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, ["changes_env", "changes_role", "changes_time"]);
    }

    #[test]
    fn refuses_a_newer_file() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(MigrateError::Unknown(v)) if v == CURRENT_VERSION + 1
        ));
        conn.pragma_update(None, "user_version", -1).unwrap();
        assert!(matches!(migrate(&mut conn), Err(MigrateError::Unknown(-1))));
    }
}
