//! Passwords are never lost (issue 9): apply aborted at chosen instants (the test-only fault
//! hook `PGROSTER_FAULT_ABORT_AT`, see src/apply/fault.rs), and an audit log locked past the
//! commit. Every password a committed run set was delivered, with its run id, before the commit;
//! `audit --run` tells which runs committed; the next apply converges.

use crate::harness::{
    assert_has, assert_stderr_has, creds_path, dump, logs_in, password_of, read_credentials,
    registry_toml, AdminKind, Cluster, Output, Scenario,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

const FAULT: &str = "PGROSTER_FAULT_ABORT_AT";

/// A login role with a generated password under rotation key `key`, granted SELECT on
/// `public.orders`, on every target in `targets`.
fn role_yaml(name: &str, key: u32, targets: &str) -> String {
    format!(
        "  - name: {name}\n    login: true\n    password: {{ rotate: \"k{key}\" }}\n    \
         targets: [{targets}]\n    grants:\n      - on: table\n        names: [public.orders]\n        \
         privileges: [SELECT]\n"
    )
}

fn roles_yaml(keys: &BTreeMap<String, u32>, targets: &str) -> String {
    let mut yaml = String::from("roles:\n");
    for (name, key) in keys {
        yaml.push_str(&role_yaml(name, *key, targets));
    }
    yaml
}

/// A cluster with database `app` holding `public.orders`.
fn cluster_with_orders() -> Cluster {
    let cluster = Cluster::start();
    cluster.create_database("app");
    crate::harness::exec(&cluster, "app", "CREATE TABLE public.orders (id int)");
    cluster
}

/// `apply --auto-approve --credentials-out <creds>`, aborted at fault point `at` (a number or a
/// name).
/// One cluster at a time, so that a fault point names the same instant on every run.
fn apply_aborted_at(s: &Scenario, creds: &str, at: &str) -> Output {
    let path = creds_path(s, creds);
    let out = s
        .pgroster(&[
            "apply",
            "--auto-approve",
            "--parallelism",
            "1",
            "--credentials-out",
            path.to_str().unwrap(),
        ])
        .env(FAULT, at)
        .output()
        .unwrap();
    Output::from(out)
}

/// What `audit --run` says of each transaction, in the order they ran: (cluster, verdict).
fn run_verdicts(s: &Scenario, run: &str) -> Vec<(String, String)> {
    let out = s.run(&["audit", "--run", run]);
    out.expect_success();
    out.stdout
        .lines()
        .skip(1)
        .filter(|l| !l.contains("no changes were recorded"))
        .map(|line| {
            let line = line.trim();
            let (cluster, _) = line.split_once(' ').unwrap();
            let (_, verdict) = line.split_once("change(s): ").unwrap();
            (cluster.to_string(), verdict.to_string())
        })
        .collect()
}

/// Whether the first transaction of `run` on `cluster` (its role changes) committed.
fn roles_committed(s: &Scenario, run: &str, cluster: &Cluster) -> bool {
    let address = format!("127.0.0.1:{}", cluster.port);
    let verdicts = run_verdicts(s, run);
    match verdicts.iter().find(|(c, _)| *c == address) {
        None => false,
        Some((_, verdict)) => {
            assert!(
                !verdict.starts_with("unknown"),
                "run {run} on {address}: {verdict}"
            );
            verdict == "committed"
        }
    }
}

#[test]
fn killed_right_after_the_first_clusters_role_commit_the_passwords_are_delivered_and_audit_says_committed(
) {
    // Clusters run in the order of their addresses.
    let mut clusters = [cluster_with_orders(), cluster_with_orders()];
    clusters.sort_by_key(|c| c.port);
    let [first, second] = clusters;
    let registry = registry_toml(&[("dev", "app", &first), ("stg", "app", &second)]);
    let keys: BTreeMap<String, u32> = (0..3).map(|i| (format!("crash_a{i}"), 1)).collect();
    let yaml = roles_yaml(&keys, "\"dev/app\", \"stg/app\"");
    let s = Scenario::with_files(&first, AdminKind::Superuser, &registry, &yaml);

    let killed = apply_aborted_at(&s, "killed.json", "after commit");
    assert_ne!(killed.code, 0, "{}", dump(&killed));
    let creds = read_credentials(&creds_path(&s, "killed.json"));
    let run = creds[0].run.clone();
    assert!(creds.iter().all(|c| c.run == run));
    let verdicts = run_verdicts(&s, &run);
    assert_eq!(
        verdicts,
        [(format!("127.0.0.1:{}", first.port), "committed".to_string())],
        "only the first cluster's role changes ran"
    );
    for role in keys.keys() {
        let on_first: Vec<_> = creds
            .iter()
            .filter(|c| c.role == *role && c.port == first.port)
            .cloned()
            .collect();
        let password = password_of(&on_first, role);
        assert!(logs_in(&first, role, &password, "app"), "{role}");
    }

    // The next apply finishes the run's work (the second cluster, the grants) and converges;
    // the first cluster's passwords are not reset again.
    s.apply(Some("next.json")).expect_success();
    let next = read_credentials(&creds_path(&s, "next.json"));
    assert!(next.iter().all(|c| c.port == second.port), "{next:?}");
    for role in keys.keys() {
        let password = password_of(&next, role);
        assert!(logs_in(&second, role, &password, "app"), "{role}");
    }
    s.assert_converged();
}

/// A scenario on `cluster` whose one role `role` was applied (its password in `first.json`) and
/// whose rotation key has changed since: the next apply resets the password.
fn rotation_pending(cluster: &Cluster, role: &str) -> Scenario {
    let registry = registry_toml(&[("dev", "app", cluster)]);
    let mut keys: BTreeMap<String, u32> = BTreeMap::from([(role.to_string(), 1)]);
    let s = Scenario::with_files(
        cluster,
        AdminKind::Superuser,
        &registry,
        &roles_yaml(&keys, "\"dev/app\""),
    );
    s.apply(Some("first.json")).expect_success();
    keys.insert(role.to_string(), 2);
    s.file("roles.yaml", &roles_yaml(&keys, "\"dev/app\""));
    s
}

#[test]
fn an_audit_log_locked_past_the_commit_names_the_committed_cluster_and_the_credentials_file() {
    let cluster = cluster_with_orders();
    let s = rotation_pending(&cluster, "locked_rot");

    let path = creds_path(&s, "locked.json");
    let (apply, holder) = apply_waiting_on_marker(&s, &cluster, "locked_rot", &path);
    let mut holder = holder;
    // The audit log's write lock, held until pgroster gave up on its outcome write.
    let audit = rusqlite::Connection::open(s.audit_log()).unwrap();
    audit.execute_batch("BEGIN IMMEDIATE").unwrap();
    holder.batch_execute("ROLLBACK").unwrap();
    let out = Output::from(apply.wait_with_output().unwrap());
    audit.execute_batch("ROLLBACK").unwrap();

    out.expect_code(1);
    assert_stderr_has(&out, "database is locked");
    assert_stderr_has(
        &out,
        &format!("changes committed on 127.0.0.1:{}", cluster.port),
    );
    assert_stderr_has(&out, &format!("credentials file {}", path.display()));
    let creds = read_credentials(&path);
    let password = password_of(&creds, "locked_rot");
    assert!(logs_in(&cluster, "locked_rot", &password, "app"));
    assert!(roles_committed(&s, &creds[0].run, &cluster));
    s.assert_converged();
}

/// Starts `apply --auto-approve --credentials-out path` while the test holds a lock on `role`,
/// and returns once the rotation's marker (COMMENT ON ROLE) waits for it, inside the role
/// transaction: the apply and the client holding the lock (`ROLLBACK` releases it).
fn apply_waiting_on_marker(
    s: &Scenario,
    cluster: &Cluster,
    role: &str,
    path: &std::path::Path,
) -> (std::process::Child, postgres::Client) {
    let mut holder = cluster.client("app");
    holder
        .batch_execute(&format!(
            "BEGIN; COMMENT ON ROLE {} IS 'held by the test'",
            crate::harness::ident(role)
        ))
        .unwrap();
    let mut apply = s
        .pgroster(&[
            "apply",
            "--auto-approve",
            "--credentials-out",
            path.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut watcher = cluster.client("postgres");
    // Polls (no sleep) until pgroster's COMMENT waits on the test's lock.
    while waiting_marker_pids(&mut watcher).is_empty() {
        assert!(apply.try_wait().unwrap().is_none(), "apply ended early");
    }
    (apply, holder)
}

/// The backends whose COMMENT ON ROLE waits on a lock.
fn waiting_marker_pids(client: &mut postgres::Client) -> Vec<i32> {
    client
        .query(
            "SELECT pid FROM pg_stat_activity
              WHERE wait_event_type = 'Lock' AND query LIKE '%COMMENT ON ROLE%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// A unit whose connection dies mid-transaction cannot say which statement failed: every change
/// of it is recorded rolled back with the real cause, none is blamed, and its passwords (never
/// live) leave no credentials file.
#[test]
fn a_unit_whose_connection_dies_blames_no_change_and_rolls_back_every_one() {
    let cluster = cluster_with_orders();
    let s = rotation_pending(&cluster, "cut_rot");
    let first = password_of(&read_credentials(&creds_path(&s, "first.json")), "cut_rot");

    let path = creds_path(&s, "cut.json");
    let (apply, mut holder) = apply_waiting_on_marker(&s, &cluster, "cut_rot", &path);
    let mut killer = cluster.client("postgres");
    for pid in waiting_marker_pids(&mut killer) {
        killer
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .unwrap();
    }
    holder.batch_execute("ROLLBACK").unwrap();
    let out = Output::from(apply.wait_with_output().unwrap());

    out.expect_code(1);
    assert_stderr_has(&out, "the failing statement could not be identified");
    assert!(!path.exists(), "no password of that run is live");
    assert!(logs_in(&cluster, "cut_rot", &first, "app"));
    let entries = crate::harness::audit_entries(&s);
    let outcomes: Vec<&str> = entries
        .iter()
        .filter(|e| e["command"] == "apply" && e["outcome"] != "ok")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(!outcomes.is_empty(), "{entries:?}");
    for outcome in outcomes {
        assert!(outcome.starts_with("rolled back: "), "{outcome}");
        assert!(
            outcome.ends_with("(the failing statement could not be identified)"),
            "{outcome}"
        );
    }
    // The rotation is still pending, and the next apply carries it out.
    s.apply(Some("again.json")).expect_success();
    s.assert_converged();
}

/// Every run id in the audit log, oldest first.
fn runs(s: &Scenario) -> Vec<String> {
    let log = rusqlite::Connection::open(s.audit_log()).unwrap();
    let mut select = log.prepare("SELECT run_id FROM runs ORDER BY id").unwrap();
    let ids = select.query_map([], |row| row.get(0)).unwrap();
    ids.map(Result::unwrap).collect()
}

/// The seed: `PGROSTER_CRASH_SEED`, else a fresh one; printed so a failure can be replayed.
fn seed() -> u64 {
    let seed = std::env::var("PGROSTER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test seed: {seed} (replay with PGROSTER_CRASH_SEED={seed})");
    seed
}

#[test]
fn apply_killed_at_fifty_seeded_instants_converges_and_every_delivered_password_logs_in() {
    let mut rng = StdRng::seed_from_u64(seed());
    let cluster = cluster_with_orders();
    let registry = registry_toml(&[("dev", "app", &cluster)]);
    let mut keys: BTreeMap<String, u32> = (0..200).map(|i| (format!("chaos{i:03}"), 0)).collect();
    let s = Scenario::with_files(
        &cluster,
        AdminKind::Superuser,
        &registry,
        &roles_yaml(&keys, "\"dev/app\""),
    );
    s.apply(Some("setup.json")).expect_success();
    // The password each role's last committed run delivered.
    let mut expected: BTreeMap<String, String> = read_credentials(&creds_path(&s, "setup.json"))
        .into_iter()
        .map(|c| (c.role, c.password))
        .collect();
    let mut next_role = keys.len();
    let mut finished = 0;
    for round in 0..50 {
        // A fifth of the roles rotate, and four are new.
        for key in keys.values_mut() {
            if rng.gen_ratio(1, 5) {
                *key += 1;
            }
        }
        for _ in 0..4 {
            keys.insert(format!("chaos{next_role:03}"), 0);
            next_role += 1;
        }
        s.file("roles.yaml", &roles_yaml(&keys, "\"dev/app\""));
        // A run here passes about 15 fault points; 16 lets some rounds finish.
        let at: u32 = rng.gen_range(1..=16);
        let killed_file = format!("killed{round}.json");
        let killed = apply_aborted_at(&s, &killed_file, &at.to_string());
        let context = format!("round {round}, fault point {at}\n{}", dump(&killed));
        finished += usize::from(killed.code == 0);
        // The next apply first: it waits for whatever the killed one's server session still
        // holds, so that every transaction of the killed run has ended when it is resolved.
        let next_file = format!("next{round}.json");
        let next = s.apply(Some(&next_file));
        assert_eq!(next.code, 0, "{context}\n{}", dump(&next));
        let mut changed = Vec::new();
        for (file, out) in [(&killed_file, &killed), (&next_file, &next)] {
            let path = creds_path(&s, file);
            if !path.exists() {
                if out.code == 0 || file == &next_file {
                    continue;
                }
                // No file: the run stopped before delivery, so nothing of it may commit.
                let run = runs(&s).into_iter().rev().nth(1).unwrap();
                assert!(
                    !roles_committed(&s, &run, &cluster),
                    "{context}: a committed run delivered nothing"
                );
                continue;
            }
            let creds = read_credentials(&path);
            if roles_committed(&s, &creds[0].run, &cluster) {
                for c in creds {
                    changed.push(c.role.clone());
                    expected.insert(c.role, c.password);
                }
            }
        }
        for role in &changed {
            assert!(
                logs_in(&cluster, role, &expected[role], "app"),
                "{context}: {role} cannot log in with its last delivered password"
            );
        }
        let plan = s.plan();
        assert_eq!(plan.code, 0, "{context}\n{}", dump(&plan));
        assert_has(&plan.stdout, "No changes.");
    }
    eprintln!("{finished} of 50 runs passed fewer fault points than chosen and finished");
    assert!(finished < 50, "no run was killed");
    assert_eq!(expected.len(), keys.len());
    for (role, password) in &expected {
        assert!(logs_in(&cluster, role, password, "app"), "{role}");
    }
}
