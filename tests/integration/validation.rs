//! Validation through the CLI: an invalid config is reported at its `file:line:column` by
//! `validate`, `plan` (text and JSON) and `apply`, which all exit 1, print no plan and change nothing
//! on the cluster (a valid bystander role declared beside the error is never created). Issue 8: the
//! error comes before any connection, and `valid_until` must be a date of the calendar.

use crate::harness::{
    assert_has, assert_lacks, assert_no_ansi, assert_stderr_has, catalog_snapshot, database_entry,
    dump, fixture, line_of, location, registry_toml, role_count, role_exists, settings,
    single_cluster, with_settings, AdminKind, Cluster, Scenario, ADMIN_PASS_ENV, ADMIN_USER_ENV,
    CREATEROLE_ADMIN,
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

/// Issue 9: a key given twice in YAML was said to be last-wins, though TOML rejects it and the
/// README calls it an error. Every mapping rejects it at the second key: `set`, `envs`,
/// `profiles`, a name template's placeholder, a membership's options. A setting named twice in
/// two spellings (names are case-insensitive) is rejected too, in YAML and TOML alike.
#[test]
fn issue9_a_key_given_twice_is_an_error_at_the_second() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let role = "  - name: jsmith\n    targets: [\"dev/*\"]\n";
    let cases: [(String, usize, usize, &str); 6] = [
        (
            format!("roles:\n{BYSTANDER}{role}    set: {{ work_mem: 1MB, work_mem: 2MB }}\n"),
            6,
            27,
            "duplicate mapping key `work_mem`",
        ),
        (
            format!("envs:\n  dev: {{ prefix: a }}\n  dev: {{ prefix: b }}\nroles:\n{BYSTANDER}"),
            3,
            3,
            "duplicate mapping key `dev`",
        ),
        (
            format!("profiles:\n  p:\n    login: true\n  p:\n    login: false\nroles:\n{BYSTANDER}"),
            4,
            3,
            "duplicate mapping key `p`",
        ),
        (
            format!("roles:\n{BYSTANDER}  - profile: app\n    servername: web01\n    port: 8080\n    port: 9090\n    targets: [\"dev/*\"]\n"),
            7,
            5,
            "duplicate mapping key `port`",
        ),
        (
            format!("roles:\n{BYSTANDER}{role}    member_of: [{{ role: a, role: b }}]\n"),
            6,
            28,
            "duplicate mapping key `role`",
        ),
        (
            format!("roles:\n{BYSTANDER}{role}    set: {{ work_mem: 1MB, WORK_MEM: 2MB }}\n"),
            6,
            5,
            "role `jsmith`: setting `work_mem` is given twice (setting names are case-insensitive)",
        ),
    ];
    for (roles, line, column, message) in cases {
        scenario.file("roles.yaml", &roles);
        let at = location(&scenario, "roles.yaml", line, column);
        expect_rejected(&cluster, &scenario, &[format!("{at}: {message}")]);
    }
    scenario.file(
        "roles.yaml",
        "[[roles]]\nname = \"jsmith\"\ntargets = [\"dev/*\"]\nset = { work_mem = \"1MB\", WORK_MEM = \"2MB\" }\n",
    );
    std::fs::rename(
        scenario.path().join("roles.yaml"),
        scenario.path().join("roles.toml"),
    )
    .unwrap();
    let at = location(&scenario, "roles.toml", 4, 1);
    expect_rejected(
        &cluster,
        &scenario,
        &[format!(
            "{at}: role `jsmith`: setting `work_mem` is given twice"
        )],
    );
}

/// Issue 9: `rotate: "2026-11 "` reset the password on every apply, since the marker comment that
/// records the key is read back trimmed. Rejected at the role's `password`, whichever end.
#[test]
fn issue9_a_rotation_key_with_whitespace_at_an_end_is_rejected() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    for key in ["2026-11 ", " 2026-11", "2026-11\t"] {
        let roles = format!(
            "roles:\n{BYSTANDER}  - name: jsmith\n    login: true\n    password: {{ rotate: {key:?} }}\n    targets: [\"dev/*\"]\n"
        );
        scenario.file("roles.yaml", &roles);
        let at = location(&scenario, "roles.yaml", line_of(&roles, "password"), 5);
        expect_rejected(
            &cluster,
            &scenario,
            &[format!(
                "{at}: role `jsmith`: rotation key {key:?} starts or ends with whitespace"
            )],
        );
    }
}

/// Issue 9: names PostgreSQL reserves for roles, in any case: `CREATE ROLE none` fails and
/// the others read as the session's roles or every role.
#[test]
fn issue9_reserved_role_names_are_rejected() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    for name in [
        "none",
        "NONE",
        "current_user",
        "session_user",
        "current_role",
        "Public",
    ] {
        let roles = format!("roles:\n{BYSTANDER}  - name: {name}\n    targets: [\"dev/*\"]\n");
        scenario.file("roles.yaml", &roles);
        let line = line_of(&roles, &format!("name: {name}"));
        let at = location(&scenario, "roles.yaml", line, 5);
        expect_rejected(
            &cluster,
            &scenario,
            &[format!(
                "{at}: role name `{name}` is reserved by PostgreSQL"
            )],
        );
    }
}

/// Issue 9: values that apply would send and the server refuse, rolling back the whole cluster:
/// an empty `search_path` (`SET search_path TO` with nothing after it), an empty element in a
/// list setting, a setting name that is no GUC name, a NUL in a value. Each is rejected at its
/// key.
#[test]
fn issue9_settings_the_server_would_refuse_are_rejected_at_their_key() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let cases = [
        (
            "search_path: []",
            "search_path",
            "`search_path` has no schema in it",
        ),
        (
            "set: { search_path: \"\" }",
            "set",
            "`search_path` has no schema in it",
        ),
        (
            "set: { search_path: \"app,,public\" }",
            "set",
            "`search_path` has no schema in it, or an empty one",
        ),
        (
            "set: { \"a..b\": 1 }",
            "set",
            "`a..b` is not a valid setting name",
        ),
        (
            "set: { \"auto_explain.\": 1 }",
            "set",
            "`auto_explain.` is not a valid setting name",
        ),
        (
            "set: { application_name: \"a\\0b\" }",
            "set",
            "the value of setting `application_name` contains a NUL character",
        ),
        (
            "search_path: [\"a\\0b\"]",
            "search_path",
            "a search_path schema contains a NUL character",
        ),
        (
            "password: { env: \"PW\\0X\" }",
            "password",
            "contains a NUL character",
        ),
    ];
    for (field, key, message) in cases {
        let roles = format!(
            "roles:\n{BYSTANDER}  - name: jsmith\n    login: true\n    {field}\n    targets: [\"dev/*\"]\n"
        );
        scenario.file("roles.yaml", &roles);
        let at = location(
            &scenario,
            "roles.yaml",
            line_of(&roles, &format!("{key}:")),
            5,
        );
        expect_rejected(
            &cluster,
            &scenario,
            &[format!("{at}: role `jsmith`: "), message.to_string()],
        );
    }
}

/// Issue 9: a role that is a member of itself, or of a cycle of declared roles, is rejected at
/// each `member_of` in the cycle, before PostgreSQL refuses the `GRANT` and rolls back.
#[test]
fn issue9_membership_cycles_among_declared_roles_are_rejected() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::Superuser);
    let roles = format!(
        "roles:\n{BYSTANDER}  - name: grp_a\n    member_of: [grp_b]\n    targets: [\"dev/*\"]\n  - name: grp_b\n    member_of: [grp_a]\n    targets: [\"dev/*\"]\n  - name: narcissus\n    member_of: [narcissus]\n    targets: [\"dev/*\"]\n"
    );
    scenario.file("roles.yaml", &roles);
    let at = |n: usize| location(&scenario, "roles.yaml", n, 5);
    expect_rejected(
        &cluster,
        &scenario,
        &[
            format!("{}: role `grp_a`: its memberships lead back to it (`grp_a` -> `grp_b` -> `grp_a`)", at(5)),
            format!("{}: role `grp_b`: its memberships lead back to it (`grp_b` -> `grp_a` -> `grp_b`)", at(8)),
            format!("{}: role `narcissus`: its memberships lead back to it (`narcissus` -> `narcissus`)", at(11)),
        ],
    );
}

/// Issue 9: `ignore_roles` replaced the defaults, so `postgres` lost its protection. Whatever the
/// setting, `postgres`, `pg_*` and the admin role are never declared and never touched, and the
/// roles it names are still ignored: a membership in `legacy_grp` granted by hand to a managed
/// role is not revoked (one in a `pg_*` role is, issue 10: see adoption.rs).
#[test]
fn issue9_ignore_roles_never_unprotects_postgres_pg_roles_or_the_admin() {
    let (cluster, scenario) = single_cluster(VALIDATION_DBS, AdminKind::CreateRole);
    let registry = with_settings(
        &registry_toml(&[
            ("dev", "app_dev", &cluster),
            ("qa", "app_qa", &cluster),
            ("prod", "app_prod", &cluster),
        ]),
        "ignore_roles = [\"legacy_*\"]",
    );
    scenario.file("registry.toml", &registry);
    let roles = format!("roles:\n{BYSTANDER}  - name: postgres\n    targets: [\"dev/*\"]\n");
    scenario.file("roles.yaml", &roles);
    let at = location(&scenario, "roles.yaml", line_of(&roles, "postgres"), 5);
    expect_rejected(
        &cluster,
        &scenario,
        &[format!(
            "{at}: role `postgres` matches ignore_roles pattern `postgres`; pgroster never touches it"
        )],
    );

    scenario.file(
        "roles.yaml",
        "roles:\n  - name: watcher\n    targets: [\"dev/*\"]\n",
    );
    scenario.apply(None).expect_success();
    crate::harness::exec(
        &cluster,
        "postgres",
        "CREATE ROLE legacy_grp; GRANT legacy_grp TO watcher",
    );
    scenario.assert_converged();
    assert_eq!(
        crate::harness::member_of(&cluster, "watcher"),
        ["legacy_grp"]
    );
}

/// A misspelt setting passes `validate` (only the server knows its settings) but not `plan`: the
/// server is asked, the error names the role, the setting and the likely spelling, and apply
/// changes nothing. A dotted custom setting (an extension's) is allowed.
#[test]
fn issue9_a_setting_the_server_does_not_know_is_refused_at_plan() {
    let cluster = Cluster::start();
    cluster.create_database("app_a");
    let registry = registry_toml(&[("dev", "app_a", &cluster)]);
    let roles = r#"
roles:
  - name: app
    password: none
    set: { statment_timeout: 5s, myext.level: "3" }
    targets: ["dev/app_a"]
"#;
    let s = Scenario::with_files(&cluster, AdminKind::Superuser, &registry, roles);
    s.run(&["validate"]).expect_success();
    let plan = s.plan();
    plan.expect_code(1);
    let all = format!("{}{}", plan.stdout, plan.stderr);
    assert_has(
        &all,
        "role \"app\": setting `statment_timeout` is not one this server knows; did you mean `statement_timeout`?",
    );
    assert_lacks(&all, "setting `myext.level`");
    s.apply(None).expect_code(1);
    assert!(!role_exists(&cluster, "app"));

    s.file(
        "roles.yaml",
        &roles.replace("statment_timeout", "statement_timeout"),
    );
    s.apply(None).expect_success();
    assert_eq!(
        settings(&cluster, "app"),
        ["app_a: myext.level=3", "app_a: statement_timeout=5s"]
    );
}
