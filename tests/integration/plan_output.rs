//! What `plan` prints: Terraform-style text (plain when piped), inactive targets listed once and
//! never contacted, `--detailed-exitcode` (2 with changes, 0 once applied, 2 again on drift), and the
//! JSON plan, checked against `schema/plan.schema.json`; no password in either. Object names in the
//! text as SQL writes them, and `names:` matched case-sensitively, quoted or not (issue 10).

use crate::harness::{
    assert_line, assert_no_ansi, assert_nowhere, assert_stdout_has, catalog_snapshot,
    direct_privileges, dump, exec, inactive_entry, parse_json, registry_toml, role_exists,
    schema_errors, single_cluster, AdminKind,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::Path;

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
        // Each as `--target` would pick it: with its cluster, here its default name host:port.
        ["Skipped (inactive): uat/app_uat@127.0.0.1:1, uat/app_uat2@127.0.0.1:1"],
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
                "{}/{}@{}",
                t["env"].as_str().unwrap(),
                t["database"].as_str().unwrap(),
                t["cluster"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        inactive,
        ["uat/app_uat@127.0.0.1:1", "uat/app_uat2@127.0.0.1:1"]
    );

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

/// Issue 10: object names print as SQL writes them, quoted only when needed, so
/// `"we""ird.sch"."T.a""b"` cannot be read as `"we""ird"."sch.T.a""b"` (a decoy that exists too,
/// and that unquoted text would print identically: `we"ird.sch.T.a"b`).
#[test]
fn plan_text_quotes_odd_object_names_as_sql_does_issue_10() {
    let (cluster, scenario) = single_cluster(&[("dev", "App DB")], AdminKind::Superuser);
    exec(
        &cluster,
        "App DB",
        r#"CREATE SCHEMA "Odd Schema";
           CREATE TABLE "Odd Schema"."Tab le" (id int);
           CREATE SCHEMA "we""ird.sch";
           CREATE TABLE "we""ird.sch"."T.a""b" (id int);
           CREATE SCHEMA "we""ird";
           CREATE TABLE "we""ird"."sch.T.a""b" (id int);"#,
    );
    // Schema names in `on: schemas` are taken as written; object names are `schema.name` with
    // SQL's double quotes around a part holding a dot or a quote.
    scenario.file(
        "roles.yaml",
        r#"roles:
  - name: odd_reader
    targets: ["dev/App DB"]
    grants:
      - on: schemas
        names: ["Odd Schema", 'we"ird.sch']
        privileges: [USAGE]
      - on: table
        names: ['"Odd Schema"."Tab le"', '"we""ird.sch"."T.a""b"']
        privileges: [SELECT]
"#,
    );
    let out = scenario.plan_changes();
    assert_line(
        &out,
        r#"+ grant USAGE on schema "Odd Schema", "we""ird.sch" (in database "App DB")"#,
    );
    assert_line(
        &out,
        r#"+ grant SELECT on table "Odd Schema"."Tab le" (in database "App DB")"#,
    );
    assert_line(
        &out,
        r#"+ grant SELECT on table "we""ird.sch"."T.a""b" (in database "App DB")"#,
    );
    assert_nowhere(&out, "Odd Schema.Tab le");
    scenario.apply(None).expect_success();
    assert_eq!(
        direct_privileges(&cluster, "App DB", "odd_reader"),
        [
            "schema Odd Schema: USAGE",
            "schema we\"ird.sch: USAGE",
            "table Odd Schema.Tab le: SELECT",
            "table we\"ird.sch.T.a\"b: SELECT",
        ]
    );
    scenario.assert_converged();

    // Drift on the table and on its decoy: two revokes that name two different tables.
    exec(
        &cluster,
        "App DB",
        r#"GRANT DELETE ON "we""ird.sch"."T.a""b" TO odd_reader;
           GRANT UPDATE ON "we""ird"."sch.T.a""b" TO odd_reader;"#,
    );
    let out = scenario.plan_changes();
    assert_line(
        &out,
        r#"- revoke DELETE on table "we""ird.sch"."T.a""b" (in database "App DB"), granted by postgres"#,
    );
    assert_line(
        &out,
        r#"- revoke UPDATE on table "we""ird"."sch.T.a""b" (in database "App DB"), granted by postgres"#,
    );
    assert_nowhere(&out, "we\"ird.sch.T.a\"b");
    scenario.apply(None).expect_success();
    assert_eq!(
        direct_privileges(&cluster, "App DB", "odd_reader"),
        [
            "schema Odd Schema: USAGE",
            "schema we\"ird.sch: USAGE",
            "table Odd Schema.Tab le: SELECT",
            "table we\"ird.sch.T.a\"b: SELECT",
        ]
    );
    scenario.assert_converged();
}

/// Issue 10: names in `names:` are matched exactly, quoted or not (no folding to lower case as in
/// SQL), and the plan quotes the one whose case SQL would fold.
#[test]
fn object_names_are_case_sensitive_quoted_or_not_issue_10() {
    let (cluster, scenario) = single_cluster(&[("dev", "appdb")], AdminKind::Superuser);
    exec(
        &cluster,
        "appdb",
        r#"CREATE TABLE public."Orders" (id int);
           CREATE TABLE public.orders (id int);"#,
    );
    scenario.file(
        "roles.yaml",
        r#"roles:
  - name: clerk
    targets: ["dev/appdb"]
    grants:
      - on: table
        names: [public.Orders]
        privileges: [SELECT]
      - on: table
        names: ['"public"."orders"']
        privileges: [INSERT]
"#,
    );
    let out = scenario.plan_changes();
    assert_line(
        &out,
        r#"+ grant SELECT on table public."Orders" (in database appdb)"#,
    );
    assert_line(
        &out,
        "+ grant INSERT on table public.orders (in database appdb)",
    );
    scenario.apply(None).expect_success();
    // Sorted here: the server's collation may order the two spellings either way.
    let mut held = direct_privileges(&cluster, "appdb", "clerk");
    held.sort();
    assert_eq!(
        held,
        ["table public.Orders: SELECT", "table public.orders: INSERT"]
    );
    scenario.assert_converged();
}
