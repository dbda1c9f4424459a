//! Validation through the CLI: an invalid config is reported at its `file:line:column` by
//! `validate`, `plan` (text and JSON) and `apply`, which all exit 1, print no plan and change nothing
//! on the cluster (a valid bystander role declared beside the error is never created). Issue 8: the
//! error comes before any connection, and `valid_until` must be a date of the calendar.

use crate::harness::{
    assert_no_ansi, assert_stderr_has, catalog_snapshot, database_entry, dump, fixture, line_of,
    location, registry_toml, role_count, role_exists, single_cluster, with_settings, AdminKind,
    Cluster, Scenario, ADMIN_PASS_ENV, ADMIN_USER_ENV, CREATEROLE_ADMIN,
};
use std::net::TcpListener;

/// A valid role declared alongside every invalid one: if validation did not stop plan and apply,
/// it would be created.
const BYSTANDER: &str = "  - name: bystander_group\n    targets: [\"dev/*\"]\n";

/// The databases of the validation scenarios, all on one cluster.
const VALIDATION_DBS: &[(&str, &str)] =
    &[("dev", "app_dev"), ("qa", "app_qa"), ("prod", "app_prod")];

/// `validate`, `plan` (text and JSON) and `apply --auto-approve` all exit 1 with every `expected`
/// text on stderr, print no plan, and leave the cluster's roles exactly as they were.
#[track_caller]
fn expect_rejected(cluster: &Cluster, scenario: &Scenario, expected: &[String]) {
    let before = catalog_snapshot(cluster);
    let count = role_count(cluster);
    let runs: [&[&str]; 4] = [
        &["validate"],
        &["plan"],
        &["plan", "--format", "json", "--detailed-exitcode"],
        &["apply", "--auto-approve"],
    ];
    for args in runs {
        let out = scenario.run(args);
        assert_eq!(out.code, 1, "pgroster {args:?}\n{}", dump(&out));
        for needle in expected {
            assert!(
                out.stderr.contains(needle.as_str()),
                "pgroster {args:?}: stderr lacks {needle:?}\n{}",
                dump(&out)
            );
        }
        assert!(
            !out.stdout.contains("Plan:") && !out.stdout.contains("role \""),
            "pgroster {args:?} printed a plan for an invalid config\n{}",
            dump(&out)
        );
        assert_no_ansi(&out);
    }
    assert_eq!(role_count(cluster), count, "pg_roles count changed");
    assert_eq!(catalog_snapshot(cluster), before, "the catalog changed");
    assert!(!role_exists(cluster, "bystander_group"));
}

#[test]
fn validation_unknown_key_in_a_yaml_role_names_its_position_and_suggests() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let roles = format!(
        "roles:\n{BYSTANDER}  - name: jsmith\n    profile: devqa\n    targets: [\"dev/*\"]\n    conection_limit: 5\n"
    );
    scenario.file("roles.yaml", &roles);
    let line = line_of(&roles, "conection_limit");
    expect_rejected(
        &cluster,
        &scenario,
        &[
            location(&scenario, "roles.yaml", line, 5),
            "unknown key `conection_limit`".into(),
            "did you mean `connection_limit`?".into(),
        ],
    );
}

#[test]
fn validation_unknown_key_in_a_toml_database_names_its_position_and_suggests() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let registry = format!(
        "{}\n[[databases]]\nenv = \"uat\"\nname = \"app_uat\"\nhost = \"127.0.0.1\"\nprot = {}\n",
        registry_toml(&[
            ("dev", "app_dev", &cluster),
            ("qa", "app_qa", &cluster),
            ("prod", "app_prod", &cluster),
        ]),
        cluster.port
    );
    scenario
        .file("registry.toml", &registry)
        .file("roles.yaml", &format!("roles:\n{BYSTANDER}"));
    let line = line_of(&registry, "prot =");
    expect_rejected(
        &cluster,
        &scenario,
        &[
            location(&scenario, "registry.toml", line, 1),
            "unknown key `prot`".into(),
            "did you mean `port`?".into(),
        ],
    );
}

#[test]
fn validation_profile_outside_its_envs_names_role_profile_and_target() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let roles = format!(
        "roles:\n{BYSTANDER}  - name: jsmith\n    profile: devqa\n    targets: [\"dev/*\", \"prod/app_prod\"]\n"
    );
    scenario.file("roles.yaml", &roles);
    expect_rejected(
        &cluster,
        &scenario,
        &[
            location(&scenario, "roles.yaml", line_of(&roles, "prod/app_prod"), 5),
            "`jsmith`".into(),
            "profile `devqa`".into(),
            "prod/app_prod".into(),
        ],
    );
}

#[test]
fn validation_missing_template_placeholder() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let roles = format!(
        "roles:\n{BYSTANDER}  - profile: app\n    servername: web01\n    targets: [\"dev/*\"]\n"
    );
    scenario.file("roles.yaml", &roles);
    expect_rejected(
        &cluster,
        &scenario,
        &[
            location(&scenario, "roles.yaml", line_of(&roles, "profile: app"), 3),
            "profile `app`".into(),
            "`port`".into(),
        ],
    );
}

#[test]
fn validation_role_name_of_64_bytes() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let long = "r".repeat(64);
    let roles = format!("roles:\n{BYSTANDER}  - name: {long}\n    targets: [\"dev/*\"]\n");
    scenario.file("roles.yaml", &roles);
    expect_rejected(
        &cluster,
        &scenario,
        &[
            location(&scenario, "roles.yaml", line_of(&roles, &long), 5),
            long.clone(),
            "64 bytes".into(),
            "63".into(),
        ],
    );
    // 63 bytes is fine.
    let ok = "r".repeat(63);
    scenario.file(
        "roles.yaml",
        &format!("roles:\n  - name: {ok}\n    targets: [\"dev/*\"]\n"),
    );
    scenario.run(&["validate"]).expect_success();
}

#[test]
fn validation_name_matching_ignore_roles() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let registry = with_settings(
        &registry_toml(&[
            ("dev", "app_dev", &cluster),
            ("qa", "app_qa", &cluster),
            ("prod", "app_prod", &cluster),
        ]),
        "ignore_roles = [\"pg_*\", \"postgres\", \"legacy_*\"]",
    );
    let roles = format!("roles:\n{BYSTANDER}  - name: legacy_app\n    targets: [\"dev/*\"]\n");
    scenario
        .file("registry.toml", &registry)
        .file("roles.yaml", &roles);
    expect_rejected(
        &cluster,
        &scenario,
        &[
            location(&scenario, "roles.yaml", line_of(&roles, "legacy_app"), 5),
            "`legacy_app`".into(),
            "ignore_roles".into(),
            "`legacy_*`".into(),
        ],
    );
}

#[test]
fn validation_the_admin_roles_own_name() {
    let (cluster, mut scenario) = single_cluster(VALIDATION_DBS, AdminKind::CreateRole);
    let roles =
        format!("roles:\n{BYSTANDER}  - name: {CREATEROLE_ADMIN}\n    targets: [\"dev/*\"]\n");
    scenario.file("roles.yaml", &roles);
    let expected = [
        location(
            &scenario,
            "roles.yaml",
            line_of(&roles, CREATEROLE_ADMIN),
            5,
        ),
        format!("`{CREATEROLE_ADMIN}`"),
        "admin role".into(),
    ];
    expect_rejected(&cluster, &scenario, &expected);

    // Named through the environment only: with another admin the same declaration is valid.
    scenario.env(ADMIN_USER_ENV, "postgres");
    scenario.run(&["validate"]).expect_success();
}

#[test]
fn validation_disagreeing_declarations_on_one_cluster_name_both_places() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    // dev/app_dev and qa/app_qa live on the same cluster, so jsmith is one role there.
    let a = format!(
        "roles:\n{BYSTANDER}  - name: jsmith\n    login: true\n    password: none\n    connection_limit: 5\n    targets: [\"dev/*\"]\n"
    );
    let b = "roles:\n  - name: jsmith\n    login: true\n    password: none\n    connection_limit: 7\n    targets: [\"qa/*\"]\n";
    scenario.file("a_roles.yaml", &a).file("b_roles.yaml", b);
    expect_rejected(
        &cluster,
        &scenario,
        &[
            location(&scenario, "a_roles.yaml", line_of(&a, "name: jsmith"), 3),
            location(&scenario, "b_roles.yaml", line_of(b, "name: jsmith"), 3),
            "`jsmith`".into(),
            format!("127.0.0.1:{}", cluster.port),
            "connection_limit".into(),
        ],
    );
}

#[test]
fn validation_target_glob_matching_nothing() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let roles =
        format!("roles:\n{BYSTANDER}  - name: jsmith\n    targets: [\"dev/*\", \"staging/*\"]\n");
    scenario.file("roles.yaml", &roles);
    expect_rejected(
        &cluster,
        &scenario,
        &[
            location(&scenario, "roles.yaml", line_of(&roles, "staging/*"), 5),
            "`staging/*`".into(),
            "matches no registry entry".into(),
        ],
    );
}

#[test]
fn validation_bad_glob() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let roles = format!("roles:\n{BYSTANDER}  - name: jsmith\n    targets: [\"dev/[\"]\n");
    scenario.file("roles.yaml", &roles);
    expect_rejected(
        &cluster,
        &scenario,
        &[
            location(&scenario, "roles.yaml", line_of(&roles, "dev/["), 5),
            "`dev/[`".into(),
            "glob".into(),
        ],
    );
}

#[test]
fn validation_unknown_profile_with_a_suggestion() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let roles = format!(
        "roles:\n{BYSTANDER}  - name: jsmith\n    profile: devqaa\n    targets: [\"dev/*\"]\n"
    );
    scenario.file("roles.yaml", &roles);
    expect_rejected(
        &cluster,
        &scenario,
        &[
            location(&scenario, "roles.yaml", line_of(&roles, "devqaa"), 5),
            "unknown profile `devqaa`".into(),
            "did you mean `devqa`?".into(),
        ],
    );
}

#[test]
fn validation_duplicate_settings_across_two_files_names_both() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    scenario
        .file("roles.yaml", &format!("roles:\n{BYSTANDER}"))
        .file(
            "settings.toml",
            "# more settings\n[settings]\naudit_log = \"other.db\"\n",
        );
    expect_rejected(
        &cluster,
        &scenario,
        &[
            location(&scenario, "registry.toml", 1, 1),
            location(&scenario, "settings.toml", 2, 1),
            "[settings]".into(),
        ],
    );
}

/// Issue 8: an invalid config is reported before any connection. The only registered database is a
/// listener of the test's own that answers nothing; after `plan` and `apply`, nothing has knocked.
#[test]
fn issue8_an_invalid_config_is_reported_before_any_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut scenario = Scenario::new();
    scenario
        .env(ADMIN_USER_ENV, "postgres")
        .env(ADMIN_PASS_ENV, "never-sent");
    let roles = fixture!("issue8/misspelt_key.yaml");
    scenario
        .file(
            "registry.toml",
            &format!(
                "{}{}",
                registry_toml(&[]),
                database_entry("dev", "app_dev", port)
            ),
        )
        .file("roles.yaml", roles);
    let at = location(
        &scenario,
        "roles.yaml",
        line_of(roles, "connecton_limit"),
        5,
    );
    for args in [&["plan"][..], &["apply", "--auto-approve"]] {
        let (out, peers) = scenario.run_beside(&listener, args);
        assert!(
            peers.is_empty(),
            "pgroster {args:?} connected to the registered database (from {peers:?}) before \
             reporting the invalid config\n{}",
            dump(&out)
        );
        assert_eq!(out.code, 1, "pgroster {args:?}\n{}", dump(&out));
        assert_stderr_has(&out, &at);
        assert_stderr_has(&out, "connecton_limit");
    }
    // The control: once the config is valid, plan does knock (and fails: nobody answers).
    scenario.file(
        "roles.yaml",
        &roles.replace("connecton_limit", "connection_limit"),
    );
    let (out, peers) = scenario.run_beside(&listener, &["plan"]);
    assert!(!peers.is_empty(), "plan never connected\n{}", dump(&out));
    assert_eq!(out.code, 1, "{}", dump(&out));
}

/// Issue 8: `valid_until` must be a date of the calendar. February 31st, April 31st and February
/// 29th of a common year are rejected at the key, and nothing reaches the cluster.
#[test]
fn issue8_valid_until_on_a_day_the_month_lacks_is_rejected_at_its_key() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    for date in ["2027-02-31", "2027-04-31", "2027-02-29"] {
        let roles = format!(
            "roles:\n{BYSTANDER}  - name: jsmith\n    login: true\n    password: none\n    valid_until: {date}\n    targets: [\"dev/*\"]\n"
        );
        scenario.file("roles.yaml", &roles);
        expect_rejected(
            &cluster,
            &scenario,
            &[
                location(&scenario, "roles.yaml", line_of(&roles, "valid_until"), 5),
                "valid_until".into(),
            ],
        );
    }
}
