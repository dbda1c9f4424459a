//! The audit log: runs, started rows and outcomes, concurrent writers, and reading it back.

use super::*;
use std::sync::{Arc, Barrier};

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

fn all(log: &AuditLog) -> Vec<AuditEntry> {
    log.query(&AuditFilter::default()).unwrap()
}

#[test]
fn round_trip() {
    let (dir, mut log) = temp_log();
    let run = log.start_run("alice", "apply").unwrap();
    assert_eq!(run.as_str().len(), 16);
    assert!(run.as_str().chars().all(|c| c.is_ascii_hexdigit()));
    let mut hostile = change("prod", "'; drop role x; --", "update");
    hostile.port = 6543;
    hostile.detail = "connection_limit: 20 -> 200, comment: \"x\"".to_string();
    let ids = log
        .record_started(&run, &[change("dev", "jsmith", "create"), hostile.clone()])
        .unwrap();
    assert_eq!(ids.len(), 2);
    log.record_outcomes(&[(ids[0], Outcome::Ok), (ids[1], Outcome::Ok)])
        .unwrap();
    log.finish_run(&run, true).unwrap();
    drop(log);

    let log = AuditLog::open(&dir.path().join("pgroster-audit.db")).unwrap();
    let entries = all(&log);
    assert_eq!(entries.len(), 2);
    let e = &entries[1];
    assert_eq!(e.run_id, run.to_string());
    assert_eq!(
        validate_since(&e.time).unwrap(),
        e.time,
        "time is RFC 3339 UTC"
    );
    assert_eq!(
        (e.actor.as_str(), e.command.as_str(), e.env.as_str()),
        ("alice", "apply", "prod")
    );
    assert_eq!(
        (e.database.as_str(), e.host.as_str()),
        ("app_prod_main", "pg-prod-01.internal")
    );
    assert_eq!(
        (e.port, e.role.as_str(), e.action.as_str()),
        (6543, hostile.role.as_str(), "update")
    );
    assert_eq!(
        (e.detail.as_str(), e.outcome.as_str()),
        (hostile.detail.as_str(), "ok")
    );
    assert_eq!(entries[0].role, "jsmith");

    let (status, finished): (String, Option<String>) = log
        .conn
        .query_row(
            "SELECT status, finished_at FROM runs WHERE run_id = ?1",
            [run.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "ok");
    assert!(finished.is_some());
}

#[test]
fn opens_in_wal_mode_at_the_current_schema() {
    let (_dir, log) = temp_log();
    let mode: String = log
        .conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = log
        .conn
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
    let _held = begin_write(&mut log.conn, Durability::Relaxed).unwrap();
    let impatient = Connection::open(dir.path().join("pgroster-audit.db")).unwrap();
    impatient.busy_timeout(Duration::ZERO).unwrap();
    let error = impatient.execute_batch("BEGIN IMMEDIATE").unwrap_err();
    let e = sqlite_error(Path::new("pgroster-audit.db"))(error);
    assert_eq!(
        e.to_string(),
        "audit log pgroster-audit.db: database is locked"
    );
}

#[test]
fn filters_by_since_role_and_env() {
    let (_dir, mut log) = temp_log();
    let run = log.start_run("ci", "apply").unwrap();
    let ids = log
        .record_started(
            &run,
            &[
                change("dev", "jsmith", "create"),
                change("prod", "jsmith", "update"),
                change("dev", "web01_8080", "create"),
                change("prod", "analyst01", "create"),
            ],
        )
        .unwrap();
    // Times out of id order, to check the ordering is by time first.
    let times = [
        "2026-01-10T08:00:00Z",
        "2026-01-09T23:59:59Z",
        "2026-01-10T00:00:00Z",
        "2026-02-01T12:30:00Z",
    ];
    for (id, time) in ids.iter().zip(times) {
        log.conn
            .execute(
                "UPDATE changes SET time = ?1 WHERE id = ?2",
                params![time, id],
            )
            .unwrap();
    }
    let roles = |filter: AuditFilter| -> Vec<(String, String)> {
        log.query(&filter)
            .unwrap()
            .into_iter()
            .map(|e| (e.env, e.role))
            .collect()
    };
    let pair = |env: &str, role: &str| (env.to_string(), role.to_string());
    assert_eq!(
        roles(AuditFilter::default()),
        [
            pair("prod", "jsmith"),
            pair("dev", "web01_8080"),
            pair("dev", "jsmith"),
            pair("prod", "analyst01")
        ]
    );
    let since = |s: &str| AuditFilter {
        since: Some(s.to_string()),
        ..AuditFilter::default()
    };
    assert_eq!(
        roles(since("2026-01-10")),
        [
            pair("dev", "web01_8080"),
            pair("dev", "jsmith"),
            pair("prod", "analyst01")
        ]
    );
    assert_eq!(
        roles(since("2026-01-10T08:00:00Z")),
        [pair("dev", "jsmith"), pair("prod", "analyst01")]
    );
    assert_eq!(roles(since("2026-02-02")), []);
    let role = AuditFilter {
        role: Some("jsmith".to_string()),
        ..AuditFilter::default()
    };
    assert_eq!(
        roles(role.clone()),
        [pair("prod", "jsmith"), pair("dev", "jsmith")]
    );
    // Role names are case-sensitive, as in PostgreSQL.
    let upper = AuditFilter {
        role: Some("JSmith".to_string()),
        ..AuditFilter::default()
    };
    assert_eq!(roles(upper), []);
    let env = AuditFilter {
        env: Some("dev".to_string()),
        ..AuditFilter::default()
    };
    assert_eq!(
        roles(env),
        [pair("dev", "web01_8080"), pair("dev", "jsmith")]
    );
    let all_three = AuditFilter {
        since: Some("2026-01-10".to_string()),
        env: Some("dev".to_string()),
        ..role
    };
    assert_eq!(roles(all_three), [pair("dev", "jsmith")]);
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
        let (sql, values) = select(&filter).unwrap();
        let plan: Vec<String> = log
            .conn
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
fn a_crash_leaves_started_rows() {
    let (dir, mut log) = temp_log();
    let run = log.start_run("alice", "apply").unwrap();
    log.record_started(&run, &[change("prod", "jsmith", "create")])
        .unwrap();
    // The process dies here: no outcome, no finish.
    drop(log);
    let log = AuditLog::open(&dir.path().join("pgroster-audit.db")).unwrap();
    assert_eq!(all(&log)[0].outcome, "started");
    let status: String = log
        .conn
        .query_row("SELECT status FROM runs", [], |row| row.get(0))
        .unwrap();
    assert_eq!(status, "started");
}

#[test]
fn a_bad_since_is_refused_with_the_file_named() {
    let (_dir, log) = temp_log();
    let e = log
        .query(&AuditFilter {
            since: Some("last week".to_string()),
            ..AuditFilter::default()
        })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "audit log {}: invalid since date `last week`: not in either form; \
             expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)",
            log.path().display()
        )
    );
}

#[test]
fn outcomes_update_started_rows_once() {
    let (_dir, mut log) = temp_log();
    let run = log.start_run("alice", "apply").unwrap();
    let changes = [
        change("dev", "a", "create"),
        change("dev", "b", "update"),
        change("qa", "c", "create"),
        change("qa", "d", "create"),
    ];
    let ids = log.record_started(&run, &changes).unwrap();
    let outcomes =
        |log: &AuditLog| -> Vec<String> { all(log).into_iter().map(|e| e.outcome).collect() };
    assert_eq!(outcomes(&log), ["started"; 4]);

    log.record_outcomes(&[
        (ids[0], Outcome::Ok),
        (
            ids[1],
            Outcome::Failed("permission denied to alter role".to_string()),
        ),
        (
            ids[2],
            Outcome::RolledBack("another change on pg-qa-01:5432 failed".to_string()),
        ),
    ])
    .unwrap();
    // d never got an answer, as after a crash: it stays `started`.
    log.finish_run(&run, false).unwrap();
    assert_eq!(
        outcomes(&log),
        [
            "ok",
            "failed: permission denied to alter role",
            "rolled back: another change on pg-qa-01:5432 failed",
            "started"
        ]
    );

    // A second outcome, or an unknown id, fails the whole batch: d is not written either.
    let e = log
        .record_outcomes(&[(ids[3], Outcome::Ok), (ids[0], Outcome::Ok)])
        .unwrap_err();
    assert!(
        matches!(e, AuditError::ChangeFinished { id, .. } if id == ids[0]),
        "{e}"
    );
    let e = log
        .record_outcomes(&[(ids[3], Outcome::Ok), (9999, Outcome::Ok)])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("audit log {}: no change #9999", log.path().display())
    );
    assert_eq!(outcomes(&log)[3], "started");
    assert_eq!(
        log.record_started(&run, &[]).unwrap_err().to_string(),
        format!(
            "audit log {}: run `{run}` already finished as `failed`",
            log.path().display()
        )
    );
}

#[test]
fn runs_must_exist_and_be_open() {
    let (_dir, mut log) = temp_log();
    let ghost = RunId("0000000000000000".to_string());
    assert!(matches!(
        log.record_started(&ghost, &[change("dev", "a", "create")]),
        Err(AuditError::UnknownRun { .. })
    ));
    assert!(matches!(
        log.finish_run(&ghost, true),
        Err(AuditError::UnknownRun { .. })
    ));
    let run = log.start_run("alice", "reset").unwrap();
    assert_eq!(log.record_started(&run, &[]).unwrap(), Vec::<i64>::new());
    log.finish_run(&run, true).unwrap();
    assert!(matches!(
        log.finish_run(&run, true),
        Err(AuditError::RunFinished { .. })
    ));
    assert!(all(&log).is_empty());
}

#[test]
fn a_run_id_collision_is_recognised_for_retry() {
    let (_dir, mut log) = temp_log();
    let run = log.start_run("alice", "apply").unwrap();
    let duplicate = log.conn.execute(
        "INSERT INTO runs (run_id, started_at, actor, command, status)
         VALUES (?1, 'x', 'a', 'c', 'started')",
        [run.as_str()],
    );
    assert!(is_unique_violation(&duplicate.unwrap_err()));
}

#[test]
fn run_ids_are_distinct() {
    let (_dir, mut log) = temp_log();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        assert!(seen.insert(log.start_run("alice", "apply").unwrap()));
    }
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
    assert_eq!(all(&log)[0].command, "apply");
    // This write must wait for the holder's commit instead of failing with "locked".
    let waited = std::time::Instant::now();
    log.finish_run(&run, true).unwrap();
    assert!(waited.elapsed() >= Duration::from_millis(200));
    holder.join().unwrap();
    assert_eq!(all(&log)[0].command, "held");
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

#[test]
fn concurrent_writers_never_fail_with_locked() {
    const THREADS: usize = 4;
    const RUNS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pgroster-audit.db");
    // All threads open the new file at once, so they also race on WAL and the migration.
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let path = path.clone();
            let start = Arc::clone(&start);
            std::thread::spawn(move || -> Result<(), AuditError> {
                start.wait();
                let mut log = AuditLog::open(&path)?;
                for i in 0..RUNS {
                    let run = log.start_run(&format!("worker{t}"), "apply")?;
                    let changes = [
                        change("dev", &format!("r{t}_{i}_a"), "create"),
                        change("prod", &format!("r{t}_{i}_b"), "update"),
                        change("qa", &format!("r{t}_{i}_c"), "create"),
                    ];
                    let ids = log.record_started(&run, &changes)?;
                    let outcomes: Vec<_> = ids.into_iter().map(|id| (id, Outcome::Ok)).collect();
                    log.record_outcomes(&outcomes)?;
                    log.finish_run(&run, true)?;
                    if i % 50 == 0 {
                        log.query(&AuditFilter {
                            env: Some("prod".to_string()),
                            ..AuditFilter::default()
                        })?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap().unwrap();
    }
    let log = AuditLog::open(&path).unwrap();
    let entries = all(&log);
    assert_eq!(entries.len(), THREADS * RUNS * 3);
    assert!(entries.iter().all(|e| e.outcome == "ok"));
    let finished: i64 = log
        .conn
        .query_row("SELECT count(*) FROM runs WHERE status = 'ok'", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(finished, (THREADS * RUNS) as i64);
}

/// Answers from a fixed table, and counts the questions.
struct Oracle {
    answers: Vec<(String, Result<XactStatus, String>)>,
    asked: usize,
}

impl resolve::XactOracle for Oracle {
    fn status(&mut self, _: &str, _: u16, _: &str, xid: &str) -> Result<XactStatus, String> {
        self.asked += 1;
        self.answers
            .iter()
            .find(|(x, _)| x == xid)
            .map(|(_, answer)| answer.clone())
            .unwrap_or_else(|| Err(format!("no answer for {xid}")))
    }
}

use crate::catalog::xact::XactStatus;
use resolve::Verdict;

#[test]
fn a_run_left_started_is_resolved_by_transaction_id_and_the_answers_are_recorded() {
    let (_dir, mut log) = temp_log();
    let run = log.start_run("alice", "apply").unwrap();
    let committed = log
        .record_started(
            &run,
            &[change("dev", "a", "create"), change("dev", "b", "create")],
        )
        .unwrap();
    log.record_xid(&committed, "700").unwrap();
    let aborted = log
        .record_started(&run, &[change("prod", "c", "grant")])
        .unwrap();
    log.record_xid(&aborted, "701").unwrap();
    let running = log
        .record_started(&run, &[change("qa", "d", "grant")])
        .unwrap();
    log.record_xid(&running, "702").unwrap();
    // Recorded, then the process died before its transaction began.
    log.record_started(&run, &[change("stg", "e", "grant")])
        .unwrap();
    let mut oracle = Oracle {
        answers: vec![
            ("700".into(), Ok(XactStatus::Committed)),
            ("701".into(), Ok(XactStatus::Aborted)),
            ("702".into(), Ok(XactStatus::InProgress)),
        ],
        asked: 0,
    };

    let transactions = log.resolve_run(run.as_str(), &mut oracle).unwrap();

    let verdicts: Vec<(&str, Option<&str>, usize, &Verdict)> = transactions
        .iter()
        .map(|t| (t.host.as_str(), t.xid.as_deref(), t.changes, &t.verdict))
        .collect();
    assert_eq!(
        verdicts[0],
        ("pg-dev-01.internal", Some("700"), 2, &Verdict::Committed)
    );
    assert!(
        matches!(verdicts[1].3, Verdict::RolledBack(why) if why.contains("701 did not commit"))
    );
    assert!(matches!(verdicts[2].3, Verdict::Unknown(why) if why.contains("still running")));
    assert!(
        matches!(verdicts[3].3, Verdict::RolledBack(why) if why.contains("before its transaction ran"))
    );
    let outcomes: Vec<String> = all(&log).into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes[..2], ["ok", "ok"]);
    assert!(outcomes[2].starts_with("rolled back: interrupted"));
    assert_eq!(outcomes[3], "started", "an unknown stays started");
    assert!(outcomes[4].starts_with("rolled back: interrupted before"));

    // Asked again, only the unknown one needs the server.
    oracle.asked = 0;
    let again = log.resolve_run(run.as_str(), &mut oracle).unwrap();
    assert_eq!(oracle.asked, 1);
    assert_eq!(again[0].verdict, Verdict::Committed);
}

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
    assert_eq!(all(&log)[0].outcome, "started");
    // And the migrated file takes new runs.
    let run = log.start_run("new", "apply").unwrap();
    let ids = log
        .record_started(&run, &[change("dev", "s", "create")])
        .unwrap();
    log.record_xid(&ids, "9").unwrap();
}
