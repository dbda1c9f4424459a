//! A fleet split across parallel CI jobs by `--target` (issue 12, "Beyond one runner"): two
//! `pgroster apply` processes at once, writing to one PostgreSQL audit sink in a cluster of its
//! own, on disjoint targets and on overlapping ones. Each test holds pgroster's lock on every
//! cluster itself, starts both runs, waits (through `pg_locks`) until both are blocked on it, and
//! lets go, so the runs overlap every time. Both succeed, the fleet converges, and the sink holds
//! every change exactly once, `ok`, from two distinct runs.

use crate::concurrency::{finish, poll, spawn, waiting, HeldLock};
use crate::harness::{
    audit_entries, database_entry, dump, registry_toml, AdminKind, Cluster, Output, Scenario, Sink,
};
use std::collections::{BTreeMap, BTreeSet};

const ROLES: [&str; 4] = ["fleet_reader", "fleet_writer", "fleet_owner", "fleet_ops"];

/// One cluster per name, each holding `prod/app` under that cluster name, a roles file that
/// declares `ROLES` on `prod/*` (so on every cluster), and a PostgreSQL sink for the audit log.
fn fleet(names: &[&str]) -> (Vec<Cluster>, Scenario, Sink) {
    let sink = Sink::postgres();
    let clusters: Vec<Cluster> = names.iter().map(|_| Cluster::start()).collect();
    let mut registry = sink.registry(&registry_toml(&[]));
    for (name, cluster) in names.iter().zip(&clusters) {
        cluster.create_database("app");
        registry.push_str(&database_entry("prod", "app", cluster.port));
        registry.push_str(&format!("cluster = \"{name}\"\n"));
    }
    let mut roles = String::from("roles:\n");
    for role in ROLES {
        roles.push_str(&format!("  - name: {role}\n    targets: [\"prod/*\"]\n"));
    }
    let mut scenario = Scenario::new();
    scenario
        .file("registry.toml", &registry)
        .file("roles.yaml", &roles);
    scenario.with_admin(&clusters[0], AdminKind::Superuser);
    sink.credentials(&mut scenario);
    (clusters, scenario, sink)
}

/// Runs `pgroster apply --auto-approve` once per target list, at once, while the test holds
/// pgroster's lock on every cluster; lets go once every run waits for it.
fn apply_side_by_side(
    clusters: &[Cluster],
    scenario: &Scenario,
    targets: &[&[&str]],
) -> Vec<Output> {
    let held: Vec<HeldLock> = clusters
        .iter()
        .map(|c| HeldLock::take(c, "postgres"))
        .collect();
    let mut runs: Vec<_> = targets
        .iter()
        .map(|globs| {
            let mut args = vec!["apply", "--auto-approve"];
            for glob in *globs {
                args.extend(["--target", glob]);
            }
            spawn(scenario, &args)
        })
        .collect();
    poll("both runs do not wait for the lock", || {
        for run in runs.iter_mut() {
            if let Some(status) = run.try_wait().unwrap() {
                panic!("a run exited ({status}) before both waited for the lock");
            }
        }
        clusters
            .iter()
            .map(|c| waiting(c, "postgres"))
            .sum::<usize>()
            == targets.len()
    });
    for lock in held {
        lock.release();
    }
    runs.into_iter().map(finish).collect()
}

/// Every change the fleet needed is in the sink exactly once, `ok`: a create and a marker per
/// role and cluster. Returns the run of each cluster's changes.
fn assert_recorded_once(scenario: &Scenario, clusters: &[Cluster]) -> BTreeMap<u16, String> {
    let entries = audit_entries(scenario);
    let mut counts: BTreeMap<(u64, String, String), usize> = BTreeMap::new();
    let mut run_of: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    for e in &entries {
        assert_eq!(e["outcome"], "ok", "{e}");
        let port = e["port"].as_u64().unwrap();
        let key = (
            port,
            e["role"].as_str().unwrap().to_string(),
            e["action"].as_str().unwrap().to_string(),
        );
        *counts.entry(key).or_default() += 1;
        run_of
            .entry(u16::try_from(port).unwrap())
            .or_default()
            .insert(e["run_id"].as_str().unwrap().to_string());
    }
    let expected: BTreeMap<(u64, String, String), usize> = clusters
        .iter()
        .flat_map(|c| {
            ROLES.iter().flat_map(move |role| {
                ["create_role", "set_marker"]
                    .map(|action| ((u64::from(c.port), role.to_string(), action.to_string()), 1))
            })
        })
        .collect();
    assert_eq!(
        counts, expected,
        "changes recorded per (port, role, action)"
    );
    // One cluster's changes are one transaction of one run.
    run_of
        .into_iter()
        .map(|(port, runs)| {
            assert_eq!(runs.len(), 1, "cluster {port}: {runs:?}");
            (port, runs.into_iter().next().unwrap())
        })
        .collect()
}

#[test]
fn two_runners_on_disjoint_targets_share_the_postgres_sink_and_converge() {
    let (clusters, scenario, sink) = fleet(&["eu", "us"]);
    // The README's matrix form: every env on one region's clusters.
    let outs = apply_side_by_side(&clusters, &scenario, &[&["*@eu"], &["*@us"]]);
    for out in &outs {
        out.expect_success();
    }
    scenario.assert_converged();
    let runs = assert_recorded_once(&scenario, &clusters);
    let distinct: BTreeSet<&String> = runs.values().collect();
    assert_eq!(distinct.len(), 2, "{runs:?}");
    for (out, cluster) in outs.iter().zip(&clusters) {
        let run = crate::harness::run_id(out);
        assert_eq!(runs[&cluster.port], run, "{}", dump(out));
    }
    assert_eq!(
        sink.value("SELECT count(*) FROM runs WHERE status = 'ok'")
            .as_deref(),
        Some("2")
    );
}

#[test]
fn two_runners_on_overlapping_targets_record_each_change_once() {
    // Each run has a cluster of its own (eu, ap) and both want us: whichever takes us first
    // changes it, and the other then plans against what it committed and finds nothing there.
    let (clusters, scenario, sink) = fleet(&["eu", "us", "ap"]);
    let outs = apply_side_by_side(
        &clusters,
        &scenario,
        &[&["prod/*@eu", "prod/*@us"], &["prod/*@us", "prod/*@ap"]],
    );
    for out in &outs {
        out.expect_success();
    }
    scenario.assert_converged();
    let runs = assert_recorded_once(&scenario, &clusters);
    let (eu, us, ap) = (clusters[0].port, clusters[1].port, clusters[2].port);
    let (first, second) = (
        crate::harness::run_id(&outs[0]),
        crate::harness::run_id(&outs[1]),
    );
    assert_ne!(first, second);
    assert_eq!(runs[&eu], first);
    assert_eq!(runs[&ap], second);
    assert!(runs[&us] == first || runs[&us] == second, "{runs:?}");
    assert_eq!(
        sink.value("SELECT count(*) FROM runs WHERE status = 'ok'")
            .as_deref(),
        Some("2")
    );
}
