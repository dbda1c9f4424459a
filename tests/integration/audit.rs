//! The audit log on both backends, one suite: every case runs once on a SQLite file and once on a
//! PostgreSQL sink (`audit::<case>::sqlite`, `audit::<case>::postgres`). Through the library: runs,
//! `started` rows and their outcomes, filters, concurrent writers, resolving a run, the schema
//! and its version. Through the `audit` command: the changes of an apply listed, filtered by
//! role, env and date, and exported as JSON and CSV with no secret, the same on both backends; a
//! failed apply's rows; concurrent applies sharing one log; `audit --run` after a crash. Then one
//! apply logged to each backend, exported alike; and what only the PostgreSQL sink has: its URL's
//! validation, its credentials, and runners with row privileges only.

use crate::harness::{
    assert_no_ansi, assert_nowhere, assert_stderr_has, assert_stdout_has, dump, exec, location,
    parse_json, parse_table, random_secret, registry_toml, run_id, AdminKind, Cluster, Output,
    Scenario, Sink, SINK_DATABASE, SINK_USER,
};
use pgroster::audit::resolve::{Verdict, XactOracle, XactStatusError};
use pgroster::audit::{
    validate_since, AuditEntry, AuditError, AuditFilter, AuditLog, ChangeRecord, Outcome,
};
use pgroster::catalog::xact::XactStatus;
use pgroster::catalog::CatalogError;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::{Arc, Barrier};

/// Expands each case into a module with one test per backend; the case takes the `&Sink`.
macro_rules! on_both_backends {
    ($( $(#[doc = $doc:literal])* fn $name:ident($sink:ident: &Sink) $body:block )*) => {$(
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn case($sink: &Sink) $body

            #[test]
            fn sqlite() {
                case(&Sink::sqlite());
            }

            #[test]
            fn postgres() {
                case(&Sink::postgres());
            }
        }
    )*};
}

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

fn all(log: &mut AuditLog) -> Vec<AuditEntry> {
    log.query(&AuditFilter::default()).unwrap()
}

fn outcomes(log: &mut AuditLog) -> Vec<String> {
    all(log).into_iter().map(|e| e.outcome).collect()
}

/// Answers from a fixed table, and counts the questions.
struct Oracle {
    answers: Vec<(String, Result<XactStatus, XactStatusError>)>,
    asked: usize,
}

impl XactOracle for Oracle {
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

/// Two clusters `dev` and `prod` with databases `app_dev` and `app_prod`, and a scenario on them
/// writing to `sink`.
fn dev_and_prod(sink: &Sink) -> (Cluster, Cluster, Scenario) {
    let dev = Cluster::start();
    let prod = Cluster::start();
    dev.create_database("app_dev");
    prod.create_database("app_prod");
    let mut scenario = Scenario::new();
    scenario.with_admin(&dev, AdminKind::Superuser);
    sink.credentials(&mut scenario);
    scenario.file(
        "registry.toml",
        &sink.registry(&registry_toml(&[
            ("dev", "app_dev", &dev),
            ("prod", "app_prod", &prod),
        ])),
    );
    (dev, prod, scenario)
}

on_both_backends! {
    /// Every field comes back as written, hostile text included; the run is closed with a time.
    fn records_read_back_as_written(sink: &Sink) {
        let mut log = sink.open();
        let run = log.start_run("alice", "apply").unwrap();
        assert_eq!(run.as_str().len(), 16);
        assert!(run.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        let mut hostile = change("prod", "'; drop role x; --", "update");
        hostile.port = 6543;
        hostile.detail = "connection_limit: 20 -> 200, comment: \"x\"\n$1 ?2".to_string();
        let ids = log
            .record_started(&run, &[change("dev", "jsmith", "create"), hostile.clone()])
            .unwrap();
        assert_eq!(ids.len(), 2);
        log.record_outcomes(&[(ids[0], Outcome::Ok), (ids[1], Outcome::Ok)])
            .unwrap();
        log.finish_run(&run, true).unwrap();
        drop(log);

        let mut log = sink.open();
        let entries = all(&mut log);
        assert_eq!(entries.len(), 2);
        let e = &entries[1];
        assert_eq!(e.run_id, run.to_string());
        assert_eq!(validate_since(&e.time).unwrap(), e.time, "time is RFC 3339 UTC");
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
        assert_eq!((e.detail.as_str(), e.outcome.as_str()), (hostile.detail.as_str(), "ok"));
        assert_eq!(entries[0].role, "jsmith");
        let run_row = &sink.rows(&format!(
            "SELECT status, finished_at IS NOT NULL FROM runs WHERE run_id = '{run}'"
        ))[0];
        assert_eq!(run_row[0].as_deref(), Some("ok"));
        assert!(matches!(run_row[1].as_deref(), Some("1" | "t")), "{run_row:?}");
    }

    /// The schema is made on first use, at the version this build writes; a newer one is
    /// refused rather than written to.
    fn the_schema_is_created_with_its_version_and_a_newer_one_is_refused(sink: &Sink) {
        let mut log = sink.open();
        let name = log.name().to_string();
        let expected = if sink.is_postgres() { 1 } else { 2 };
        assert_eq!(sink.schema_version(), expected);
        assert!(all(&mut log).is_empty());
        drop(log);
        sink.set_schema_version(expected + 97);
        let e = sink.try_open().unwrap_err();
        assert!(
            matches!(e, AuditError::UnknownSchema { found, supported, .. }
                if found == expected + 97 && supported == expected),
            "{e}"
        );
        assert!(e.to_string().starts_with(&format!("audit log {name}: schema version")), "{e}");
    }

    fn filters_by_since_role_and_env(sink: &Sink) {
        let mut log = sink.open();
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
            sink.rows(&format!("UPDATE changes SET time = '{time}' WHERE id = {id}"));
        }
        let mut roles = |filter: AuditFilter| -> Vec<(String, String)> {
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
            [pair("dev", "web01_8080"), pair("dev", "jsmith"), pair("prod", "analyst01")]
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
        assert_eq!(roles(role.clone()), [pair("prod", "jsmith"), pair("dev", "jsmith")]);
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
        assert_eq!(roles(env), [pair("dev", "web01_8080"), pair("dev", "jsmith")]);
        let all_three = AuditFilter {
            since: Some("2026-01-10".to_string()),
            env: Some("dev".to_string()),
            ..role
        };
        assert_eq!(roles(all_three), [pair("dev", "jsmith")]);

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
                log.name()
            )
        );
    }

    /// A change gets one outcome; one left without is `started`, the evidence of a crash.
    fn outcomes_update_started_rows_once(sink: &Sink) {
        let mut log = sink.open();
        let run = log.start_run("alice", "apply").unwrap();
        let changes = [
            change("dev", "a", "create"),
            change("dev", "b", "update"),
            change("qa", "c", "create"),
            change("qa", "d", "create"),
        ];
        let ids = log.record_started(&run, &changes).unwrap();
        assert_eq!(outcomes(&mut log), ["started"; 4]);

        log.record_outcomes(&[
            (ids[0], Outcome::Ok),
            (ids[1], Outcome::Failed("permission denied to alter role".to_string())),
            (ids[2], Outcome::RolledBack("another change on pg-qa-01:5432 failed".to_string())),
        ])
        .unwrap();
        // d never got an answer, as after a crash: it stays `started`.
        log.finish_run(&run, false).unwrap();
        assert_eq!(
            outcomes(&mut log),
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
        assert!(matches!(e, AuditError::ChangeFinished { id, .. } if id == ids[0]), "{e}");
        let e = log
            .record_outcomes(&[(ids[3], Outcome::Ok), (999_999, Outcome::Ok)])
            .unwrap_err();
        assert_eq!(e.to_string(), format!("audit log {}: no change #999999", log.name()));
        let e = log.record_xid(&[ids[3], ids[0]], "77").unwrap_err();
        assert!(matches!(e, AuditError::ChangeFinished { id, .. } if id == ids[0]), "{e}");
        assert_eq!(outcomes(&mut log)[3], "started");
        assert_eq!(sink.value(&format!("SELECT xid FROM changes WHERE id = {}", ids[3])), None);
        assert_eq!(
            log.record_started(&run, &[]).unwrap_err().to_string(),
            format!("audit log {}: run `{run}` already finished as `failed`", log.name())
        );
    }

    fn runs_must_exist_and_be_open(sink: &Sink) {
        let mut log = sink.open();
        let ghost = log.start_run("alice", "apply").unwrap();
        sink.rows(&format!("UPDATE runs SET run_id = '0000000000000000' WHERE run_id = '{ghost}'"));
        assert!(matches!(
            log.record_started(&ghost, &[change("dev", "a", "create")]),
            Err(AuditError::UnknownRun { .. })
        ));
        assert!(matches!(log.finish_run(&ghost, true), Err(AuditError::UnknownRun { .. })));
        let run = log.start_run("alice", "reset").unwrap();
        assert_eq!(log.record_started(&run, &[]).unwrap(), Vec::<i64>::new());
        log.finish_run(&run, true).unwrap();
        assert!(matches!(log.finish_run(&run, true), Err(AuditError::RunFinished { .. })));
        assert!(all(&mut log).is_empty());
    }

    /// The process dies after recording: the changes stay `started`, the run too.
    fn a_crash_leaves_started_rows(sink: &Sink) {
        let mut log = sink.open();
        let run = log.start_run("alice", "apply").unwrap();
        log.record_started(&run, &[change("prod", "jsmith", "create")]).unwrap();
        drop(log);
        let mut log = sink.open();
        assert_eq!(outcomes(&mut log), ["started"]);
        assert_eq!(sink.value("SELECT status FROM runs").as_deref(), Some("started"));
    }

    fn a_run_left_started_is_resolved_by_transaction_id_and_the_answers_are_recorded(
        sink: &Sink
    ) {
        let mut log = sink.open();
        let run = log.start_run("alice", "apply").unwrap();
        let committed = log
            .record_started(&run, &[change("dev", "a", "create"), change("dev", "b", "create")])
            .unwrap();
        log.record_xid(&committed, "700").unwrap();
        let aborted = log.record_started(&run, &[change("prod", "c", "grant")]).unwrap();
        log.record_xid(&aborted, "701").unwrap();
        let running = log.record_started(&run, &[change("qa", "d", "grant")]).unwrap();
        log.record_xid(&running, "702").unwrap();
        // Recorded, then the process died before its transaction began.
        log.record_started(&run, &[change("stg", "e", "grant")]).unwrap();
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
        assert_eq!(verdicts[0], ("pg-dev-01.internal", Some("700"), 2, &Verdict::Committed));
        assert!(
            matches!(verdicts[1].3, Verdict::RolledBack(why) if why.contains("701 did not commit"))
        );
        assert!(matches!(verdicts[2].3, Verdict::Unknown(why) if why.contains("still running")));
        assert!(
            matches!(verdicts[3].3,
                Verdict::RolledBack(why) if why.contains("before its transaction ran"))
        );
        let outcomes = outcomes(&mut log);
        assert_eq!(outcomes[..2], ["ok", "ok"]);
        assert!(outcomes[2].starts_with("rolled back: interrupted"));
        assert_eq!(outcomes[3], "started", "an unknown stays started");
        assert!(outcomes[4].starts_with("rolled back: interrupted before"));

        // Asked again, only the unknown one needs the server.
        oracle.asked = 0;
        let again = log.resolve_run(run.as_str(), &mut oracle).unwrap();
        assert_eq!(oracle.asked, 1);
        assert_eq!(again[0].verdict, Verdict::Committed);
        assert!(matches!(
            log.resolve_run("0000000000000000", &mut oracle),
            Err(AuditError::UnknownRun { .. })
        ));
    }

    /// Writers that open a new log at once (racing on its creation) and then write runs side
    /// by side never fail, never share a run id and lose no row.
    fn concurrent_writers_lose_nothing(sink: &Sink) {
        const THREADS: usize = 4;
        const RUNS: usize = 100;
        let start = Arc::new(Barrier::new(THREADS));
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let start = Arc::clone(&start);
                    scope.spawn(move || -> Result<Vec<String>, AuditError> {
                        start.wait();
                        let mut log = sink.try_open()?;
                        let mut runs = Vec::new();
                        for i in 0..RUNS {
                            let run = log.start_run(&format!("worker{t}"), "apply")?;
                            let changes = [
                                change("dev", &format!("r{t}_{i}_a"), "create"),
                                change("prod", &format!("r{t}_{i}_b"), "update"),
                                change("qa", &format!("r{t}_{i}_c"), "create"),
                            ];
                            let ids = log.record_started(&run, &changes)?;
                            log.record_xid(&ids, &format!("{t}{i}"))?;
                            let outcomes: Vec<_> =
                                ids.into_iter().map(|id| (id, Outcome::Ok)).collect();
                            log.record_outcomes(&outcomes)?;
                            log.finish_run(&run, true)?;
                            runs.push(run.to_string());
                        }
                        Ok(runs)
                    })
                })
                .collect();
            let mut runs = BTreeSet::new();
            for worker in workers {
                runs.extend(worker.join().unwrap().unwrap());
            }
            assert_eq!(runs.len(), THREADS * RUNS);
        });
        let mut log = sink.open();
        let entries = all(&mut log);
        assert_eq!(entries.len(), THREADS * RUNS * 3);
        assert!(entries.iter().all(|e| e.outcome == "ok"));
        let roles: BTreeSet<&str> = entries.iter().map(|e| e.role.as_str()).collect();
        assert_eq!(roles.len(), THREADS * RUNS * 3);
        assert_eq!(
            sink.value("SELECT count(*) FROM runs WHERE status = 'ok'").as_deref(),
            Some((THREADS * RUNS).to_string().as_str())
        );
    }

    fn audit_lists_filters_and_exports_the_changes_of_an_apply(sink: &Sink) {
        let (dev, prod, mut scenario) = dev_and_prod(sink);
        let secret = "Alice-Env-Secret-0c9a71";
        scenario.env("PGROSTER_ACTOR", "auditor-7").env("ALICE_PW", secret);
        scenario.file(
            "roles.yaml",
            "roles:
  - name: alice
    login: true
    connection_limit: 5
    password: { env: ALICE_PW }
    targets: [\"dev/*\"]
  - name: bob_group
    targets: [\"prod/*\"]
  - name: carol_group
    targets: [\"dev/*\", \"prod/*\"]
",
        );
        let applied = scenario.run(&["apply", "--auto-approve"]);
        applied.expect_success();
        let run_id = run_id(&applied);

        let dev_addr = format!("127.0.0.1:{}", dev.port);
        let prod_addr = format!("127.0.0.1:{}", prod.port);
        let table_out = scenario.run(&["audit"]);
        table_out.expect_success();
        assert_no_ansi(&table_out);
        assert_nowhere(&table_out, secret);
        let header = table_out.stdout.lines().next().unwrap_or_default();
        for column in [
            "TIME", "ACTOR", "ENV", "DATABASE", "HOST:PORT", "ROLE", "ACTION", "DETAIL", "OUTCOME",
        ] {
            assert!(header.contains(column), "{header}");
        }
        let rows = parse_table(&table_out.stdout);
        assert!(rows.len() >= 6, "{}", dump(&table_out));
        for row in &rows {
            assert_eq!(row["ACTOR"], "auditor-7", "{row:?}");
            assert_eq!(row["OUTCOME"], "ok", "{row:?}");
            match row["ENV"].as_str() {
                "dev" => {
                    assert_eq!(row["DATABASE"], "app_dev", "{row:?}");
                    assert_eq!(row["HOST:PORT"], dev_addr, "{row:?}");
                }
                "prod" => {
                    assert_eq!(row["DATABASE"], "app_prod", "{row:?}");
                    assert_eq!(row["HOST:PORT"], prod_addr, "{row:?}");
                }
                other => panic!("env {other:?} in {row:?}"),
            }
            assert!(row["TIME"].ends_with('Z'), "{row:?}");
        }
        let seen: BTreeSet<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r["ENV"].as_str(), r["ROLE"].as_str(), r["ACTION"].as_str()))
            .collect();
        for expected in [
            ("dev", "alice", "create_role"),
            ("dev", "alice", "set_marker"),
            ("prod", "bob_group", "create_role"),
            ("dev", "carol_group", "create_role"),
            ("prod", "carol_group", "create_role"),
        ] {
            assert!(seen.contains(&expected), "{expected:?} not in {seen:?}");
        }

        // --role, --env, --since
        let by_role = parse_table(&scenario.run(&["audit", "--role", "alice"]).stdout);
        assert!(!by_role.is_empty());
        assert!(by_role.iter().all(|r| r["ROLE"] == "alice"), "{by_role:?}");
        assert_eq!(by_role.len(), rows.iter().filter(|r| r["ROLE"] == "alice").count());
        let by_env = parse_table(&scenario.run(&["audit", "--env", "prod"]).stdout);
        assert!(by_env.iter().all(|r| r["ENV"] == "prod"), "{by_env:?}");
        assert_eq!(by_env.len(), rows.iter().filter(|r| r["ENV"] == "prod").count());
        assert!(by_env.iter().any(|r| r["ROLE"] == "bob_group"));
        let both = parse_table(
            &scenario.run(&["audit", "--env", "prod", "--role", "carol_group"]).stdout,
        );
        assert!(!both.is_empty());
        assert!(both.iter().all(|r| r["ENV"] == "prod" && r["ROLE"] == "carol_group"));
        let since_2000 = scenario.run(&["audit", "--since", "2000-01-01"]);
        since_2000.expect_success();
        assert_eq!(parse_table(&since_2000.stdout).len(), rows.len());
        let today = &rows[0]["TIME"];
        let since_now = scenario.run(&["audit", "--since", today]);
        assert_eq!(parse_table(&since_now.stdout).len(), rows.len(), "{}", dump(&since_now));
        let future = scenario.run(&["audit", "--since", "2999-01-01"]);
        future.expect_success();
        assert_eq!(parse_table(&future.stdout).len(), 0, "{}", dump(&future));
        let future_json =
            scenario.run(&["audit", "--since", "2999-01-01T00:00:00Z", "--format", "json"]);
        future_json.expect_success();
        assert_eq!(parse_json(&future_json), serde_json::json!([]));

        // JSON
        let json_out = scenario.run(&["audit", "--format", "json"]);
        json_out.expect_success();
        assert_nowhere(&json_out, secret);
        let entries = parse_json(&json_out);
        let entries = entries.as_array().unwrap();
        assert_eq!(entries.len(), rows.len());
        for e in entries {
            assert_eq!(e["run_id"], run_id.as_str(), "{e}");
            assert!(e["time"].as_str().unwrap().ends_with('Z'), "{e}");
            assert_eq!(e["actor"], "auditor-7", "{e}");
            assert_eq!(e["outcome"], "ok", "{e}");
            assert!(e["port"] == dev.port || e["port"] == prod.port, "{e}");
        }

        // CSV: a header, and a detail with commas is quoted.
        let csv = scenario.run(&["audit", "--format", "csv"]);
        csv.expect_success();
        assert_nowhere(&csv, secret);
        let mut lines = csv.stdout.lines();
        assert_eq!(
            lines.next().map(|l| l.trim_end_matches('\r')),
            Some("run_id,time,actor,command,env,database,host,port,role,action,detail,outcome")
        );
        let alice_create = entries
            .iter()
            .find(|e| e["role"] == "alice" && e["action"] == "create_role")
            .unwrap();
        let detail = alice_create["detail"].as_str().unwrap();
        assert!(detail.contains(','), "detail without a comma: {detail}");
        let quoted = format!(",\"{}\",", detail.replace('"', "\"\""));
        assert!(
            csv.stdout
                .lines()
                .any(|l| l.contains(",alice,create_role,") && l.contains(&quoted)),
            "no quoted {quoted}\n{}",
            csv.stdout
        );
        assert_eq!(lines.count(), rows.len());
        if let Sink::Postgres { password, .. } = sink {
            assert_nowhere(&json_out, password);
            assert!(!scenario.transcript().contains(password.as_str()));
        }

        // A bad date is a clear error.
        let bad = scenario.run(&["audit", "--since", "not-a-date"]);
        bad.expect_code(1);
        assert_stderr_has(&bad, "not-a-date");
        assert_stderr_has(&bad, "YYYY-MM-DD");
        assert!(bad.stdout.is_empty(), "{}", dump(&bad));
    }

    /// A failed apply writes the failing change as failed and the rest of its transaction as
    /// rolled back; `audit --run` tells per cluster what committed.
    fn a_failed_apply_records_failed_and_rolled_back_rows(sink: &Sink) {
        let (dev, prod, scenario) = dev_and_prod(sink);
        scenario.file(
            "roles.yaml",
            "roles:
  - name: run_ok
    targets: [\"dev/*\"]
  - name: run_bad
    targets: [\"prod/*\"]
    set: { work_mem: \"1\" }
",
        );
        let applied = scenario.run(&["apply", "--auto-approve"]);
        applied.expect_code(1);
        let run = run_id(&applied);

        let entries = parse_json(&scenario.run(&["audit", "--format", "json"]));
        let outcome_of = |role: &str, action: &str| -> String {
            let found: Vec<&Value> = entries
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["role"] == role && e["action"] == action)
                .collect();
            assert_eq!(found.len(), 1, "{role} {action}: {entries}");
            found[0]["outcome"].as_str().unwrap().to_string()
        };
        assert_eq!(outcome_of("run_ok", "create_role"), "ok");
        assert!(outcome_of("run_bad", "set_setting").starts_with("failed: "), "{entries}");
        assert!(outcome_of("run_bad", "create_role").starts_with("rolled back: "), "{entries}");
        let status = sink.value(&format!("SELECT status FROM runs WHERE run_id = '{run}'"));
        assert_eq!(status.as_deref(), Some("failed"));

        let out = scenario.run(&["audit", "--run", &run]);
        out.expect_success();
        assert_stdout_has(&out, &format!("Run {run}:"));
        let line = |port: u16| {
            out.stdout
                .lines()
                .find(|l| l.contains(&format!("127.0.0.1:{port} transaction ")))
                .unwrap_or_else(|| panic!("no transaction on port {port}\n{}", dump(&out)))
                .to_string()
        };
        assert!(line(dev.port).ends_with("2 change(s): committed"), "{}", dump(&out));
        assert!(line(prod.port).contains("rolled back"), "{}", dump(&out));
        assert!(line(prod.port).contains("work_mem"), "{}", dump(&out));

        let unknown = scenario.run(&["audit", "--run", "0000000000000000"]);
        unknown.expect_code(1);
        assert_stderr_has(&unknown, "no run `0000000000000000`");
    }

    /// Killed right after its first commit, the run's changes are left `started`; `audit --run`
    /// asks the server, says committed, and records it.
    fn audit_run_resolves_a_run_killed_after_its_commit(sink: &Sink) {
        let (dev, _prod, scenario) = dev_and_prod(sink);
        scenario.file("roles.yaml", "roles:\n  - name: killed_role\n    targets: [\"dev/*\"]\n");
        let killed = Output::from(
            scenario
                .pgroster(&["apply", "--auto-approve", "--parallelism", "1"])
                .env("PGROSTER_FAULT_ABORT_AT", "after commit")
                .output()
                .unwrap(),
        );
        assert_ne!(killed.code, 0, "{}", dump(&killed));
        let entries = parse_json(&scenario.run(&["audit", "--format", "json"]));
        let entries = entries.as_array().unwrap().clone();
        assert!(!entries.is_empty());
        assert!(entries.iter().all(|e| e["outcome"] == "started"), "{entries:?}");
        let run = entries[0]["run_id"].as_str().unwrap().to_string();

        let out = scenario.run(&["audit", "--run", &run]);
        out.expect_success();
        assert_stdout_has(&out, &format!("127.0.0.1:{} transaction ", dev.port));
        assert!(out.stdout.trim_end().ends_with("committed"), "{}", dump(&out));
        let after = parse_json(&scenario.run(&["audit", "--format", "json"]));
        assert!(after.as_array().unwrap().iter().all(|e| e["outcome"] == "ok"), "{after}");
    }

    fn four_concurrent_applies_share_one_audit_log(sink: &Sink) {
        four_concurrent_applies(sink);
    }
}

fn four_concurrent_applies(sink: &Sink) {
    const ROLES: usize = 40;
    let clusters: Vec<Cluster> = (0..4).map(|_| Cluster::start()).collect();
    let scenarios: Vec<Scenario> = clusters
        .iter()
        .enumerate()
        .map(|(i, cluster)| {
            cluster.create_database("app_dev");
            let registry = sink.registry(&registry_toml(&[("dev", "app_dev", cluster)]));
            let mut roles = String::from("roles:\n");
            for j in 0..ROLES {
                roles.push_str(&format!(
                    "  - name: c{i}_group_{j:02}\n    targets: [\"dev/*\"]\n"
                ));
            }
            let mut scenario = Scenario::new();
            scenario
                .file("registry.toml", &registry)
                .file("roles.yaml", &roles);
            scenario
                .with_admin(cluster, AdminKind::CreateRole)
                .env("PGROSTER_ACTOR", &format!("actor-{i}"));
            sink.credentials(&mut scenario);
            scenario
        })
        .collect();

    let children: Vec<_> = scenarios
        .iter()
        .map(|s| {
            s.pgroster(&["apply", "--auto-approve"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|child| Output::from(child.wait_with_output().unwrap()))
        .collect();
    let mut run_ids = BTreeSet::new();
    for (i, out) in outputs.iter().enumerate() {
        assert!(
            !out.stderr.contains("locked") && !out.stdout.contains("locked"),
            "apply {i} hit a lock\n{}",
            dump(out)
        );
        assert_eq!(out.code, 0, "apply {i}\n{}", dump(out));
        assert_stdout_has(out, &format!("Roles: {ROLES} added"));
        run_ids.insert(run_id(out));
    }
    assert_eq!(run_ids.len(), 4);

    // Every run's rows are in the one log, each with its own actor, cluster and outcome.
    let audit = scenarios[0].run(&["audit", "--format", "json"]);
    audit.expect_success();
    let entries = parse_json(&audit);
    let entries = entries.as_array().unwrap();
    let mut per_run: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in entries {
        per_run
            .entry(e["run_id"].as_str().unwrap().to_string())
            .or_default()
            .push(e);
    }
    assert_eq!(
        per_run.keys().cloned().collect::<BTreeSet<_>>(),
        run_ids,
        "runs in the audit log"
    );
    for (i, cluster) in clusters.iter().enumerate() {
        let rows: Vec<&&Value> = per_run
            .values()
            .flatten()
            .filter(|e| e["port"] == cluster.port)
            .collect();
        // A create_role and a set_marker per role.
        assert_eq!(rows.len(), 2 * ROLES, "cluster {i}");
        let run = rows[0]["run_id"].as_str().unwrap();
        for e in &rows {
            assert_eq!(e["run_id"], run, "{e}");
            assert_eq!(e["actor"], format!("actor-{i}").as_str(), "{e}");
            assert_eq!(e["outcome"], "ok", "{e}");
            assert!(
                e["role"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("c{i}_group_")),
                "{e}"
            );
        }
        let creates: BTreeSet<&str> = rows
            .iter()
            .filter(|e| e["action"] == "create_role")
            .map(|e| e["role"].as_str().unwrap())
            .collect();
        assert_eq!(creates.len(), ROLES, "cluster {i}");
    }
}

/// The same apply, logged once to a file and once to a sink, exports the same rows in every
/// format once the run id, times and ports (which differ by nature) are set aside.
#[test]
fn both_backends_export_the_same_rows_in_every_format() {
    let (sqlite, postgres) = (Sink::sqlite(), Sink::postgres());
    let roles = "roles:
  - name: same_limited
    connection_limit: 3
    targets: [\"dev/*\"]
  - name: same_group
    targets: [\"dev/*\", \"prod/*\"]
";
    let exports: Vec<BTreeMap<&str, String>> = [&sqlite, &postgres]
        .into_iter()
        .map(|sink| {
            let (dev, prod, mut scenario) = dev_and_prod(sink);
            // One cluster pair per backend: the host:port differ, and are normalised below.
            scenario.env("PGROSTER_ACTOR", "same-actor");
            scenario.file("roles.yaml", roles);
            let run = run_id(scenario.run(&["apply", "--auto-approve"]).expect_success());
            let ports = [dev.port.to_string(), prod.port.to_string()];
            ["table", "json", "csv"]
                .into_iter()
                .map(|format| {
                    let out = scenario.run(&["audit", "--format", format]);
                    out.expect_success();
                    let mut text = out.stdout.replace(&run, "RUN");
                    // Five digits each, as the ports are, so that the table keeps its widths.
                    for (port, name) in ports.iter().zip(["11111", "22222"]) {
                        text = text.replace(port.as_str(), name);
                    }
                    let text = normalise_times(&text);
                    // Clusters are applied side by side, so rows of one second come in either
                    // cluster's order: the lines are compared as a set.
                    let mut lines: Vec<&str> = text.lines().collect();
                    lines.sort();
                    (format, lines.join("\n"))
                })
                .collect()
        })
        .collect();
    assert!(
        exports[0]["json"].contains("same_group"),
        "{}",
        exports[0]["json"]
    );
    assert_eq!(exports[0], exports[1]);
}

/// `YYYY-MM-DDTHH:MM:SSZ` times replaced by a fixed one of the same width.
fn normalise_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let candidate = text.get(i..i + 20).unwrap_or("");
        if candidate.len() == 20 && validate_since(candidate).as_deref() == Ok(candidate) {
            out.push_str("2000-01-01T00:00:00Z");
            i += 20;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The URL holds no password: one there is refused at file:line:column, and never repeated.
#[test]
fn a_password_in_the_sink_url_is_refused_where_it_is_written() {
    let (cluster, mut scenario) =
        crate::harness::single_cluster(&[("dev", "app")], AdminKind::Superuser);
    let secret = random_secret("Url-Secret-");
    let registry = std::fs::read_to_string(scenario.path().join("registry.toml")).unwrap();
    scenario.file(
        "registry.toml",
        &registry.replacen(
            "audit_log = \"pgroster-audit.db\"",
            &format!("audit_log = \"postgresql://{SINK_USER}:{secret}@127.0.0.1:1/audit\""),
            1,
        ),
    );
    scenario.file(
        "roles.yaml",
        "roles:\n  - name: never_made\n    targets: [\"dev/*\"]\n",
    );
    scenario.env("PGROSTER_AUDIT_PASSWORD", "unused");
    for args in [&["plan"][..], &["apply", "--auto-approve"], &["audit"]] {
        let out = scenario.run(args);
        out.expect_code(1);
        assert_stderr_has(&out, &location(&scenario, "registry.toml", 2, 1));
        assert_stderr_has(&out, "credentials come from the environment");
        assert_nowhere(&out, &secret);
    }
    assert!(!crate::harness::role_exists(&cluster, "never_made"));
}

/// Without a password the sink's error names the variables to set, and the URL, never the
/// admin's password (which is not the sink's).
#[test]
fn a_sink_without_its_password_says_where_to_put_it() {
    let sink = Sink::postgres();
    let (dev, _prod, mut scenario) = dev_and_prod(&sink);
    scenario.env("PGROSTER_AUDIT_PASSWORD", "");
    scenario.file(
        "roles.yaml",
        "roles:\n  - name: not_yet\n    targets: [\"dev/*\"]\n",
    );
    let out = scenario.run(&["apply", "--auto-approve"]);
    out.expect_code(1);
    assert_stderr_has(&out, &format!("audit log {}", sink.setting()));
    assert_stderr_has(&out, "PGROSTER_AUDIT_PASSWORD or PGPASSWORD");
    assert!(
        !crate::harness::role_exists(&dev, "not_yet"),
        "nothing runs without the log"
    );
    let (_, admin_password) = dev.admin(AdminKind::Superuser);
    assert_nowhere(&out, &admin_password);
}

/// An administrator may create the schema once (here: a first run as the owner) and let the
/// runners only write rows: no CREATE on the database, no DDL at open.
#[test]
fn a_sink_whose_schema_exists_needs_only_row_privileges() {
    let sink = Sink::postgres();
    let Sink::Postgres { cluster, .. } = &sink else {
        unreachable!()
    };
    drop(sink.open());
    let writer_password = random_secret("Writer-");
    exec(
        cluster,
        SINK_DATABASE,
        &format!(
            "REVOKE CREATE ON DATABASE {SINK_DATABASE} FROM {SINK_USER};
             ALTER SCHEMA pgroster_audit OWNER TO postgres;
             ALTER TABLE pgroster_audit.runs OWNER TO postgres;
             ALTER TABLE pgroster_audit.changes OWNER TO postgres;
             ALTER TABLE pgroster_audit.schema_version OWNER TO postgres;
             CREATE ROLE {SINK_USER}_rows LOGIN PASSWORD '{writer_password}';
             GRANT USAGE ON SCHEMA pgroster_audit TO {SINK_USER}_rows;
             GRANT SELECT ON pgroster_audit.schema_version TO {SINK_USER}_rows;
             GRANT SELECT, INSERT, UPDATE ON pgroster_audit.runs, pgroster_audit.changes
                TO {SINK_USER}_rows;
             GRANT USAGE ON SEQUENCE pgroster_audit.changes_id_seq TO {SINK_USER}_rows;"
        ),
    );
    let (_dev, _prod, mut scenario) = dev_and_prod(&sink);
    let registry = std::fs::read_to_string(scenario.path().join("registry.toml")).unwrap();
    scenario.file(
        "registry.toml",
        &registry.replace(&format!("{SINK_USER}@"), &format!("{SINK_USER}_rows@")),
    );
    scenario.env("PGROSTER_AUDIT_PASSWORD", &writer_password);
    scenario.file(
        "roles.yaml",
        "roles:\n  - name: rows_only\n    targets: [\"dev/*\"]\n",
    );
    scenario.run(&["apply", "--auto-approve"]).expect_success();
    let entries = parse_json(&scenario.run(&["audit", "--format", "json"]));
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["role"] == "rows_only" && e["outcome"] == "ok"),
        "{entries}"
    );
}
