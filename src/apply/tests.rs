//! The write-ahead order of `run`, seen by an executor that records instead of running SQL:
//! the one place where the database is not real, because the promise is about the audit log.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::model::privileges::ObjectKind;
use crate::model::{Attributes, RoleName, TargetName};
use crate::plan::{Change, ClusterPlan, GrantObjects, Plan, RoleAction, RolePlan};
use std::path::{Path, PathBuf};

fn cluster_key() -> ClusterKey {
    ClusterKey {
        host: "pg-test".into(),
        port: 5432,
    }
}

fn role(name: &str, changes: Vec<Change>) -> RolePlan {
    RolePlan {
        role: RoleName::existing(name),
        action: RoleAction::Create,
        profile: None,
        targets: vec![TargetName {
            env: "dev".into(),
            database: "app".into(),
        }],
        changes,
    }
}

/// Two roles, each created and granted SELECT in database `app`: a roles unit, then a
/// privileges unit.
fn plan() -> Plan {
    let create = Change::CreateRole {
        attributes: Attributes::default(),
        password: None,
    };
    let grant = Change::Grant {
        database: "app".into(),
        kind: ObjectKind::Table,
        objects: GrantObjects::AllInSchema {
            schema: "public".into(),
        },
        privileges: vec!["SELECT".into()],
        grant_option: false,
    };
    Plan::new(
        vec![ClusterPlan {
            name: String::new(),
            cluster: cluster_key(),
            targets: Vec::new(),
            server_version_num: Some(150000),
            roles: vec![
                role("alice", vec![create.clone(), grant.clone()]),
                role("bob", vec![create, grant]),
            ],
            public: Vec::new(),
            notes: Vec::new(),
            errors: Vec::new(),
            unmanaged: Vec::new(),
            expiring: Vec::new(),
        }],
        Vec::new(),
        Vec::new(),
    )
}

/// What the audit log held, seen from another connection, when a unit was executed.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    kind: UnitKind,
    /// (role, action, outcome) of every recorded change, in recording order.
    log: Vec<(String, String, String)>,
}

struct Recorder {
    audit_path: PathBuf,
    seen: Vec<Seen>,
    fail: Option<UnitKind>,
    /// The failing change's index, when the failure is pinned down.
    failed_index: Option<usize>,
    /// The failure is a COMMIT without an answer.
    commit_unknown: bool,
}

impl Recorder {
    fn new(audit_path: &Path, fail: Option<UnitKind>) -> Self {
        Recorder {
            audit_path: audit_path.to_path_buf(),
            seen: Vec::new(),
            fail,
            failed_index: Some(1),
            commit_unknown: false,
        }
    }
}

fn committed_log(path: &Path) -> Vec<(String, String, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut statement = conn
        .prepare("SELECT role, action, outcome FROM changes ORDER BY id")
        .unwrap();
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

impl Executor for Recorder {
    fn execute(
        &mut self,
        _: &ClusterKey,
        unit: &Unit<'_>,
        opened: &mut dyn FnMut(&str) -> Result<(), ()>,
    ) -> Result<(), ExecuteError> {
        opened("4242").unwrap();
        self.seen.push(Seen {
            kind: unit.kind.clone(),
            log: committed_log(&self.audit_path),
        });
        if self.fail.as_ref() == Some(&unit.kind) {
            return Err(ExecuteError {
                failed_index: self.failed_index,
                commit_unknown: self.commit_unknown,
                message: "boom".into(),
            });
        }
        Ok(())
    }
}

/// A delivery that remembers what the audit log held when it was called.
#[derive(Default)]
struct Courier {
    delivered: Vec<(String, String)>,
    runs_in_log: usize,
    audit_path: PathBuf,
    fail: bool,
}

impl Deliver for Courier {
    fn deliver(
        &mut self,
        run: &RunId,
        credentials: &[&GeneratedCredential],
    ) -> Result<(), DeliveryError> {
        let conn = rusqlite::Connection::open(&self.audit_path).unwrap();
        self.runs_in_log = conn
            .query_row("SELECT count(*) FROM runs", [], |row| row.get(0))
            .unwrap();
        if self.fail {
            return Err(DeliveryError {
                destination: self.destination(),
                cause: "disk full".into(),
            });
        }
        self.delivered.extend(
            credentials
                .iter()
                .map(|c| (c.role.to_string(), run.to_string())),
        );
        Ok(())
    }

    fn destination(&self) -> String {
        "the courier".into()
    }
}

fn courier(path: &Path) -> Courier {
    Courier {
        audit_path: path.to_path_buf(),
        ..Courier::default()
    }
}

/// A fresh audit log in a temp dir, and `run` on it as one actor and command.
struct TestLog {
    _dir: tempfile::TempDir,
    path: PathBuf,
    audit: AuditLog,
}

impl TestLog {
    fn new() -> TestLog {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let audit = AuditLog::open(&path).unwrap();
        TestLog {
            _dir: dir,
            path,
            audit,
        }
    }

    fn run(
        &mut self,
        prepared: &Prepared<'_>,
        recorder: &mut Recorder,
        courier: &mut Courier,
    ) -> Result<ApplyReport, ApplyError> {
        // The fixture plans one cluster.
        let mut executors: BTreeMap<ClusterKey, &mut Recorder> = prepared
            .clusters
            .iter()
            .map(|c| c.cluster.clone())
            .take(1)
            .zip(std::iter::once(recorder))
            .collect();
        run(
            prepared,
            &mut executors,
            &mut self.audit,
            courier,
            &RunAs {
                actor: "tester",
                command: "apply",
                parallelism: 1,
                progress: &crate::progress::Silent,
            },
        )
    }
}

fn entry(role: &str, action: &str, outcome: &str) -> (String, String, String) {
    (role.into(), action.into(), outcome.into())
}

#[test]
fn every_unit_runs_only_after_its_changes_are_committed_to_the_log_and_the_previous_outcomes_too() {
    let mut log = TestLog::new();
    let path = log.path.clone();
    let plan = plan();
    let prepared = prepare(&plan, &|_| None).unwrap();
    let mut recorder = Recorder::new(&path, None);

    let report = log
        .run(&prepared, &mut recorder, &mut courier(&path))
        .unwrap();

    assert_eq!(
        recorder.seen,
        [
            Seen {
                kind: UnitKind::Roles,
                log: vec![
                    entry("alice", "create_role", "started"),
                    entry("bob", "create_role", "started"),
                ],
            },
            Seen {
                kind: UnitKind::Privileges("app".into()),
                log: vec![
                    entry("alice", "create_role", "ok"),
                    entry("bob", "create_role", "ok"),
                    entry("alice", "grant", "started"),
                    entry("bob", "grant", "started"),
                ],
            },
        ]
    );
    assert_eq!(
        committed_log(&path).iter().filter(|e| e.2 == "ok").count(),
        4
    );
    assert_eq!(report.failed_clusters(), 0);
    assert_eq!(
        (report.clusters[0].added, report.clusters[0].changed),
        (2, 0)
    );
}

#[test]
fn a_failed_role_unit_names_its_change_and_later_units_are_recorded_as_not_run() {
    let mut log = TestLog::new();
    let path = log.path.clone();
    let plan = plan();
    let prepared = prepare(&plan, &|_| None).unwrap();
    let mut recorder = Recorder::new(&path, Some(UnitKind::Roles));

    let report = log
        .run(&prepared, &mut recorder, &mut courier(&path))
        .unwrap();

    assert_eq!(
        recorder.seen.len(),
        1,
        "nothing runs after the roles failed"
    );
    let log = committed_log(&path);
    assert_eq!(
        log[0].2,
        "rolled back: another change on pg-test:5432 failed"
    );
    assert_eq!(log[1].2, "failed: boom");
    assert!(log[2..]
        .iter()
        .all(|e| e.2 == "rolled back: not run: the cluster's role changes failed"));
    let cluster = &report.clusters[0];
    assert!(!cluster.roles_committed);
    assert_eq!((cluster.added, cluster.changed), (0, 0));
    assert_eq!(report.failed_clusters(), 1);
    let failure = cluster.failures[0].to_string();
    assert!(
        failure.contains("boom while running `CREATE ROLE"),
        "{failure}"
    );
    assert!(failure.contains("for role \"bob\""), "{failure}");
}

#[test]
fn a_failure_that_cannot_be_located_rolls_back_every_change_and_blames_none() {
    let mut log = TestLog::new();
    let path = log.path.clone();
    let plan = plan();
    let prepared = prepare(&plan, &|_| None).unwrap();
    let mut recorder = Recorder::new(&path, Some(UnitKind::Roles));
    recorder.failed_index = None;

    let report = log
        .run(&prepared, &mut recorder, &mut courier(&path))
        .unwrap();

    let log = committed_log(&path);
    let unlocated = "rolled back: boom (the failing statement could not be identified)";
    assert_eq!(log[0].2, unlocated);
    assert_eq!(log[1].2, unlocated);
    assert!(log.iter().all(|e| !e.2.starts_with("failed")), "{log:?}");
    let failure = report.clusters[0].failures[0].to_string();
    assert!(!failure.contains("while running"), "{failure}");
    assert!(
        failure.contains("the failing statement could not be identified"),
        "{failure}"
    );
}

#[test]
fn a_commit_without_an_answer_leaves_its_changes_started_and_its_passwords_live() {
    let mut log = TestLog::new();
    let path = log.path.clone();
    let plan = generating_plan();
    let prepared = prepare(&plan, &|_| None).unwrap();
    let mut recorder = Recorder::new(&path, Some(UnitKind::Roles));
    recorder.commit_unknown = true;

    let report = log
        .run(&prepared, &mut recorder, &mut courier(&path))
        .unwrap();

    let log = committed_log(&path);
    assert_eq!(log[0].2, "started");
    assert_eq!(log[1].2, "started");
    assert_eq!(report.live_credentials(&prepared).count(), 2);
    let failure = report.clusters[0].failures[0].to_string();
    assert!(failure.contains("audit --run"), "{failure}");
    assert!(!failure.contains("rolled back"), "{failure}");
}

/// Two generated passwords: alice's and bob's roles are created with `password: generated`.
fn generating_plan() -> Plan {
    let mut plan = plan();
    for role in &mut plan.clusters[0].roles {
        role.changes[0] = Change::CreateRole {
            attributes: Attributes::default(),
            password: Some(crate::plan::PasswordSource::Generated),
        };
    }
    plan
}

#[test]
fn passwords_are_delivered_with_the_run_id_after_the_run_starts_and_before_any_unit_runs() {
    let mut log = TestLog::new();
    let path = log.path.clone();
    let plan = generating_plan();
    let prepared = prepare(&plan, &|_| None).unwrap();
    let mut recorder = Recorder::new(&path, None);
    let mut courier = courier(&path);

    let report = log.run(&prepared, &mut recorder, &mut courier).unwrap();

    assert_eq!(courier.runs_in_log, 1, "the run starts before delivery");
    let run_id = report.run.to_string();
    assert_eq!(
        courier.delivered,
        [
            ("alice".to_string(), run_id.clone()),
            ("bob".to_string(), run_id)
        ]
    );
    assert_eq!(recorder.seen.len(), 2);
    assert_eq!(report.live_credentials(&prepared).count(), 2);
}

#[test]
fn a_failed_delivery_runs_nothing_and_fails_the_run() {
    let mut log = TestLog::new();
    let path = log.path.clone();
    let plan = generating_plan();
    let prepared = prepare(&plan, &|_| None).unwrap();
    let mut recorder = Recorder::new(&path, None);
    let mut courier = courier(&path);
    courier.fail = true;

    let error = log.run(&prepared, &mut recorder, &mut courier).unwrap_err();

    assert!(matches!(error, ApplyError::Delivery { .. }), "{error}");
    assert!(error.to_string().contains("disk full"), "{error}");
    assert!(recorder.seen.is_empty(), "nothing ran");
    assert!(committed_log(&path).is_empty());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let status: String = conn
        .query_row("SELECT status FROM runs", [], |row| row.get(0))
        .unwrap();
    assert_eq!(status, "failed");
}

#[test]
fn a_rolled_back_role_unit_makes_its_passwords_not_live() {
    let mut log = TestLog::new();
    let path = log.path.clone();
    let plan = generating_plan();
    let prepared = prepare(&plan, &|_| None).unwrap();
    let mut recorder = Recorder::new(&path, Some(UnitKind::Roles));

    let report = log
        .run(&prepared, &mut recorder, &mut courier(&path))
        .unwrap();

    assert_eq!(report.live_credentials(&prepared).count(), 0);
}

#[test]
fn a_delivery_error_shows_its_cause_with_the_causes_behind_it() {
    #[derive(Debug, thiserror::Error)]
    #[error("writing creds.json")]
    struct Writing(#[source] std::io::Error);
    let error = DeliveryError {
        destination: "credentials file creds.json".into(),
        cause: Box::new(Writing(std::io::Error::other("No space left on device"))),
    };
    assert_eq!(
        error.to_string(),
        "writing creds.json: No space left on device"
    );
}
