//! The SQLite audit log's own behaviour: WAL mode, busy waits, index use, schema migrations.
//! What both backends do alike (runs, started rows and outcomes, filters, concurrent writers,
//! resolving a run) is one suite over both, in tests/integration/audit.rs.

use super::sqlite::{begin_write, is_unique_violation, select, sqlite_error, Durability};
use super::sqlite_schema as schema;
use super::*;
use rusqlite::{Connection, TransactionBehavior};
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn change(env: &str, role: &str, action: &str) -> ChangeRecord {
    ChangeRecord {
        env: env.to_string(),
        database: format!("app_{env}_main"),
        host: format!("pg-{env}-01.internal"),
        port: 5432,
        role: role.to_string(),
        action: action.to_string(),
        detail: "login: false -> true".to_string(),
    }
}

fn temp_log() -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(&dir.path().join("pgroster-audit.db")).unwrap();
    (dir, log)
}

/// The SQLite connection of a log these tests opened from a file.
fn conn(log: &AuditLog) -> &Connection {
    match &log.backend {
        Backend::Sqlite(db) => &db.conn,
        Backend::Postgres(_) => panic!("a SQLite test opened a PostgreSQL sink"),
    }
}

fn conn_mut(log: &mut AuditLog) -> &mut Connection {
    match &mut log.backend {
        Backend::Sqlite(db) => &mut db.conn,
        Backend::Postgres(_) => panic!("a SQLite test opened a PostgreSQL sink"),
    }
}

fn all(log: &mut AuditLog) -> Vec<AuditEntry> {
    log.query(&AuditFilter::default()).unwrap()
}

#[test]
fn opens_in_wal_mode_at_the_current_schema() {
    let (_dir, log) = temp_log();
    let mode: String = conn(&log)
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = conn(&log)
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, schema::CURRENT_VERSION);
}

#[test]
fn open_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("audit.db");
    let e = AuditLog::open(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "audit log {}: directory {} does not exist",
            path.display(),
            dir.path().join("missing").display()
        )
    );

    let path = dir.path().join("future.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let e = AuditLog::open(&path).unwrap_err();
    assert!(
        matches!(e, AuditError::UnknownSchema { found: 99, .. }),
        "{e}"
    );
    assert!(e
        .to_string()
        .starts_with(&format!("audit log {}: ", path.display())));
}

#[test]
fn a_busy_database_says_which_file() {
    // A real SQLITE_BUSY, from a connection that does not wait, wrapped as the API wraps it.
    let (dir, mut log) = temp_log();
    let _held = begin_write(conn_mut(&mut log), Durability::Relaxed).unwrap();
    let impatient = Connection::open(dir.path().join("pgroster-audit.db")).unwrap();
    impatient.busy_timeout(Duration::ZERO).unwrap();
    let error = impatient.execute_batch("BEGIN IMMEDIATE").unwrap_err();
    let e = sqlite_error("pgroster-audit.db")(error);
    assert_eq!(
        e.to_string(),
        "audit log pgroster-audit.db: database is locked"
    );
}

#[test]
fn each_filter_uses_its_index() {
    let (_dir, log) = temp_log();
    let cases = [
        (None, Some("jsmith"), None, "changes_role"),
        (None, None, Some("dev"), "changes_env"),
        (Some("2026-01-10"), None, None, "changes_time"),
    ];
    for (since, role, env, index) in cases {
        let filter = AuditFilter {
            since: since.map(str::to_string),
            role: role.map(str::to_string),
            env: env.map(str::to_string),
        };
        let conditions = filter.conditions().unwrap();
        let sql = select(&conditions);
        let values: Vec<&String> = conditions.iter().map(|(_, value)| value).collect();
        let plan: Vec<String> = conn(&log)
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(rusqlite::params_from_iter(&values), |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("; ");
        assert!(plan.contains(&format!("USING INDEX {index}")), "{plan}");
    }
}

#[test]
fn a_run_id_collision_is_recognised_for_retry() {
    let (_dir, mut log) = temp_log();
    let run = log.start_run("alice", "apply").unwrap();
    let duplicate = conn(&log).execute(
        "INSERT INTO runs (run_id, started_at, actor, command, status)
         VALUES (?1, 'x', 'a', 'c', 'started')",
        [run.as_str()],
    );
    assert!(is_unique_violation(&duplicate.unwrap_err()));
}

#[test]
fn readers_are_not_blocked_and_writers_wait() {
    let (dir, mut log) = temp_log();
    let path = dir.path().join("pgroster-audit.db");
    let run = log.start_run("alice", "apply").unwrap();
    log.record_started(&run, &[change("dev", "a", "create")])
        .unwrap();

    let (locked_tx, locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut other = Connection::open(&path).unwrap();
        let tx = other
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        tx.execute("UPDATE runs SET command = 'held'", []).unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        tx.commit().unwrap();
    });
    locked.recv().unwrap();
    // WAL: a reader sees the last commit while another connection holds the write lock.
    assert_eq!(all(&mut log)[0].command, "apply");
    // This write must wait for the holder's commit instead of failing with "locked".
    let waited = std::time::Instant::now();
    log.finish_run(&run, true).unwrap();
    assert!(waited.elapsed() >= Duration::from_millis(200));
    holder.join().unwrap();
    assert_eq!(all(&mut log)[0].command, "held");
}

#[test]
fn concurrent_opens_of_a_new_file_all_succeed() {
    // The switch to WAL is where a new file's first openers collided (see `enable_wal`).
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgroster-audit.db");
        let start = Arc::new(Barrier::new(4));
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let (path, start) = (path.clone(), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    AuditLog::open(&path).map(|_| ())
                })
            })
            .collect();
        for opener in openers {
            opener.join().unwrap().unwrap();
        }
    }
}

/// Answers from a fixed table, and counts the questions.
struct Oracle {
    answers: Vec<(String, Result<XactStatus, XactStatusError>)>,
    asked: usize,
}

impl resolve::XactOracle for Oracle {
    fn status(
        &mut self,
        _: &str,
        _: u16,
        _: &str,
        xid: &str,
    ) -> Result<XactStatus, XactStatusError> {
        self.asked += 1;
        self.answers
            .iter()
            .find(|(x, _)| x == xid)
            .map(|(_, answer)| answer.clone())
            .unwrap_or_else(|| Err(CatalogError::Query(format!("no answer for {xid}")).into()))
    }
}

use crate::catalog::xact::XactStatus;
use crate::catalog::CatalogError;
use resolve::{Verdict, XactStatusError};

#[test]
fn a_file_of_schema_version_1_is_migrated_and_its_started_rows_are_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pgroster-audit.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO runs (run_id, started_at, actor, command, status)
             VALUES ('00000000000000aa', '2026-01-01T00:00:00Z', 'old', 'apply', 'started');
             INSERT INTO changes (run, time, env, dbname, host, port, role, action, detail, outcome)
             VALUES (1, '2026-01-01T00:00:00Z', 'dev', 'app', 'h', 5432, 'r', 'create_role', '', 'started');",
        )
        .unwrap();
    }
    let mut log = AuditLog::open(&path).unwrap();
    let mut oracle = Oracle {
        answers: Vec::new(),
        asked: 0,
    };
    let transactions = log.resolve_run("00000000000000aa", &mut oracle).unwrap();
    assert!(
        matches!(&transactions[0].verdict, Verdict::Unknown(why) if why.contains("older pgroster"))
    );
    assert_eq!(all(&mut log)[0].outcome, "started");
    // And the migrated file takes new runs.
    let run = log.start_run("new", "apply").unwrap();
    let ids = log
        .record_started(&run, &[change("dev", "s", "create")])
        .unwrap();
    log.record_xid(&ids, "9").unwrap();
}
