//! The CLI as a user meets it, through the real binary: validation errors (and that nothing changes
//! when they happen), the plan's text and JSON, apply's confirmation rule, admin problems, the audit
//! command, concurrent applies sharing one audit log, and the read commands.
//!
//! Every test that needs PostgreSQL starts its own cluster: roles are cluster-wide.

use crate::harness::{
    assert_line, assert_no_ansi, assert_nowhere, assert_stderr_has, assert_stdout_has,
    catalog_snapshot, dump, inactive_entry, line_of, location, parse_json, parse_table,
    registry_toml, role_count, role_exists, run_id, schema_errors, single_cluster, squeezed_lines,
    with_settings, AdminKind, Cluster, Output, Scenario, ADMIN_PASS_ENV, ADMIN_USER_ENV,
    CREATEROLE_ADMIN,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;

// ---------------------------------------------------------------------------------------------
// 1. Validation through the CLI
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 2. Plan output
// ---------------------------------------------------------------------------------------------

#[test]
fn plan_text_is_terraform_style_and_has_no_colour_when_piped() {
    let (cluster, scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    scenario.file(
        "roles.yaml",
        "roles:\n  - name: jsmith\n    login: true\n    connection_limit: 50\n    password: none\n    targets: [\"dev/*\"]\n",
    );
    scenario.run(&["apply", "--auto-approve"]).expect_success();

    scenario.file(
        "roles.yaml",
        "roles:
  - name: jsmith
    profile: devqa
    password: none
    targets: [\"dev/*\"]
  - name: newbie
    profile: devqa
    targets: [\"dev/*\"]
  - name: app_rw
    targets: [\"dev/*\"]
",
    );
    let out = scenario.run(&["plan"]);
    out.expect_success();
    assert_no_ansi(&out);
    assert_stdout_has(
        &out,
        &format!(
            "# cluster 127.0.0.1:{}, PostgreSQL {}.",
            cluster.port,
            cluster.major_version()
        ),
    );
    assert_stdout_has(&out, "+ role \"newbie\"");
    assert_stdout_has(&out, "+ role \"app_rw\"");
    assert_stdout_has(&out, "~ role \"jsmith\"");
    assert_line(&out, "~ connection_limit = 50 -> 20");
    assert_line(&out, "+ password = (sensitive, generated)");
    assert_line(&out, "Plan: 2 to add, 1 to change, 0 to destroy.");
    // jsmith's update shows no password line: an existing role never gets a new one.
    let jsmith: Vec<&str> = out
        .stdout
        .lines()
        .skip_while(|l| !l.contains("~ role \"jsmith\""))
        .skip(1)
        .take_while(|l| l.starts_with("      "))
        .collect();
    assert!(
        !jsmith.is_empty() && jsmith.iter().all(|l| !l.contains("password")),
        "{jsmith:?}\n{}",
        dump(&out)
    );

    // Piped is enough to turn colour off, with or without NO_COLOR.
    let raw = scenario
        .pgroster(&["plan"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert_eq!(raw.status.code(), Some(0));
    let stdout = String::from_utf8(raw.stdout).unwrap();
    assert!(!stdout.contains('\x1b'), "colour when piped:\n{stdout}");
    assert!(stdout.contains("Plan: 2 to add, 1 to change, 0 to destroy."));

    // apply's own output is plain too.
    let creds = scenario.path().join("creds.json");
    let applied = scenario.run(&[
        "apply",
        "--auto-approve",
        "--credentials-out",
        creds.to_str().unwrap(),
    ]);
    applied.expect_success();
    assert_no_ansi(&applied);
    assert_stdout_has(
        &applied,
        "Apply complete! Roles: 2 added, 1 changed, 0 destroyed.",
    );
    let again = scenario.run(&["plan"]);
    again.expect_success();
    assert_stdout_has(&again, "No changes.");
    assert!(!again.stdout.contains("Plan:"), "{}", dump(&again));
}

#[test]
fn plan_lists_inactive_targets_once_and_never_contacts_them() {
    let (cluster, scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    let registry = format!(
        "{}{}{}",
        registry_toml(&[("dev", "app_dev", &cluster)]),
        inactive_entry("uat", "app_uat"),
        inactive_entry("uat", "app_uat2"),
    );
    scenario.file("registry.toml", &registry).file(
        "roles.yaml",
        "roles:\n  - name: everywhere\n    targets: [\"*/*\"]\n  - name: uat_only\n    targets: [\"uat/*\"]\n",
    );
    let out = scenario.run(&["plan"]);
    out.expect_success();
    let skipped: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("Skipped (inactive)"))
        .collect();
    assert_eq!(
        skipped,
        ["Skipped (inactive): uat/app_uat, uat/app_uat2"],
        "{}",
        dump(&out)
    );
    assert_eq!(
        out.stdout.matches("Skipped (inactive)").count(),
        1,
        "{}",
        dump(&out)
    );
    assert_eq!(
        out.stdout.matches("Skipped (target inactive)").count(),
        1,
        "{}",
        dump(&out)
    );
    assert_stdout_has(&out, "+ role \"everywhere\"");
    assert!(
        !out.stdout.contains("+ role \"uat_only\""),
        "{}",
        dump(&out)
    );
    assert_line(&out, "Plan: 1 to add, 0 to change, 0 to destroy.");

    let json = parse_json(&scenario.run(&["plan", "--format", "json"]));
    let inactive: Vec<String> = json["inactive_targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}/{}",
                t["env"].as_str().unwrap(),
                t["database"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(inactive, ["uat/app_uat", "uat/app_uat2"]);

    // Narrowed to dev, the inactive uat targets are out of scope and not mentioned.
    let narrowed = scenario.run(&["plan", "--target", "dev/*"]);
    narrowed.expect_success();
    assert!(
        !narrowed.stdout.contains("uat/app_uat"),
        "{}",
        dump(&narrowed)
    );

    // Apply works although the inactive entries point at a port nothing listens on.
    scenario.run(&["apply", "--auto-approve"]).expect_success();
    assert!(role_exists(&cluster, "everywhere"));
    assert!(!role_exists(&cluster, "uat_only"));
}

#[test]
fn plan_detailed_exitcode_is_2_with_changes_and_0_after_apply() {
    let (cluster, scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    scenario.file(
        "roles.yaml",
        "roles:\n  - name: jsmith\n    profile: devqa\n    targets: [\"dev/*\"]\n  - name: app_rw\n    targets: [\"dev/*\"]\n",
    );
    let before = catalog_snapshot(&cluster);
    let out = scenario.run(&["plan", "--detailed-exitcode"]);
    out.expect_code(2);
    assert_line(&out, "Plan: 2 to add, 0 to change, 0 to destroy.");
    scenario
        .run(&["plan", "--format", "json", "--detailed-exitcode"])
        .expect_code(2);
    // Without the flag, changes are still success.
    scenario.run(&["plan"]).expect_success();
    assert_eq!(
        catalog_snapshot(&cluster),
        before,
        "plan changed the catalog"
    );

    let creds = scenario.path().join("creds.json");
    scenario
        .run(&[
            "apply",
            "--auto-approve",
            "--credentials-out",
            creds.to_str().unwrap(),
        ])
        .expect_success();
    let out = scenario.run(&["plan", "--detailed-exitcode"]);
    out.expect_success();
    assert_stdout_has(&out, "No changes.");
    scenario
        .run(&["plan", "--format", "json", "--detailed-exitcode"])
        .expect_success();

    // Drift made outside pgroster is a change again.
    cluster
        .client("postgres")
        .batch_execute("ALTER ROLE jsmith CONNECTION LIMIT 50")
        .unwrap();
    let out = scenario.run(&["plan", "--detailed-exitcode"]);
    out.expect_code(2);
    assert_line(&out, "~ connection_limit = 50 -> 20");
    assert_line(&out, "Plan: 0 to add, 1 to change, 0 to destroy.");
}

#[test]
fn target_narrows_plan_and_apply_to_the_selected_cluster() {
    let dev = Cluster::start();
    let prod = Cluster::start();
    dev.create_database("app_dev");
    prod.create_database("app_prod");
    let mut scenario = Scenario::new();
    scenario
        .file(
            "registry.toml",
            &registry_toml(&[("dev", "app_dev", &dev), ("prod", "app_prod", &prod)]),
        )
        .file(
            "roles.yaml",
            "roles:\n  - name: shared_group\n    targets: [\"dev/*\", \"prod/*\"]\n",
        );
    // Both clusters have the same admin passwords (one template per test process).
    scenario.with_admin(&dev, AdminKind::Superuser);
    let dev_header = format!("# cluster 127.0.0.1:{}", dev.port);
    let prod_header = format!("# cluster 127.0.0.1:{}", prod.port);

    let full = scenario.run(&["plan"]);
    full.expect_success();
    assert_stdout_has(&full, &dev_header);
    assert_stdout_has(&full, &prod_header);
    assert_line(&full, "Plan: 2 to add, 0 to change, 0 to destroy.");

    for glob in ["dev/*", "dev"] {
        let out = scenario.run(&["plan", "--target", glob]);
        out.expect_success();
        assert_stdout_has(&out, &dev_header);
        assert!(!out.stdout.contains(&prod_header), "{}", dump(&out));
        assert!(
            !out.stdout.contains(&format!(":{}", prod.port)),
            "{}",
            dump(&out)
        );
        assert_line(&out, "Plan: 1 to add, 0 to change, 0 to destroy.");
    }
    let prod_before = catalog_snapshot(&prod);
    let out = scenario.run(&["apply", "--auto-approve", "--target", "dev/*"]);
    out.expect_success();
    assert!(role_exists(&dev, "shared_group"));
    assert!(!role_exists(&prod, "shared_group"));
    assert_eq!(catalog_snapshot(&prod), prod_before, "prod was changed");

    // The full plan now has only prod's half left.
    let out = scenario.run(&["plan", "--detailed-exitcode"]);
    out.expect_code(2);
    assert_line(&out, "Plan: 1 to add, 0 to change, 0 to destroy.");
    let prod_section: String = out
        .stdout
        .split("# cluster ")
        .find(|s| s.starts_with(&format!("127.0.0.1:{}", prod.port)))
        .unwrap_or_default()
        .to_string();
    assert!(
        prod_section.contains("+ role \"shared_group\""),
        "{}",
        dump(&out)
    );
    scenario
        .run(&["plan", "--target", "dev/*", "--detailed-exitcode"])
        .expect_success();
}

#[test]
fn plan_json_parses_follows_the_schema_and_holds_no_password() {
    let (cluster, mut scenario) = single_cluster(
        &[("dev", "app_dev"), ("prod", "app_prod")],
        AdminKind::Superuser,
    );
    let secret = "Declared-Secret-9f27c1d4e8";
    scenario.env("SVC_PASSWORD", secret);
    scenario.file(
        "registry.toml",
        &format!(
            "{}{}",
            registry_toml(&[("dev", "app_dev", &cluster), ("prod", "app_prod", &cluster)]),
            inactive_entry("uat", "app_uat")
        ),
    );
    scenario.file(
        "roles.yaml",
        "roles:
  - name: svc
    login: true
    password: { env: SVC_PASSWORD }
    member_of: [app_rw]
    targets: [\"dev/*\", \"uat/*\"]
  - name: app_rw
    targets: [\"dev/*\"]
  - name: jsmith
    profile: devqa
    password: none
    search_path: [app, public]
    set: { statement_timeout: \"30s\" }
    targets: [\"dev/*\"]
  - name: old
    login: true
    password: none
    connection_limit: 3
    targets: [\"prod/*\"]
",
    );
    // `old` exists, unmanaged: it is adopted.
    cluster
        .client("postgres")
        .batch_execute("CREATE ROLE old LOGIN CONNECTION LIMIT 9")
        .unwrap();

    let out = scenario.run(&["plan", "--format", "json", "--detailed-exitcode"]);
    out.expect_code(2);
    assert_no_ansi(&out);
    assert_nowhere(&out, secret);
    assert_nowhere(&out, "SCRAM-SHA-256$");
    let doc = parse_json(&out);
    assert_eq!(doc["format_version"], 1, "{doc:#}");
    assert_eq!(doc["has_changes"], true);
    assert_eq!(doc["has_errors"], false);
    assert_eq!(doc["summary"]["add"], 3, "{doc:#}");
    assert_eq!(doc["summary"]["change"], 1, "{doc:#}");
    assert_eq!(doc["summary"]["destroy"], 0, "{doc:#}");
    let roles: BTreeMap<&str, &str> = doc["clusters"][0]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["role"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        BTreeMap::from([
            ("app_rw", "create"),
            ("jsmith", "create"),
            ("old", "adopt"),
            ("svc", "create")
        ])
    );

    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/plan.schema.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for key in ["format_version", "has_changes", "summary", "clusters"] {
        assert!(required.contains(key), "schema does not require `{key}`");
    }
    for key in &required {
        assert!(doc.get(key).is_some(), "plan JSON lacks required `{key}`");
    }
    let mut errors = Vec::new();
    schema_errors(&schema, &schema, &doc, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
    // The checker does catch a document that breaks the schema.
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("summary");
    broken["clusters"][0]["roles"][0]["action"] = Value::from("explode");
    let mut errors = Vec::new();
    schema_errors(&schema, &schema, &broken, "$", &mut errors);
    assert!(errors.len() >= 2, "{errors:?}");

    // The text plan is as secret-free, and neither touched the cluster.
    let text = scenario.run(&["plan"]);
    text.expect_success();
    assert_nowhere(&text, secret);
    assert_line(&text, "+ password = (sensitive, from environment)");

    // After apply, the JSON plan is empty and still valid.
    scenario.run(&["apply", "--auto-approve"]).expect_success();
    let out = scenario.run(&["plan", "--format", "json", "--detailed-exitcode"]);
    out.expect_success();
    let doc = parse_json(&out);
    assert_eq!(doc["has_changes"], false);
    assert_eq!(doc["summary"]["add"], 0);
    let mut errors = Vec::new();
    schema_errors(&schema, &schema, &doc, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_nowhere(&out, secret);
}

// ---------------------------------------------------------------------------------------------
// 3. Apply safety
// ---------------------------------------------------------------------------------------------

#[test]
fn apply_without_auto_approve_off_a_terminal_changes_nothing() {
    let (cluster, scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    scenario.file(
        "roles.yaml",
        "roles:\n  - name: app_rw\n    targets: [\"dev/*\"]\n  - name: jsmith\n    login: true\n    password: none\n    targets: [\"dev/*\"]\n",
    );
    let before = catalog_snapshot(&cluster);
    let count = role_count(&cluster);
    // `run` gives stdin from /dev/null; a pipe with `yes` in it is no terminal either.
    let out = scenario.run(&["apply"]);
    out.expect_code(1);
    assert_stderr_has(&out, "--auto-approve");
    assert_no_ansi(&out);
    let mut piped = scenario
        .pgroster(&["apply"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let _ = piped.stdin.take().unwrap().write_all(b"yes\n");
    }
    let piped = piped.wait_with_output().unwrap();
    assert_eq!(
        piped.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert_eq!(role_count(&cluster), count);
    assert_eq!(
        catalog_snapshot(&cluster),
        before,
        "apply changed the catalog"
    );
    assert!(!role_exists(&cluster, "app_rw"));
    // Nothing was recorded either.
    let audit = scenario.run(&["audit", "--format", "json"]);
    audit.expect_success();
    assert_eq!(parse_json(&audit), serde_json::json!([]));
}

// ---------------------------------------------------------------------------------------------
// 4. Admin problems
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_admin_password_names_the_cluster_and_target_and_never_echoes_the_password() {
    let (cluster, mut scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    let wrong = "Wr0ng-Admin-Passw0rd-5d1e";
    scenario.env(ADMIN_PASS_ENV, wrong);
    scenario.file(
        "roles.yaml",
        "roles:\n  - name: app_rw\n    targets: [\"dev/*\"]\n",
    );
    let before = catalog_snapshot(&cluster);
    let cluster_name = format!("127.0.0.1:{}", cluster.port);
    let mut outputs = Vec::new();
    for args in [
        &["plan"][..],
        &["plan", "--format", "json"],
        &["plan", "--detailed-exitcode"],
        &["apply", "--auto-approve"],
    ] {
        let out = scenario.run(args);
        assert_eq!(out.code, 1, "pgroster {args:?}\n{}", dump(&out));
        assert_nowhere(&out, wrong);
        assert!(
            format!("{}{}", out.stdout, out.stderr).contains(&cluster_name),
            "pgroster {args:?} does not name {cluster_name}\n{}",
            dump(&out)
        );
        outputs.push((args, out));
    }
    let json: Value = serde_json::from_str(&outputs[1].1.stdout).unwrap();
    assert_eq!(json["has_errors"], true);
    // The read commands fail the same way.
    let roles = scenario.run(&["roles", "--target", "dev/app_dev"]);
    roles.expect_code(1);
    assert_nowhere(&roles, wrong);
    assert_stderr_has(&roles, &cluster_name);
    assert_eq!(catalog_snapshot(&cluster), before);
    assert!(!cluster.server_log().contains(wrong));

    // An error belongs on stderr, where a CI log shows it even when stdout goes to a file.
    for (args, out) in &outputs {
        assert!(
            out.stderr.contains(&cluster_name) && out.stderr.contains("dev/app_dev"),
            "pgroster {args:?}: stderr does not name the cluster {cluster_name} and target dev/app_dev\n{}",
            dump(out)
        );
    }
}

#[test]
fn admin_without_superuser_or_createrole_cannot_manage_roles() {
    let (cluster, mut scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    let password = "Plain-Admin-Pw-33b0";
    let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
    cluster
        .client("postgres")
        .batch_execute(&format!(
            "CREATE ROLE plain_admin LOGIN PASSWORD {}",
            postgres_protocol::escape::escape_literal(&verifier)
        ))
        .unwrap();
    // It can log in: the failure is about what it may do, not about connecting.
    cluster.connect("plain_admin", password, "app_dev").unwrap();
    scenario
        .env(ADMIN_USER_ENV, "plain_admin")
        .env(ADMIN_PASS_ENV, password);
    scenario.file(
        "roles.yaml",
        "roles:\n  - name: app_rw\n    targets: [\"dev/*\"]\n",
    );
    let before = catalog_snapshot(&cluster);
    let mut outputs = Vec::new();
    for args in [
        &["plan"][..],
        &["plan", "--detailed-exitcode"],
        &["apply", "--auto-approve"],
    ] {
        let out = scenario.run(args);
        assert_eq!(out.code, 1, "pgroster {args:?}\n{}", dump(&out));
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            all.contains("cannot manage roles") && all.contains("plain_admin"),
            "pgroster {args:?}\n{}",
            dump(&out)
        );
        assert_nowhere(&out, password);
        outputs.push((args, out));
    }
    let json = scenario.run(&["plan", "--format", "json"]);
    json.expect_code(1);
    assert_eq!(parse_json(&json)["has_errors"], true);
    assert_eq!(catalog_snapshot(&cluster), before);
    assert!(!role_exists(&cluster, "app_rw"));

    // Nothing was applied, so apply must not report success (it exits 1).
    let (_, apply) = outputs.last().unwrap();
    assert!(
        !apply.stdout.contains("Apply complete"),
        "apply reports \"Apply complete!\" although the only cluster was skipped for errors\n{}",
        dump(apply)
    );
}

// ---------------------------------------------------------------------------------------------
// 5. The audit command
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 6. Concurrency
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 7. Read commands
// ---------------------------------------------------------------------------------------------

#[test]
fn registry_lists_every_entry_including_inactive_ones() {
    let cluster = Cluster::start();
    let scenario = Scenario::new();
    scenario.file(
        "registry.toml",
        &format!(
            "{}{}",
            registry_toml(&[("dev", "app_dev", &cluster), ("prod", "app_prod", &cluster)]),
            inactive_entry("uat", "app_uat")
        ),
    );
    // No database is contacted: app_dev and app_prod do not even exist.
    let out = scenario.run(&["registry"]);
    out.expect_success();
    assert_no_ansi(&out);
    let rows = parse_table(&out.stdout);
    let got: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| {
            vec![
                r["ENV"].as_str(),
                r["DATABASE"].as_str(),
                r["HOST"].as_str(),
                r["PORT"].as_str(),
                r["ACTIVE"].as_str(),
            ]
        })
        .collect();
    let port = cluster.port.to_string();
    assert_eq!(
        got,
        vec![
            vec!["dev", "app_dev", "127.0.0.1", port.as_str(), "yes"],
            vec!["prod", "app_prod", "127.0.0.1", port.as_str(), "yes"],
            vec!["uat", "app_uat", "127.0.0.1", "1", "no"],
        ],
        "{}",
        dump(&out)
    );

    let json = scenario.run(&["registry", "--format", "json"]);
    json.expect_success();
    let entries = parse_json(&json);
    let got: Vec<(String, String, String, u64, bool)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["target"]["env"].as_str().unwrap().to_string(),
                e["target"]["database"].as_str().unwrap().to_string(),
                e["cluster"]["host"].as_str().unwrap().to_string(),
                e["cluster"]["port"].as_u64().unwrap(),
                e["active"].as_bool().unwrap(),
            )
        })
        .collect();
    let p = u64::from(cluster.port);
    assert_eq!(
        got,
        vec![
            ("dev".into(), "app_dev".into(), "127.0.0.1".into(), p, true),
            (
                "prod".into(),
                "app_prod".into(),
                "127.0.0.1".into(),
                p,
                true
            ),
            ("uat".into(), "app_uat".into(), "127.0.0.1".into(), 1, false),
        ]
    );
}

#[test]
fn roles_and_show_read_a_targets_cluster() {
    let (cluster, scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    cluster
        .client("postgres")
        .batch_execute("CREATE ROLE legacy LOGIN CONNECTION LIMIT 3")
        .unwrap();
    scenario.file(
        "roles.yaml",
        "roles:
  - name: app_rw
    targets: [\"dev/*\"]
  - name: reader
    profile: devlead
    connection_limit: 7
    password: none
    member_of: [app_rw]
    search_path: [app, public]
    set: { statement_timeout: \"30s\" }
    targets: [\"dev/*\"]
",
    );
    scenario.run(&["apply", "--auto-approve"]).expect_success();

    // roles
    let out = scenario.run(&["roles", "--target", "dev/app_dev"]);
    out.expect_success();
    assert_no_ansi(&out);
    let header = out.stdout.lines().next().unwrap_or_default();
    assert!(header.contains("MANAGED"), "{}", dump(&out));
    let rows = parse_table(&out.stdout);
    let by_name: BTreeMap<&str, &BTreeMap<String, String>> =
        rows.iter().map(|r| (r["ROLE"].as_str(), r)).collect();
    for name in ["app_rw", "reader", "legacy", "postgres", CREATEROLE_ADMIN] {
        assert!(by_name.contains_key(name), "{name} missing\n{}", dump(&out));
    }
    let managed = |name: &str| by_name[name]["MANAGED"].clone();
    assert!(managed("reader").starts_with("yes"), "{}", dump(&out));
    assert!(managed("reader").contains("devlead"), "{}", dump(&out));
    assert!(managed("app_rw").starts_with("yes"), "{}", dump(&out));
    assert_eq!(managed("legacy"), "no");
    assert_eq!(managed("postgres"), "no");
    assert_eq!(by_name["reader"]["MEMBER OF"], "app_rw");
    assert_eq!(by_name["reader"]["CONN LIMIT"], "7");
    assert!(by_name["reader"]["ATTRIBUTES"].contains("LOGIN"));
    assert_eq!(by_name["legacy"]["CONN LIMIT"], "3");
    assert!(by_name["postgres"]["ATTRIBUTES"].contains("SUPERUSER"));

    let json = scenario.run(&["roles", "--target", "dev/app_dev", "--format", "json"]);
    json.expect_success();
    let list = parse_json(&json);
    let find = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {list:#}"))
            .clone()
    };
    assert_eq!(find("reader")["managed"], true);
    assert_eq!(find("legacy")["managed"], false);

    // show: attributes, member_of, settings, managed
    let out = scenario.run(&["show", "reader", "--target", "dev/app_dev"]);
    out.expect_success();
    assert_no_ansi(&out);
    assert_stdout_has(&out, "role \"reader\"");
    let fields: BTreeMap<String, String> = parse_table(
        &out.stdout
            .lines()
            .skip_while(|l| !l.starts_with("FIELD"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .into_iter()
    .map(|r| (r["FIELD"].clone(), r["VALUE"].clone()))
    .collect();
    assert_eq!(
        fields.get("login").map(String::as_str),
        Some("true"),
        "{fields:?}"
    );
    assert_eq!(fields.get("superuser").map(String::as_str), Some("false"));
    assert_eq!(
        fields.get("connection_limit").map(String::as_str),
        Some("7")
    );
    assert_eq!(fields.get("member_of").map(String::as_str), Some("app_rw"));
    let setting = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.starts_with(&format!("{name} ")) && k.contains("app_dev"))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} setting in {fields:?}"))
    };
    assert_eq!(setting("search_path"), "app, public");
    assert_eq!(setting("statement_timeout"), "30s");
    let managed = fields.get("managed").cloned().unwrap_or_default();
    assert!(
        managed.starts_with("yes") && managed.contains("devlead"),
        "{fields:?}"
    );

    let json = scenario.run(&[
        "show",
        "reader",
        "--target",
        "dev/app_dev",
        "--format",
        "json",
    ]);
    json.expect_success();
    let role = parse_json(&json);
    assert_eq!(role["name"], "reader");
    assert_eq!(role["attributes"]["login"], true);
    assert_eq!(role["attributes"]["connection_limit"], 7);
    // A list of groups, or a map from group to membership options.
    let groups: Vec<&str> = match &role["member_of"] {
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        Value::Object(map) => map.keys().map(String::as_str).collect(),
        other => panic!("member_of is {other}"),
    };
    assert_eq!(groups, ["app_rw"], "{role:#}");
    assert_eq!(role["managed"], true);
    assert_eq!(role["profile"], "devlead");
    let settings = role["settings"].as_array().unwrap();
    assert!(
        settings.iter().any(|s| s["name"] == "statement_timeout"
            && s["value"] == "30s"
            && s["scope"].as_str().unwrap_or_default().contains("app_dev")),
        "{role:#}"
    );

    let legacy = scenario.run(&["show", "legacy", "--target", "dev/app_dev"]);
    legacy.expect_success();
    assert!(
        squeezed_lines(&legacy.stdout)
            .iter()
            .any(|l| l == "managed no"),
        "{}",
        dump(&legacy)
    );

    // A missing role, and a target outside the registry.
    let missing = scenario.run(&["show", "ghost_role", "--target", "dev/app_dev"]);
    missing.expect_code(1);
    assert_stderr_has(&missing, "ghost_role");
    let outside = scenario.run(&["roles", "--target", "nope/app_nope"]);
    outside.expect_code(1);
    assert_stderr_has(&outside, "nope/app_nope");
}
