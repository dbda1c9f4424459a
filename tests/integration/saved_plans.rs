//! Saved plans (issue 11): `plan --out FILE`, then `apply FILE` runs exactly that plan, refused
//! with nothing changed when a cluster it covers was changed by hand since, when the config
//! changed, or when the plan has errors; `show-plan FILE` prints it as text and JSON. The file
//! holds no secret: generated passwords are made, and delivered, at apply time.

use crate::harness::{
    assert_has, assert_lacks, catalog_snapshot, direct_privileges, exec, exec_as, ident, logs_in,
    parse_json, password_of, random_secret, read_credentials, registry_toml, role_exists,
    schema_errors, AdminKind, Cluster, Output, Scenario,
};
use std::path::Path;

const ROLES: &str = r#"
roles:
  - name: readers
    targets: ["dev/appdb"]
    grants:
      - on: database
        privileges: [CONNECT]
      - on: tables
        schemas: [public]
        privileges: [SELECT]
  - name: alice
    login: true
    password: none
    member_of: [readers]
    targets: ["dev/appdb"]
"#;

fn scenario(cluster: &Cluster, kind: AdminKind, roles: &str) -> Scenario {
    cluster.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", cluster)]);
    Scenario::with_files(cluster, kind, &registry, roles)
}

/// `plan --out FILE` (the file in the scenario dir), expected to succeed.
#[track_caller]
fn save_plan(s: &Scenario, file: &str) -> Output {
    let out = s.run(&["plan", "--out", file]);
    out.expect_success();
    assert_has(&out.stderr, &format!("Saved the plan to {file}"));
    out
}

/// `apply FILE`, expected to be refused as stale, naming each of `clusters`.
#[track_caller]
fn apply_refused_as_stale(s: &Scenario, file: &str, clusters: &[&Cluster]) -> Output {
    let out = s.run(&["apply", file, "--auto-approve"]);
    out.expect_code(1);
    assert_has(&out.stderr, "apply refused, nothing was changed");
    for cluster in clusters {
        let name = format!("cluster 127.0.0.1:{}", cluster.port);
        assert_has(
            &out.stderr,
            &format!("{name} changed since the plan was made"),
        );
    }
    out
}

/// Everything a refused apply could have changed: every role, and the privileges in appdb of
/// the declared roles.
fn state(cluster: &Cluster) -> (Vec<Vec<Option<String>>>, Vec<String>, Vec<String>) {
    (
        catalog_snapshot(cluster),
        direct_privileges(cluster, "appdb", "readers"),
        direct_privileges(cluster, "appdb", "alice"),
    )
}

/// A saved plan whose cluster was changed with psql after it was made is refused, naming the
/// cluster, and changes nothing; a plan saved afresh is applied exactly as it was printed, after
/// which nothing is left to plan.
fn stale_and_fresh(kind: AdminKind) {
    let cluster = Cluster::start();
    let s = scenario(&cluster, kind, ROLES);
    // A CREATEROLE admin grants on what it owns: the database and its schema are the admin's.
    let admin = ident(kind.user());
    exec(
        &cluster,
        "postgres",
        &format!("ALTER DATABASE appdb OWNER TO {admin}"),
    );
    exec(
        &cluster,
        "appdb",
        &format!("ALTER SCHEMA public OWNER TO {admin}"),
    );

    // A role created by hand between plan and apply: the saved plan would create it again.
    save_plan(&s, "stale.json");
    // Created as the admin, which may then adopt it (on 16+ a CREATEROLE admin needs ADMIN
    // OPTION on it, which its creator gets).
    exec_as(
        &cluster,
        "postgres",
        kind.user(),
        "CREATE ROLE readers NOLOGIN",
    );
    let before = state(&cluster);
    apply_refused_as_stale(&s, "stale.json", &[&cluster]);
    assert_eq!(state(&cluster), before);
    assert!(!role_exists(&cluster, "alice"));
    assert!(
        !s.audit_log().exists(),
        "a refused apply started an audit run"
    );

    // A table created by hand in a target database: the saved plan would miss its grant.
    save_plan(&s, "stale2.json");
    exec_as(
        &cluster,
        "appdb",
        kind.user(),
        "CREATE TABLE public.orders (id int)",
    );
    let before = state(&cluster);
    apply_refused_as_stale(&s, "stale2.json", &[&cluster]);
    assert_eq!(state(&cluster), before);

    // Saved afresh: applied as printed, and what it printed is what `plan` printed.
    let planned = save_plan(&s, "fresh.json");
    assert_has(&planned.stdout, "Plan: 1 to add, 1 to change");
    let applied = s.run(&["apply", "fresh.json", "--auto-approve"]);
    applied.expect_success();
    assert_has(
        &applied.stderr,
        "the config and its 1 cluster(s) read as they did then",
    );
    assert!(
        applied.stdout.starts_with(&planned.stdout),
        "apply FILE printed another plan\n--- plan\n{}\n--- apply\n{}",
        planned.stdout,
        applied.stdout
    );
    assert!(role_exists(&cluster, "alice"));
    assert_eq!(
        direct_privileges(&cluster, "appdb", "readers"),
        ["database appdb: CONNECT", "table public.orders: SELECT"]
    );
    s.assert_converged();

    // The plan it applied is stale now: its changes are in the catalog.
    apply_refused_as_stale(&s, "fresh.json", &[&cluster]);
}

#[test]
fn a_stale_saved_plan_is_refused_and_a_fresh_one_is_applied_exactly_superuser_admin() {
    stale_and_fresh(AdminKind::Superuser);
}

#[test]
fn a_stale_saved_plan_is_refused_and_a_fresh_one_is_applied_exactly_createrole_admin() {
    stale_and_fresh(AdminKind::CreateRole);
}

/// Every cluster a saved plan covers is checked before any runs: one changed cluster refuses
/// the whole plan, and the unchanged one is not touched either. A plan saved with `--target`
/// covers only the clusters it selected: a change elsewhere does not refuse it.
#[test]
fn a_saved_plan_checks_every_cluster_it_covers_before_running_any() {
    let dev = Cluster::start();
    let prod = Cluster::start();
    dev.create_database("appdb");
    prod.create_database("appdb");
    let registry = registry_toml(&[("dev", "appdb", &dev), ("prod", "appdb", &prod)]);
    let roles = r#"
roles:
  - name: alice
    login: true
    password: none
    targets: ["dev/appdb", "prod/appdb"]
"#;
    let s = Scenario::with_files(&dev, AdminKind::Superuser, &registry, roles);

    let out = s.run(&["plan", "--target", "prod", "--out", "prod.json"]);
    out.expect_success();
    let shown = s.run(&["show-plan", "prod.json"]);
    assert_has(&shown.stdout, "Targets: prod");
    assert_lacks(&shown.stdout, &format!("127.0.0.1:{}", dev.port));
    save_plan(&s, "both.json");

    // dev changes by hand: the plan for prod alone still applies, and dev is not touched.
    exec(&dev, "postgres", "CREATE ROLE bystander NOLOGIN");
    s.run(&["apply", "prod.json", "--auto-approve"])
        .expect_success();
    assert!(role_exists(&prod, "alice"));
    assert!(!role_exists(&dev, "alice"));

    // The plan for both: prod reads differently now, and so does dev.
    let before = (catalog_snapshot(&dev), catalog_snapshot(&prod));
    apply_refused_as_stale(&s, "both.json", &[&dev, &prod]);
    assert_eq!((catalog_snapshot(&dev), catalog_snapshot(&prod)), before);

    // Only dev changes between plan and apply: prod, unchanged, is not run either.
    exec(&prod, "postgres", "DROP ROLE alice");
    save_plan(&s, "both.json");
    exec(&dev, "postgres", "DROP ROLE bystander");
    let before = (catalog_snapshot(&dev), catalog_snapshot(&prod));
    let out = apply_refused_as_stale(&s, "both.json", &[&dev]);
    assert_lacks(&out.stderr, &format!("127.0.0.1:{}", prod.port));
    assert_eq!((catalog_snapshot(&dev), catalog_snapshot(&prod)), before);
    assert!(!role_exists(&prod, "alice"));
}

/// A saved plan is refused, before any cluster is contacted, when a config file changed, was
/// added or went since it was made, and when the plan has errors.
#[test]
fn a_saved_plan_is_refused_when_the_config_changed_or_the_plan_has_errors() {
    let cluster = Cluster::start();
    let s = scenario(&cluster, AdminKind::Superuser, ROLES);
    save_plan(&s, "plan.json");
    let before = state(&cluster);

    s.file("roles.yaml", &ROLES.replace("login: true", "login: false"));
    let out = s.run(&["apply", "plan.json", "--auto-approve"]);
    out.expect_code(1);
    assert_has(
        &out.stderr,
        "the config changed since the plan was made (roles.yaml changed); plan again",
    );
    s.file("roles.yaml", ROLES);
    s.file("more.yaml", "roles: []\n");
    let out = s.run(&["apply", "plan.json", "--auto-approve"]);
    out.expect_code(1);
    assert_has(&out.stderr, "(more.yaml added)");
    assert_eq!(state(&cluster), before);

    std::fs::remove_file(s.path().join("more.yaml")).unwrap();

    // An edited file (alice made a superuser) does not hold the plan its config and cluster
    // give: refused, though its digests and fingerprints are the ones saved.
    let path = s.path().join("plan.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let mut edited: serde_json::Value = serde_json::from_str(&original).unwrap();
    let roles = edited["plan"]["clusters"][0]["roles"]
        .as_array_mut()
        .unwrap();
    let alice = roles.iter_mut().find(|r| r["role"] == "alice").unwrap();
    alice["changes"][0]["attributes"]["superuser"] = serde_json::json!(true);
    std::fs::write(&path, edited.to_string()).unwrap();
    let out = s.run(&["apply", "plan.json", "--auto-approve"]);
    out.expect_code(1);
    assert_has(
        &out.stderr,
        &format!(
            "cluster 127.0.0.1:{} has other changes than the plan made now from the same config and state",
            cluster.port
        ),
    );
    assert_eq!(state(&cluster), before);

    // Back as it was: the same plan applies.
    std::fs::write(&path, original).unwrap();
    s.run(&["apply", "plan.json", "--auto-approve"])
        .expect_success();
    s.assert_converged();

    // A plan with errors is saved (the pull request shows it) but never applied.
    s.file(
        "roles.yaml",
        &format!(
            "{ROLES}  - name: bob\n    member_of: [nosuchgroup]\n    targets: [\"dev/appdb\"]\n"
        ),
    );
    let out = s.run(&["plan", "--out", "broken.json"]);
    out.expect_code(1);
    assert_has(&out.stderr, "it has errors, so `apply` refuses it");
    let before = state(&cluster);
    let out = s.run(&["apply", "broken.json", "--auto-approve"]);
    out.expect_code(1);
    assert_has(
        &out.stderr,
        &format!(
            "the saved plan has errors on cluster 127.0.0.1:{}, so it cannot be applied",
            cluster.port
        ),
    );
    assert_eq!(state(&cluster), before);
    assert!(!role_exists(&cluster, "bob"));
}

/// `show-plan` prints the saved plan as `plan` did, under what it was made from, and as JSON
/// whose `plan` is what `plan --format json` prints. Neither the file nor anything printed
/// holds a password; `apply FILE` generates and delivers them, like `apply`.
#[test]
fn show_plan_reads_a_saved_plan_that_holds_no_password_and_apply_delivers_them() {
    let cluster = Cluster::start();
    let roles = r#"
roles:
  - name: gen
    login: true
    targets: ["dev/appdb"]
  - name: fromenv
    login: true
    password: { env: FROMENV_PASS }
    targets: ["dev/appdb"]
"#;
    let mut s = scenario(&cluster, AdminKind::Superuser, roles);
    let secret = random_secret("saved-");
    s.env("FROMENV_PASS", &secret);
    let planned = save_plan(&s, "plan.json");
    let file = std::fs::read_to_string(s.path().join("plan.json")).unwrap();
    assert_lacks(&file, &secret);
    assert_lacks(&file, "SCRAM-SHA-256");

    let shown = s.run(&["show-plan", "plan.json"]);
    shown.expect_success();
    assert_has(&shown.stdout, "Saved plan, made ");
    assert_has(&shown.stdout, "Config: sha256:");
    assert_has(&shown.stdout, "registry.toml, roles.yaml");
    assert_has(&shown.stdout, "Targets: every active target");
    assert_has(
        &shown.stdout,
        &format!("Cluster 127.0.0.1:{}: state sha256:", cluster.port),
    );
    assert!(
        shown.stdout.ends_with(&planned.stdout),
        "show-plan printed another plan\n--- plan\n{}\n--- show-plan\n{}",
        planned.stdout,
        shown.stdout
    );
    let json = parse_json(&s.run(&["show-plan", "plan.json", "--format", "json"]));
    let printed = parse_json(&s.run(&["plan", "--format", "json"]));
    assert_eq!(json["plan"], printed);
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/saved-plan.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let mut errors = Vec::new();
    schema_errors(&schema, &schema, &json, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema reaches into the plan: one without its summary breaks it.
    let mut broken = json.clone();
    broken["plan"].as_object_mut().unwrap().remove("summary");
    schema_errors(&schema, &schema, &broken, "$", &mut errors);
    assert_eq!(errors, ["$.plan: required key `summary` is missing"]);
    assert_eq!(json["selection"], serde_json::json!([]));
    let made_at = json["made_at"].as_str().unwrap();
    assert!(
        made_at.len() == 20 && made_at.as_bytes()[10] == b'T' && made_at.ends_with('Z'),
        "made_at {made_at}"
    );
    assert_has(
        &shown.stdout,
        &format!("Saved plan, made {made_at} by pgroster "),
    );
    assert!(json["config"]["files"]["roles.yaml"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    // Applied like `apply`: a generated password needs --credentials-out.
    let refused = s.run(&["apply", "plan.json", "--auto-approve"]);
    refused.expect_code(1);
    assert_has(&refused.stderr, "--credentials-out");
    assert!(!role_exists(&cluster, "gen"));
    let creds = s.path().join("creds.json");
    let args = ["apply", "plan.json", "--auto-approve", "--credentials-out"];
    let applied = s.run(&[&args[..], &[creds.to_str().unwrap()]].concat());
    applied.expect_success();
    let password = password_of(&read_credentials(&creds), "gen");
    assert!(logs_in(&cluster, "gen", &password, "appdb"));
    assert!(logs_in(&cluster, "fromenv", &secret, "appdb"));
    assert_lacks(&s.transcript(), &password);
    assert_lacks(&s.transcript(), &secret);
    s.assert_converged();
}
