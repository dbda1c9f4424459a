//! The audit log through the `audit` command: the changes of an apply listed, filtered by role, env
//! and date, and exported as JSON and CSV with no secret; four concurrent applies share one audit log
//! without locking errors.

use crate::harness::{
    assert_no_ansi, assert_nowhere, assert_stderr_has, assert_stdout_has, dump, parse_json,
    parse_table, registry_toml, run_id, AdminKind, Cluster, Output, Scenario,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::process::Stdio;

#[test]
fn audit_lists_filters_and_exports_the_changes_of_an_apply() {
    let dev = Cluster::start();
    let prod = Cluster::start();
    dev.create_database("app_dev");
    prod.create_database("app_prod");
    let mut scenario = Scenario::new();
    let secret = "Alice-Env-Secret-0c9a71";
    scenario
        .with_admin(&dev, AdminKind::Superuser)
        .env("PGROSTER_ACTOR", "auditor-7")
        .env("ALICE_PW", secret);
    scenario
        .file(
            "registry.toml",
            &registry_toml(&[("dev", "app_dev", &dev), ("prod", "app_prod", &prod)]),
        )
        .file(
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
        "TIME",
        "ACTOR",
        "ENV",
        "DATABASE",
        "HOST:PORT",
        "ROLE",
        "ACTION",
        "DETAIL",
        "OUTCOME",
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
    assert_eq!(
        by_role.len(),
        rows.iter().filter(|r| r["ROLE"] == "alice").count()
    );
    let by_env = parse_table(&scenario.run(&["audit", "--env", "prod"]).stdout);
    assert!(by_env.iter().all(|r| r["ENV"] == "prod"), "{by_env:?}");
    assert_eq!(
        by_env.len(),
        rows.iter().filter(|r| r["ENV"] == "prod").count()
    );
    assert!(by_env.iter().any(|r| r["ROLE"] == "bob_group"));
    let both = parse_table(
        &scenario
            .run(&["audit", "--env", "prod", "--role", "carol_group"])
            .stdout,
    );
    assert!(!both.is_empty());
    assert!(both
        .iter()
        .all(|r| r["ENV"] == "prod" && r["ROLE"] == "carol_group"));
    let since_2000 = scenario.run(&["audit", "--since", "2000-01-01"]);
    since_2000.expect_success();
    assert_eq!(parse_table(&since_2000.stdout).len(), rows.len());
    let future = scenario.run(&["audit", "--since", "2999-01-01"]);
    future.expect_success();
    assert_eq!(parse_table(&future.stdout).len(), 0, "{}", dump(&future));
    let future_json = scenario.run(&[
        "audit",
        "--since",
        "2999-01-01T00:00:00Z",
        "--format",
        "json",
    ]);
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

    // A bad date is a clear error.
    let bad = scenario.run(&["audit", "--since", "not-a-date"]);
    bad.expect_code(1);
    assert_stderr_has(&bad, "not-a-date");
    assert_stderr_has(&bad, "YYYY-MM-DD");
    assert!(bad.stdout.is_empty(), "{}", dump(&bad));
}

#[test]
fn four_concurrent_applies_share_one_audit_log_without_locking_errors() {
    const ROLES: usize = 40;
    let shared = tempfile::tempdir().unwrap();
    let audit_log = shared.path().join("shared-audit.db");
    let clusters: Vec<Cluster> = (0..4).map(|_| Cluster::start()).collect();
    let scenarios: Vec<Scenario> = clusters
        .iter()
        .enumerate()
        .map(|(i, cluster)| {
            cluster.create_database("app_dev");
            let registry = registry_toml(&[("dev", "app_dev", cluster)]).replacen(
                "audit_log = \"pgroster-audit.db\"",
                &format!("audit_log = \"{}\"", audit_log.display()),
                1,
            );
            assert!(registry.contains(&audit_log.display().to_string()));
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
    for (i, cluster) in clusters.iter().enumerate() {
        let n = cluster.query_strings(
            "postgres",
            &format!("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'c{i}\\_group\\_%'"),
        );
        assert_eq!(n[0][0].as_deref(), Some(ROLES.to_string().as_str()));
    }

    // Every run's rows are in the one file, each with its own actor, cluster and outcome.
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

#[test]
fn audit_run_tells_per_cluster_whether_a_run_committed() {
    let dev = Cluster::start();
    let prod = Cluster::start();
    dev.create_database("app_dev");
    prod.create_database("app_prod");
    let mut scenario = Scenario::new();
    scenario.with_admin(&dev, AdminKind::Superuser);
    scenario
        .file(
            "registry.toml",
            &registry_toml(&[("dev", "app_dev", &dev), ("prod", "app_prod", &prod)]),
        )
        .file(
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
    assert!(
        line(dev.port).ends_with("2 change(s): committed"),
        "{}",
        dump(&out)
    );
    assert!(line(prod.port).contains("rolled back"), "{}", dump(&out));
    assert!(line(prod.port).contains("work_mem"), "{}", dump(&out));

    let unknown = scenario.run(&["audit", "--run", "0000000000000000"]);
    unknown.expect_code(1);
    assert_stderr_has(&unknown, "no run `0000000000000000`");
}
