//! Concurrent runs (issue 9): apply and reset take pgroster's cluster-wide lock in one database
//! (`lock_database`) before they read the catalogs, so a second run plans against what the first
//! committed; `plan` takes no lock; a killed run's lock goes with its session. Each test holds the
//! lock (or a row) itself from a session of its own and polls `pg_locks` until the runs it started
//! wait behind it before it lets go.

use crate::harness::{
    assert_has, assert_stderr_has, attrs, audit_entries, creds_path, dump, exec, location, logs_in,
    password_of, read_credentials, registry_toml, role_exists, scalar, settings, single_cluster,
    text_of, with_settings, AdminKind, Cluster, Output, Scenario,
};
use postgres::Client;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// pgroster's advisory lock key ("pgroster" in ASCII).
const LOCK_KEY: i64 = 0x7067_726f_7374_6572;

/// A session of the test's own holding pgroster's lock in `db`, as another run would.
pub(crate) struct HeldLock {
    client: Client,
    pid: i32,
}

impl HeldLock {
    pub(crate) fn take(cluster: &Cluster, db: &str) -> HeldLock {
        let mut client = cluster.client(db);
        let acquired: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
            .unwrap()
            .get(0);
        assert!(acquired, "pgroster's lock was already held in {db}");
        let pid = client
            .query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get(0);
        HeldLock { client, pid }
    }

    pub(crate) fn release(mut self) {
        let released: bool = self
            .client
            .query_one("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
            .unwrap()
            .get(0);
        assert!(released);
    }
}

/// Sessions waiting for pgroster's lock in `db`.
pub(crate) fn waiting(cluster: &Cluster, db: &str) -> usize {
    scalar(
        cluster,
        db,
        &format!(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = {LOCK_KEY} \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
    )
    .parse()
    .unwrap()
}

/// Polls the server until `count` sessions wait for the lock in `db`; fails at once when a run
/// exits first (it did not wait).
pub(crate) fn wait_for_waiters(cluster: &Cluster, db: &str, count: usize, runs: &mut [Child]) {
    poll(&format!("{count} runs do not wait for the lock"), || {
        for run in runs.iter_mut() {
            if let Some(status) = run.try_wait().unwrap() {
                panic!("a run exited ({status}) before {count} waited for the lock");
            }
        }
        waiting(cluster, db) == count
    });
}

/// Polls the server until `condition` holds; fails after a minute.
pub(crate) fn poll(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "{what} after a minute");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub(crate) fn spawn(s: &Scenario, args: &[&str]) -> Child {
    s.pgroster(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn finish(run: Child) -> Output {
    Output::from(run.wait_with_output().unwrap())
}

#[test]
fn ten_concurrent_applies_rotate_a_password_once_issue_9() {
    let (cluster, s) = single_cluster(&[("dev", "app_a")], AdminKind::Superuser);
    let roles = "roles:\n  - name: rot\n    login: true\n    password: { rotate: \"a\" }\n    \
                 targets: [\"dev/app_a\"]\n";
    s.file("roles.yaml", roles);
    s.apply(Some("creds0.json")).expect_success();
    let old = password_of(&read_credentials(&creds_path(&s, "creds0.json")), "rot");
    s.file(
        "roles.yaml",
        &roles.replace("rotate: \"a\"", "rotate: \"b\""),
    );

    let held = HeldLock::take(&cluster, "postgres");
    let holder = held.pid;
    let files: Vec<String> = (0..10).map(|i| format!("creds-{i}.json")).collect();
    let mut runs: Vec<Child> = files
        .iter()
        .map(|file| {
            let path = creds_path(&s, file);
            spawn(
                &s,
                &[
                    "apply",
                    "--auto-approve",
                    "--credentials-out",
                    path.to_str().unwrap(),
                ],
            )
        })
        .collect();
    wait_for_waiters(&cluster, "postgres", 10, &mut runs);
    held.release();
    let outs: Vec<Output> = runs.into_iter().map(finish).collect();

    // Each named the busy cluster and the test's own session, which held the lock meanwhile.
    for out in &outs {
        out.expect_success();
        assert_stderr_has(
            out,
            &format!(
                "127.0.0.1:{} is busy: another run holds pgroster's lock (database postgres), \
                 held by pid {holder} (pgroster-test-harness)",
                cluster.port
            ),
        );
    }
    let rotated: Vec<&Output> = outs
        .iter()
        .filter(|o| !o.stdout.contains("No changes."))
        .collect();
    assert_eq!(
        rotated.len(),
        1,
        "{}",
        outs.iter().map(dump).collect::<Vec<_>>().join("\n")
    );
    let delivered: Vec<&String> = files
        .iter()
        .filter(|f| creds_path(&s, f).exists())
        .collect();
    assert_eq!(delivered.len(), 1, "credentials files: {delivered:?}");
    let new = password_of(&read_credentials(&creds_path(&s, delivered[0])), "rot");
    assert!(logs_in(&cluster, "rot", &new, "app_a"));
    assert!(!logs_in(&cluster, "rot", &old, "app_a"));
    let resets: Vec<serde_json::Value> = audit_entries(&s)
        .into_iter()
        .filter(|e| text_of(e, "action") == "reset_password")
        .collect();
    assert_eq!(resets.len(), 1, "{resets:#?}");
    assert_eq!(text_of(&resets[0], "outcome"), "ok");
    s.assert_converged();
}

#[test]
fn two_targets_of_one_cluster_apply_one_after_the_other_issue_9() {
    let (cluster, s) = single_cluster(&[("dev", "app_a"), ("dev", "app_b")], AdminKind::CreateRole);
    // One role on both targets: each run creates it when it runs alone, and each sets its own
    // database's setting.
    s.file(
        "roles.yaml",
        "roles:\n  - name: both\n    set: { work_mem: \"8MB\" }\n    targets: [\"dev/*\"]\n",
    );
    let held = HeldLock::take(&cluster, "postgres");
    // A plan reads without the lock, so it does not wait.
    s.plan_changes();
    let mut runs: Vec<Child> = ["dev/app_a", "dev/app_b"]
        .iter()
        .map(|target| spawn(&s, &["apply", "--auto-approve", "--target", target]))
        .collect();
    wait_for_waiters(&cluster, "postgres", 2, &mut runs);
    assert!(
        !role_exists(&cluster, "both"),
        "a run went ahead of the lock"
    );
    held.release();
    let outs: Vec<Output> = runs.into_iter().map(finish).collect();
    for out in &outs {
        out.expect_success();
    }
    // One run created the role; the other, planning after it, only added its own setting.
    let created = outs
        .iter()
        .filter(|o| o.stdout.contains("+ role \"both\""))
        .count();
    assert_eq!(created, 1, "{}", outs.iter().map(dump).collect::<String>());
    assert_eq!(
        settings(&cluster, "both"),
        ["app_a: work_mem=8MB", "app_b: work_mem=8MB"]
    );
    s.assert_converged();
}

#[test]
fn a_run_gives_up_after_lock_timeout_and_names_who_holds_the_lock() {
    let (cluster, s) = single_cluster(&[("dev", "app_a")], AdminKind::Superuser);
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    s.file(
        "registry.toml",
        &with_settings(&registry, "lock_timeout = \"200ms\""),
    );
    s.file(
        "roles.yaml",
        "roles:\n  - name: r1\n    login: true\n    targets: [\"dev/app_a\"]\n",
    );
    let held = HeldLock::take(&cluster, "postgres");
    let holder = format!(
        "127.0.0.1:{} is busy: another run holds pgroster's lock (database postgres), held by \
         pid {} (pgroster-test-harness); waiting up to 200ms (setting lock_timeout)",
        cluster.port, held.pid
    );
    let out = s.apply(Some("creds.json"));
    out.expect_code(1);
    assert_stderr_has(&out, &holder);
    assert_stderr_has(
        &out,
        "held the lock on this cluster for longer than lock_timeout (200ms)",
    );
    assert!(!role_exists(&cluster, "r1"));
    assert!(!creds_path(&s, "creds.json").exists());
    // reset takes the same lock.
    exec(&cluster, "postgres", "CREATE ROLE r1 LOGIN");
    let out = s.reset("r1", "dev/app_a", Some("reset.json"));
    out.expect_code(1);
    assert_stderr_has(&out, &holder);
    assert_stderr_has(&out, "longer than lock_timeout (200ms)");
    assert!(!creds_path(&s, "reset.json").exists());
    held.release();
    s.reset("r1", "dev/app_a", Some("reset.json"))
        .expect_success();
}

#[test]
fn an_unreachable_lock_database_fails_apply_and_reset_but_not_plan() {
    let (cluster, s) = single_cluster(&[("dev", "app_a")], AdminKind::Superuser);
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    s.file(
        "registry.toml",
        &with_settings(&registry, "lock_database = \"no_such_db\""),
    );
    s.file(
        "roles.yaml",
        "roles:\n  - name: r1\n    login: true\n    password: none\n    targets: [\"dev/app_a\"]\n",
    );
    s.plan_changes();
    let out = s.apply(None);
    out.expect_code(1);
    assert_has(
        &out.stdout,
        "the lock database \"no_such_db\" (setting lock_database) cannot be reached",
    );
    assert_stderr_has(&out, "(setting lock_database)");
    assert!(!role_exists(&cluster, "r1"));
    exec(&cluster, "postgres", "CREATE ROLE r1 LOGIN");
    let out = s.reset("r1", "dev/app_a", Some("reset.json"));
    out.expect_code(1);
    assert_stderr_has(&out, "\"no_such_db\" (setting lock_database)");

    // A lock_timeout PostgreSQL would not take is a located config error.
    s.file(
        "registry.toml",
        &with_settings(&registry, "lock_timeout = \"5 minutes\""),
    );
    let out = s.run(&["validate"]);
    out.expect_code(1);
    assert_stderr_has(&out, &location(&s, "registry.toml", 2, 1));
    assert_stderr_has(
        &out,
        "lock_timeout `5 minutes` is not a time PostgreSQL accepts",
    );
}

#[test]
fn apply_runs_when_a_target_database_is_the_lock_database() {
    // A unit's own lock in its database would wait for the run's lock there for ever.
    let (cluster, s) = single_cluster(&[], AdminKind::CreateRole);
    let registry = registry_toml(&[("dev", "postgres", &cluster)]);
    s.file("registry.toml", &registry);
    s.file(
        "roles.yaml",
        "roles:\n  - name: r1\n    set: { work_mem: \"8MB\" }\n    targets: [\"dev/postgres\"]\n",
    );
    s.apply(None).expect_success();
    assert_eq!(settings(&cluster, "r1"), ["postgres: work_mem=8MB"]);
    s.assert_converged();
}

#[test]
fn two_applies_over_two_clusters_wait_in_order_and_both_succeed() {
    let a = Cluster::start();
    let b = Cluster::start();
    a.create_database("app_a");
    b.create_database("app_b");
    let mut s = Scenario::new();
    s.with_admin(&a, AdminKind::Superuser);
    s.file(
        "registry.toml",
        &registry_toml(&[("dev", "app_a", &a), ("prod", "app_b", &b)]),
    );
    s.file(
        "roles.yaml",
        "roles:\n  - name: shared\n    targets: [\"dev/*\", \"prod/*\"]\n",
    );
    // The second cluster in ClusterKey order is busy: each run releases what it took and
    // queues for both in order, so neither holds one lock while waiting for the other's.
    let (first, second) = if a.port < b.port { (&a, &b) } else { (&b, &a) };
    let held = HeldLock::take(second, "postgres");
    let mut runs = vec![
        spawn(&s, &["apply", "--auto-approve"]),
        spawn(&s, &["apply", "--auto-approve"]),
    ];
    // One run holds the first cluster and waits for the second; the other waits for the first.
    wait_for_waiters(second, "postgres", 1, &mut runs);
    wait_for_waiters(first, "postgres", 1, &mut runs);
    held.release();
    let outs: Vec<Output> = runs.into_iter().map(finish).collect();
    for out in &outs {
        out.expect_success();
    }
    let applied = outs
        .iter()
        .filter(|o| o.stdout.contains("+ role \"shared\""))
        .count();
    assert_eq!(applied, 1, "{}", outs.iter().map(dump).collect::<String>());
    assert!(role_exists(&a, "shared") && role_exists(&b, "shared"));
    s.assert_converged();
}

/// Sessions holding pgroster's lock in `db`.
fn holding(cluster: &Cluster, db: &str) -> usize {
    scalar(
        cluster,
        db,
        &format!(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = {LOCK_KEY}"
        ),
    )
    .parse()
    .unwrap()
}

#[test]
fn a_killed_apply_leaves_no_lock_behind() {
    let (cluster, s) = single_cluster(&[("dev", "app_a")], AdminKind::Superuser);
    let roles = "roles:\n  - name: r1\n    password: none\n    connection_limit: 5\n    \
                 targets: [\"dev/app_a\"]\n";
    s.file("roles.yaml", roles);
    s.apply(None).expect_success();
    s.file("roles.yaml", &roles.replace("limit: 5", "limit: 7"));
    // The test's open transaction holds r1's row: the apply blocks on it, holding its lock.
    let mut blocker = cluster.client("postgres");
    blocker
        .batch_execute("BEGIN; ALTER ROLE r1 CONNECTION LIMIT 6")
        .unwrap();
    let mut run = spawn(&s, &["apply", "--auto-approve"]);
    poll("the apply does not wait for r1's row", || {
        let waiting: usize = scalar(
            &cluster,
            "postgres",
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
             WHERE NOT l.granted AND a.application_name = 'pgroster'",
        )
        .parse()
        .unwrap();
        if let Some(status) = run.try_wait().unwrap() {
            panic!("apply exited ({status}) instead of waiting");
        }
        waiting > 0
    });
    assert_eq!(holding(&cluster, "postgres"), 1);
    run.kill().unwrap();
    run.wait().unwrap();
    blocker.batch_execute("ROLLBACK").unwrap();
    // The server ends the killed run's session, and its lock with it.
    poll("the killed run's lock is still held", || {
        holding(&cluster, "postgres") == 0
    });
    assert_eq!(
        attrs(&cluster, "r1"),
        "login=false limit=5 until=never createdb=false createrole=false superuser=false"
    );
    s.apply(None).expect_success();
    s.assert_converged();
}

/// Issue 12: clusters are applied side by side (`--parallelism`, default 16). With the first
/// cluster's role transaction blocked behind a lock the test holds, the second still commits;
/// one cluster at a time, it would wait behind the first. The output stays in registry order.
#[test]
fn clusters_are_applied_side_by_side_while_one_is_blocked_issue_12() {
    let mut clusters = [Cluster::start(), Cluster::start()];
    clusters.sort_by_key(|c| c.port);
    let [first, second] = clusters;
    for cluster in [&first, &second] {
        cluster.create_database("app");
        exec(cluster, "postgres", "CREATE ROLE shared");
    }
    let registry = registry_toml(&[("dev", "app", &first), ("stg", "app", &second)]);
    let roles =
        "roles:\n  - name: shared\n    password: none\n    targets: [\"dev/app\", \"stg/app\"]\n";
    let s = Scenario::with_files(&first, AdminKind::Superuser, &registry, roles);
    // COMMENT ON ROLE holds the role until commit: the first cluster's marker waits for it.
    let mut holder = first.client("postgres");
    holder
        .batch_execute("BEGIN; COMMENT ON ROLE shared IS 'held by the test'")
        .unwrap();
    let mut run = spawn(&s, &["apply", "--auto-approve"]);
    poll("the second cluster commits while the first waits", || {
        if let Some(status) = run.try_wait().unwrap() {
            panic!("the apply exited ({status}) while the first cluster was blocked");
        }
        scalar(
            &second,
            "postgres",
            "SELECT coalesce(shobj_description('shared'::regrole, 'pg_authid'), '')",
        ) == "managed by pgroster"
    });
    holder.batch_execute("ROLLBACK").unwrap();
    let out = finish(run);
    out.expect_success();
    let first_at = out.stdout.find(&format!("127.0.0.1:{}", first.port));
    let second_at = out.stdout.find(&format!("127.0.0.1:{}", second.port));
    assert!(first_at < second_at, "registry order:\n{}", dump(&out));
    s.assert_converged();
}
