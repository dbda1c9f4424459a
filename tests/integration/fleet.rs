//! The same database on many clusters (issue 12): `prod/app` registered on two clusters, each
//! entry naming its cluster. A role targeting `prod/app` reaches both; `--target prod/app@NAME`
//! narrows plan and apply to one; `import` from one writes targets naming it; commands that read one target refuse `prod/app`, naming the
//! clusters and how to pick one, and accept `prod/app@NAME`.

use crate::harness::{
    assert_has, assert_line, assert_stdout_has, catalog_snapshot, database_entry, dump, parse_json,
    registry_toml, role_exists, AdminKind, Cluster, Scenario,
};

#[test]
fn one_database_on_two_clusters_is_planned_applied_and_picked_by_cluster_name() {
    let eu = Cluster::start();
    let us = Cluster::start();
    eu.create_database("app");
    us.create_database("app");
    let registry = format!(
        "{}{}cluster = \"eu-west\"\n{}cluster = \"us-east\"\n",
        registry_toml(&[]),
        database_entry("prod", "app", eu.port),
        database_entry("prod", "app", us.port),
    );
    let mut s = Scenario::new();
    s.file("registry.toml", &registry).file(
        "roles.yaml",
        "roles:\n  - name: fleet_grp\n    targets: [\"prod/app\"]\n",
    );
    // Both clusters have the same admin passwords (one template per test process).
    s.with_admin(&eu, AdminKind::Superuser);
    // Headers name each cluster as the registry does, with its address.
    let eu_header = format!("# cluster eu-west (127.0.0.1:{})", eu.port);
    let us_header = format!("# cluster us-east (127.0.0.1:{})", us.port);

    let out = s.run(&["registry"]);
    out.expect_success();
    assert_stdout_has(&out, "CLUSTER");
    assert_stdout_has(&out, "eu-west");
    assert_stdout_has(&out, "us-east");

    // The role's target matches both clusters.
    let plan = s.plan_changes();
    assert_stdout_has(&plan, &eu_header);
    assert_stdout_has(&plan, &us_header);
    assert_line(&plan, "Plan: 2 to add, 0 to change, 0 to destroy.");
    let json = parse_json(&s.run(&["plan", "--format", "json"]));
    let names: Vec<(&str, u64)> = json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["cluster"]["port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("eu-west", u64::from(eu.port)),
            ("us-east", u64::from(us.port))
        ]
    );

    // A cluster glob narrows plan and apply to one cluster.
    let out = s.run(&["plan", "--target", "prod/app@eu-*"]);
    out.expect_success();
    assert_stdout_has(&out, &eu_header);
    assert!(!out.stdout.contains(&us_header), "{}", dump(&out));
    assert_line(&out, "Plan: 1 to add, 0 to change, 0 to destroy.");
    let us_before = catalog_snapshot(&us);
    s.run(&["apply", "--auto-approve", "--target", "prod/app@eu-west"])
        .expect_success();
    assert!(role_exists(&eu, "fleet_grp"));
    assert!(!role_exists(&us, "fleet_grp"));
    assert_eq!(catalog_snapshot(&us), us_before, "us-east was changed");
    s.run(&["plan", "--detailed-exitcode", "--target", "prod@eu-west"])
        .expect_success();
    let out = s.plan_changes();
    let eu_section = out
        .stdout
        .split("# cluster ")
        .find(|section| section.starts_with(&format!("eu-west (127.0.0.1:{})", eu.port)))
        .unwrap_or_default();
    assert!(eu_section.contains("no changes"), "{}", dump(&out));
    assert_line(&out, "Plan: 1 to add, 0 to change, 0 to destroy.");

    // One target, two clusters: the commands that read one cluster refuse to pick for the user.
    let ambiguous = "target `prod/app` is on 2 clusters: eu-west, us-east; \
                     pick one with --target prod/app@CLUSTER (a glob), e.g. prod/app@eu-west";
    for args in [
        &["show", "fleet_grp", "--target", "prod/app"][..],
        &["roles", "--target", "prod/app"],
        &["import", "--target", "prod/app"],
        &[
            "reset",
            "fleet_grp",
            "--target",
            "prod/app",
            "--auto-approve",
        ],
    ] {
        let out = s.run(args);
        out.expect_code(1);
        assert_has(&out.stderr, ambiguous);
    }
    let out = s.run(&["show", "fleet_grp", "--target", "prod/app@eu-west"]);
    out.expect_success();
    assert_stdout_has(&out, "role \"fleet_grp\"");
    let out = s.run(&["show", "fleet_grp", "--target", "prod/app@us-*"]);
    out.expect_code(1);
    assert_has(&out.stderr, "role \"fleet_grp\" does not exist");
    let out = s.run(&["plan", "--target", "prod/app@ap-*"]);
    out.expect_code(1);
    assert_has(&out.stderr, "--target `prod/app@ap-*` matches no database");
    assert_has(&out.stderr, "clusters: eu-west, us-east");

    s.apply(None).expect_success();
    assert!(role_exists(&us, "fleet_grp"));
    s.assert_converged();

    // A role made by hand on one cluster is imported for that cluster only: written as
    // `prod/app`, it would be created on every cluster holding the target.
    eu.client("app")
        .batch_execute("CREATE ROLE eu_only NOLOGIN")
        .unwrap();
    let out = s.run(&["import", "--target", "prod/app@eu-west", "--roles", "eu_*"]);
    out.expect_success();
    assert_stdout_has(&out, "eu_only");
    assert_stdout_has(&out, "prod/app@eu-west");
    s.file("imported.yaml", &out.stdout);
    let out = s.plan_changes();
    assert_line(&out, "Plan: 0 to add, 1 to change, 0 to destroy.");
    s.apply(None).expect_success();
    s.assert_converged();
    assert!(!role_exists(&us, "eu_only"));
}
