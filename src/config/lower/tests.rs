//! Lowering: templates, profiles, targets and the checks that name the place at fault.

use super::fields::InvalidValidUntil;
use super::*;
use crate::config::{merge, Format, SourceFile};
use crate::model::privileges::{GrantTarget, ObjectKind};
use crate::model::utc::UtcTimeError;
use crate::model::{PasswordPolicy, SettingScope};
use std::path::{Path, PathBuf};

const REGISTRY: &str = r#"
[envs.dev]
prefix = "dv"
[envs.prod]
prefix = "pr"

[[databases]]
env = "dev"
name = "app_dev_main"
host = "pg-dev"

[[databases]]
env = "dev"
name = "app_dev_other"
host = "pg-dev"

[[databases]]
env = "qa"
name = "app_qa"
host = "pg-qa"
active = false

[[databases]]
env = "prod"
name = "app_prod_main"
host = "pg-prod"
port = 6432
"#;

fn lowered(roles_yaml: &str) -> Result<Lowered, String> {
    let files = vec![
        SourceFile::new(Path::new("registry.toml"), Format::Toml, REGISTRY.into()),
        SourceFile::new(Path::new("roles.yaml"), Format::Yaml, roles_yaml.into()),
    ];
    let config = merge(PathBuf::from("."), files).map_err(|e| e.to_string())?;
    lower(
        config,
        &LowerInput {
            admin_user: Some("roster_admin"),
        },
    )
    .map_err(|e| e.to_string())
}

/// `lowered` over another registry.
fn lowered_with(registry: &str, roles_yaml: &str) -> Result<Lowered, String> {
    let files = vec![
        SourceFile::new(Path::new("registry.toml"), Format::Toml, registry.into()),
        SourceFile::new(Path::new("roles.yaml"), Format::Yaml, roles_yaml.into()),
    ];
    let config = merge(PathBuf::from("."), files).map_err(|e| e.to_string())?;
    lower(config, &LowerInput::default()).map_err(|e| e.to_string())
}

const FLEET: &str = r#"
[[databases]]
env = "prod"
name = "app"
host = "pg-eu"
cluster = "eu-west"

[[databases]]
env = "prod"
name = "app"
host = "pg-us"
cluster = "us-east"

[[databases]]
env = "prod"
name = "app"
host = "pg-ap"
"#;

#[test]
fn one_target_on_many_clusters_gets_its_roles_on_each_unless_narrowed() {
    let l = lowered_with(
        FLEET,
        "roles:\n  - name: everywhere\n    targets: [\"prod/app\"]\n  - name: europe\n    targets: [\"prod/app@eu-*\"]\n",
    )
    .unwrap();
    let names: Vec<_> = l.registry.entries.iter().map(|e| e.qualified()).collect();
    assert_eq!(
        names,
        [
            "prod/app@eu-west",
            "prod/app@us-east",
            "prod/app@pg-ap:5432"
        ]
    );
    let everywhere = RoleName::existing("everywhere");
    let europe = RoleName::existing("europe");
    for host in ["pg-eu", "pg-us", "pg-ap"] {
        let roles = &l.desired[&cluster(host, 5432)].roles;
        assert!(roles.contains_key(&everywhere), "{host}");
        assert_eq!(roles.contains_key(&europe), host == "pg-eu", "{host}");
    }
}

#[test]
fn the_same_target_twice_on_one_cluster_is_refused_naming_both_places() {
    let twice = format!("{FLEET}\n[[databases]]\nenv = \"prod\"\nname = \"app\"\nhost = \"pg-us\"\ncluster = \"us-east\"\n");
    let error = lowered_with(&twice, "roles: []\n").unwrap_err();
    assert!(
        error.contains("database prod/app is registered twice on cluster us-east"),
        "{error}"
    );
    assert!(error.contains("registry.toml:19:1"), "{error}");
    assert!(error.contains("first at registry.toml:8:1"), "{error}");
    // The same server under another name is the same database registered twice.
    let renamed = format!("{FLEET}\n[[databases]]\nenv = \"prod\"\nname = \"app\"\nhost = \"pg-us\"\ncluster = \"us-2\"\n");
    let error = lowered_with(&renamed, "roles: []\n").unwrap_err();
    assert!(
        error.contains(
            "cluster `us-2` (pg-us:5432) conflicts with prod/app on cluster `us-east` (pg-us:5432)"
        ),
        "{error}"
    );
    let bad = FLEET.replace("\"eu-west\"", "\"eu@west\"");
    let error = lowered_with(&bad, "roles: []\n").unwrap_err();
    assert!(
        error.contains("cluster `eu@west` must be non-empty"),
        "{error}"
    );
}

fn cluster(host: &str, port: u16) -> ClusterKey {
    ClusterKey {
        host: host.into(),
        port,
    }
}

#[test]
fn expands_templates_per_env_and_groups_by_cluster() {
    let l = lowered(
        "roles:\n  - profile: app-k8s\n    farm: gear\n    targets: [\"dev/app_dev_main\", \"prod/*\"]\n  - profile: app\n    servername: web01\n    port: 8080\n    targets: [\"dev/*\"]\n",
    )
    .unwrap();
    let dev = &l.desired[&cluster("pg-dev", 5432)];
    assert!(dev.roles.contains_key(&RoleName::existing("dv_gear")));
    let web = &dev.roles[&RoleName::existing("web01_8080")];
    assert_eq!(web.attributes.connection_limit, 200);
    assert!(web.attributes.login);
    assert_eq!(web.targets.len(), 2, "one cluster, two targets");
    let prod = &l.desired[&cluster("pg-prod", 6432)];
    assert!(prod.roles.contains_key(&RoleName::existing("pr_gear")));
}

#[test]
fn settings_are_per_database_unless_the_profile_says_role_wide() {
    let l = lowered(
        "roles:\n  - name: jsmith\n    profile: devqa\n    targets: [dev]\n    search_path: [app, public]\n    set: { statement_timeout: 30s }\n  - name: boss\n    profile: dba\n    targets: [dev]\n    search_path: [admin]\n",
    )
    .unwrap();
    let dev = &l.desired[&cluster("pg-dev", 5432)];
    let jsmith = &dev.roles[&RoleName::existing("jsmith")];
    assert_eq!(jsmith.settings.len(), 2);
    let main = &jsmith.settings[&SettingScope::Database("app_dev_main".into())];
    assert_eq!(main["search_path"], "app, public");
    assert_eq!(main["statement_timeout"], "30s");
    let boss = &dev.roles[&RoleName::existing("boss")];
    assert_eq!(
        boss.settings.keys().collect::<Vec<_>>(),
        vec![&SettingScope::AllDatabases]
    );
    assert!(boss.attributes.createrole && boss.attributes.createdb);
}

#[test]
fn inactive_targets_are_skipped_not_planned() {
    let l = lowered("roles:\n  - name: q\n    profile: devqa\n    targets: [\"qa/*\"]\n").unwrap();
    assert!(l.skipped.contains(&(
        RoleName::existing("q"),
        TargetName {
            env: "qa".into(),
            database: "app_qa".into()
        }
    )));
    assert!(!l.desired.contains_key(&cluster("pg-qa", 5432)));
}

#[test]
fn semantic_errors_name_file_line_role_and_target() {
    let err = lowered("roles:\n  - name: jsmith\n    profile: devqa\n    targets: [\"prod/*\"]\n")
        .unwrap_err();
    assert!(err.contains("roles.yaml:4:5"), "{err}");
    assert!(
        err.contains("`jsmith`") && err.contains("devqa") && err.contains("prod/app_prod_main"),
        "{err}"
    );

    let err = lowered("roles:\n  - profile: app\n    servername: web01\n    targets: [dev]\n")
        .unwrap_err();
    assert!(err.contains("needs the key `port`"), "{err}");

    let err = lowered(
        "roles:\n  - name: x\n    profile: devqa\n    targets: [dev]\n    conection_limit: 3\n",
    )
    .unwrap_err();
    assert!(
        err.contains("roles.yaml:5:5") && err.contains("did you mean `connection_limit`?"),
        "{err}"
    );

    let err =
        lowered("roles:\n  - name: x\n    profile: devqaa\n    targets: [dev]\n").unwrap_err();
    assert!(err.contains("did you mean `devqa`?"), "{err}");

    let err = lowered(&format!(
        "roles:\n  - name: {}\n    targets: [dev]\n",
        "x".repeat(64)
    ))
    .unwrap_err();
    assert!(err.contains("at most 63"), "{err}");

    let err = lowered("roles:\n  - name: postgres\n    targets: [dev]\n").unwrap_err();
    assert!(err.contains("ignore_roles"), "{err}");

    let err = lowered("roles:\n  - name: roster_admin\n    targets: [dev]\n").unwrap_err();
    assert!(err.contains("admin role"), "{err}");

    let err = lowered("roles:\n  - name: x\n    targets: [\"staging/*\"]\n").unwrap_err();
    assert!(err.contains("matches no registry entry"), "{err}");

    let err = lowered("roles:\n  - name: x\n    targets: [\"dev/[\"]\n").unwrap_err();
    assert!(err.contains("bad target glob"), "{err}");
}

#[test]
fn disagreeing_declarations_on_one_cluster_are_an_error() {
    let err = lowered(
        "roles:\n  - name: x\n    profile: devqa\n    targets: [dev/app_dev_main]\n  - name: x\n    profile: devlead\n    connection_limit: 5\n    targets: [dev/app_dev_other]\n",
    )
    .unwrap_err();
    assert!(
        err.contains("declared twice on cluster pg-dev:5432"),
        "{err}"
    );
    assert!(
        err.contains("roles.yaml:2:"),
        "names the other place: {err}"
    );
    // Agreeing declarations merge.
    lowered("roles:\n  - name: x\n    profile: devqa\n    targets: [dev/app_dev_main]\n  - name: x\n    profile: devqa\n    targets: [dev/app_dev_other]\n").unwrap();
}

#[test]
fn names_are_kept_exactly() {
    let l = lowered("roles:\n  - name: JSmith\n    targets: [dev]\n  - name: \"evil SUPERUSER\"\n    targets: [dev]\n").unwrap();
    let dev = &l.desired[&cluster("pg-dev", 5432)];
    assert!(dev.roles.contains_key(&RoleName::existing("JSmith")));
    assert!(dev
        .roles
        .contains_key(&RoleName::existing("evil SUPERUSER")));
}

#[test]
fn passwords_follow_the_declared_policy() {
    let l = lowered("roles:\n  - name: a\n    profile: devqa\n    targets: [dev]\n    password: { rotate: \"2026-11\" }\n  - name: b\n    profile: devqa\n    targets: [dev]\n    password: none\n  - name: c\n    profile: devqa\n    targets: [dev]\n    password: { env: C_PASS }\n  - name: g\n    targets: [dev]\n").unwrap();
    let roles = &l.desired[&cluster("pg-dev", 5432)].roles;
    assert_eq!(
        roles[&RoleName::existing("a")].password,
        PasswordPolicy::Generate {
            rotation: Some("2026-11".into())
        }
    );
    assert_eq!(
        roles[&RoleName::existing("b")].password,
        PasswordPolicy::None
    );
    assert_eq!(
        roles[&RoleName::existing("c")].password,
        PasswordPolicy::Env {
            var: "C_PASS".into(),
            rotation: None
        }
    );
    assert_eq!(
        roles[&RoleName::existing("g")].password,
        PasswordPolicy::None,
        "a NOLOGIN role gets none"
    );
}

#[test]
fn valid_until_is_canonical_utc() {
    for (written, canonical) in [
        ("2027-03-31", "2027-03-31T00:00:00Z"),
        ("2027-03-31Z", "2027-03-31T00:00:00Z"),
        ("2027-03-31 12:30", "2027-03-31T12:30:00Z"),
        ("2027-03-31T12:30Z", "2027-03-31T12:30:00Z"),
        ("2027-03-31 12:30:15", "2027-03-31T12:30:15Z"),
        ("2027-03-31T12:30:15Z", "2027-03-31T12:30:15Z"),
        (" 2027-03-31 ", "2027-03-31T00:00:00Z"),
    ] {
        assert_eq!(
            canonical_valid_until(written).unwrap().as_deref(),
            Some(canonical),
            "{written}"
        );
    }
    assert_eq!(canonical_valid_until("infinity").unwrap(), None);
    assert_eq!(canonical_valid_until("Infinity").unwrap(), None);
}

#[test]
fn valid_until_accepts_the_leap_day_of_a_leap_year() {
    assert_eq!(
        canonical_valid_until("2028-02-29").unwrap().as_deref(),
        Some("2028-02-29T00:00:00Z")
    );
    assert_eq!(
        canonical_valid_until("2000-02-29 23:59:59")
            .unwrap()
            .as_deref(),
        Some("2000-02-29T23:59:59Z")
    );
}

#[test]
fn valid_until_refuses_days_and_times_the_calendar_does_not_have() {
    for (written, says) in [
        ("2027-02-31", "`2027-02`"),
        ("2027-04-31", "`2027-04`"),
        ("2027-02-29", "1..=28"),
        ("2100-02-29 10:00", "1..=28"),
        ("2027-13-01", "'month'"),
        ("2027-03-31 24:00", "'hour'"),
        ("2027-03-31 23:60", "'minute'"),
        ("2027-03-31 23:59:60", "'second'"),
    ] {
        let error = canonical_valid_until(written).unwrap_err();
        assert!(
            matches!(&error, InvalidValidUntil::Time {
                reason: UtcTimeError::Impossible(reason), ..
            } if reason.contains(says)),
            "{written}: {error}"
        );
    }
    let message = canonical_valid_until("2027-02-31").unwrap_err().to_string();
    assert!(
        message.starts_with("valid_until `2027-02-31`: no such date or time: ")
            && message.contains("`2027-02`"),
        "{message}"
    );
}

#[test]
fn valid_until_refuses_other_forms_and_the_year_postgresql_lacks() {
    for written in [
        "next week",
        "2027-3-31",
        "20270331",
        "2027-03-31T12",
        "2027-03-31 12:30:00+02:00",
        "2027-03-31 12:30:00.5",
        "2027-03-31t12:30z",
    ] {
        assert!(
            matches!(
                canonical_valid_until(written),
                Err(InvalidValidUntil::Time {
                    reason: UtcTimeError::Form,
                    ..
                })
            ),
            "{written}"
        );
    }
    assert_eq!(
        canonical_valid_until("0000-01-01"),
        Err(InvalidValidUntil::YearZero("0000-01-01".into()))
    );
}

#[test]
fn an_impossible_valid_until_fails_lowering_at_its_key() {
    let err = lowered(
        "roles:\n  - name: x\n    login: true\n    targets: [dev]\n    valid_until: 2027-02-31\n",
    )
    .unwrap_err();
    assert!(
        err.contains("roles.yaml:5:5") && err.contains("`x`"),
        "located at the valid_until key: {err}"
    );
    assert!(
        err.contains("valid_until `2027-02-31`: no such date or time"),
        "{err}"
    );
}

/// Lowers `roles`, written in `format`, over the registry; the error text.
fn lowering_error(format: Format, roles: &str) -> String {
    let name = match format {
        Format::Toml => "roles.toml",
        Format::Yaml => "roles.yaml",
    };
    let files = vec![
        SourceFile::new(Path::new("registry.toml"), Format::Toml, REGISTRY.into()),
        SourceFile::new(Path::new(name), format, roles.into()),
    ];
    match merge(PathBuf::from("."), files).and_then(|c| lower(c, &LowerInput::default())) {
        Ok(_) => panic!("{roles:?} lowered without an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn flow_style_yaml_errors_name_the_exact_line_and_column() {
    let roles =
        "roles:\n  - {name: a, targets: [dev]}\n  - {name: b, profile: devqaa, targets: [dev]}\n";
    let err = lowering_error(Format::Yaml, roles);
    assert!(err.starts_with("roles.yaml:3:15: "), "{err}");
    assert!(err.contains("did you mean `devqa`?"), "{err}");

    let roles = "roles: [{name: a, targets: [dev]}, {profile: app, farm: x, targets: [dev]}]\n";
    let err = lowering_error(Format::Yaml, roles);
    assert!(err.starts_with("roles.yaml:1:51: "), "{err}");
    assert!(err.contains("unknown key `farm`"), "{err}");

    let roles = "roles: [{name: a, targets: [dev]}, {name: b, targets: [\"dev/[\"]}]\n";
    let err = lowering_error(Format::Yaml, roles);
    assert!(err.starts_with("roles.yaml:1:46: "), "{err}");
}

#[test]
fn inline_toml_errors_name_the_exact_line_and_column() {
    let roles = "roles = [\n  { name = \"a\", targets = [\"dev\"] },\n  { name = \"b\", targets = [\"staging/*\"] },\n]\n";
    let err = lowering_error(Format::Toml, roles);
    assert!(err.starts_with("roles.toml:3:17: "), "{err}");
    assert!(err.contains("matches no registry entry"), "{err}");

    let roles = "[[roles]]\nname = \"a\"\ntargets = [\"dev\"]\nmember_of = [{ role = \"\" }]\n";
    let err = lowering_error(Format::Toml, roles);
    assert!(err.starts_with("roles.toml:4:1: "), "{err}");

    // A role with no name and no template is placed where it starts.
    let roles = "roles = [{ targets = [\"dev\"] }]\n";
    let err = lowering_error(Format::Toml, roles);
    assert!(err.starts_with("roles.toml:1:10: "), "{err}");
}

#[test]
fn duplicates_across_files_name_both_places() {
    let profiles = "[profiles.app]\nconnection_limit = 5\n";
    let files = vec![
        SourceFile::new(Path::new("registry.toml"), Format::Toml, REGISTRY.into()),
        SourceFile::new(Path::new("a.toml"), Format::Toml, profiles.into()),
        SourceFile::new(
            Path::new("b.yaml"),
            Format::Yaml,
            "profiles: {app: {login: true}}\nenvs:\n  dev: {prefix: x}\n".into(),
        ),
    ];
    let err = merge(PathBuf::from("."), files).unwrap_err().to_string();
    assert!(
        err.contains("b.yaml:1:12: profile `app` is defined twice; first at a.toml:1:11"),
        "{err}"
    );
    assert!(
        err.contains("b.yaml:3:3: env `dev` is defined twice; first at registry.toml:2:7"),
        "{err}"
    );
}

#[test]
fn memberships_that_escalate_need_allow_escalation_on_the_role_or_its_profile() {
    let groups = "  - name: admins\n    superuser: true\n    targets: [dev]\n  - name: ops\n    member_of: [admins]\n    targets: [dev]\n";
    let err = lowered(&format!(
        "roles:\n{groups}  - name: files\n    member_of: [ops, pg_write_server_files]\n    targets: [dev]\n"
    ))
    .unwrap_err();
    assert!(
        err.contains(
            "roles.yaml:6:5: role `ops`: member_of `admins` confers superuser (through `admins`)"
        ),
        "{err}"
    );
    // Through `ops`, whose own membership is not the reason `files` is refused.
    assert!(
        err.contains("role `files`: member_of `ops` confers superuser (through `admins`)"),
        "{err}"
    );
    assert!(
        err.contains("member_of `pg_write_server_files` confers server_files"),
        "{err}"
    );
    let allowed = format!(
        "profiles:\n  trusted: {{ allow_escalation: [superuser] }}\nroles:\n{}  - name: files\n    profile: trusted\n    member_of: [ops, pg_write_server_files]\n    allow_escalation: [superuser, server_files]\n    targets: [dev]\n",
        groups.replace("    member_of: [admins]\n", "    profile: trusted\n    member_of: [admins]\n")
    );
    let l = lowered(&allowed).unwrap();
    let dev = &l.desired[&cluster("pg-dev", 5432)];
    let files = &dev.roles[&RoleName::existing("files")];
    assert_eq!(files.allow_escalation.len(), 2);
    let at = files.member_of_at.as_ref().unwrap().to_string();
    assert_eq!(at, "roles.yaml:13:5");
}

#[test]
fn membership_cycles_among_declared_roles_are_refused() {
    let err = lowered(
        "roles:\n  - name: a\n    member_of: [b]\n    targets: [dev]\n  - name: b\n    member_of: [a]\n    targets: [dev]\n  - name: me\n    member_of: [me]\n    targets: [dev]\n",
    )
    .unwrap_err();
    assert!(
        err.contains(
            "roles.yaml:3:5: role `a`: its memberships lead back to it (`a` -> `b` -> `a`)"
        ),
        "{err}"
    );
    assert!(
        err.contains("roles.yaml:9:5: role `me`: its memberships lead back to it (`me` -> `me`)"),
        "{err}"
    );
}

#[test]
fn ignore_roles_never_drops_the_protected_roles() {
    let registry = format!("[settings]\nignore_roles = [\"legacy_*\"]\n{REGISTRY}");
    let files = vec![
        SourceFile::new(Path::new("registry.toml"), Format::Toml, registry),
        SourceFile::new(Path::new("roles.yaml"), Format::Yaml, "roles: []\n".into()),
    ];
    let config = merge(PathBuf::from("."), files).unwrap();
    let input = LowerInput {
        admin_user: Some("ops*admin"),
    };
    let l = lower(config, &input).unwrap();
    let ignored = |name: &str| l.ignore_roles.iter().any(|g| g.matches(name));
    assert!(ignored("legacy_x") && ignored("postgres") && ignored("pg_monitor"));
    // The admin's name is matched exactly, not as a glob.
    assert!(ignored("ops*admin") && !ignored("ops_x_admin"));
}

#[test]
fn values_apply_would_refuse_are_rejected_at_their_key() {
    let role = |fields: &str| {
        lowered(&format!(
            "roles:\n  - name: r\n    targets: [dev]\n{fields}"
        ))
        .unwrap_err()
    };
    let cases = [
        (
            "    search_path: []\n",
            "roles.yaml:4:5",
            "`search_path` has no schema",
        ),
        (
            "    set: { search_path: \"\" }\n",
            "roles.yaml:4:5",
            "`search_path` has no schema",
        ),
        (
            "    set: { temp_tablespaces: \"a,,b\" }\n",
            "roles.yaml:4:5",
            "`temp_tablespaces` has no schema",
        ),
        (
            "    set: { \"a..b\": 1 }\n",
            "roles.yaml:4:5",
            "`a..b` is not a valid setting name",
        ),
        (
            "    set: { work_mem: \"1\\0MB\" }\n",
            "roles.yaml:4:5",
            "the value of setting `work_mem` contains a NUL",
        ),
        (
            "    set: { work_mem: 1MB, Work_Mem: 2MB }\n",
            "roles.yaml:4:5",
            "setting `work_mem` is given twice",
        ),
        (
            "    member_of: [\"a\\0b\"]\n",
            "roles.yaml:4:5",
            "group name contains a NUL",
        ),
        (
            "    password: { rotate: \"2026-11 \" }\n",
            "roles.yaml:4:5",
            "rotation key \"2026-11 \" starts or ends with whitespace",
        ),
        (
            "    password: { rotate: \" 2026-11\" }\n",
            "roles.yaml:4:5",
            "rotation key \" 2026-11\" starts or ends with whitespace",
        ),
    ];
    for (fields, at, message) in cases {
        let err = role(fields);
        assert!(
            err.contains(&format!("{at}: role `r`: {message}")),
            "{fields}: {err}"
        );
    }
    for name in [
        "none",
        "current_user",
        "SESSION_USER",
        "current_role",
        "public",
    ] {
        let err = lowered(&format!("roles:\n  - name: {name}\n    targets: [dev]\n")).unwrap_err();
        assert!(err.contains("is reserved by PostgreSQL"), "{name}: {err}");
    }
}

#[test]
fn every_privilege_class_lowers_to_its_grant_target() {
    let lowered = lowered(
        "roles:
  - name: r
    targets: [dev]
    grants:
      - { on: columns, names: [public.orders], columns: [note], privileges: [select] }
      - { on: domain, names: [app.posint], privileges: [USAGE], grant_option: true }
      - { on: large_object, names: [\" 4242\"], privileges: [SELECT] }
      - { on: large_objects, privileges: [SELECT], future: true }
      - { on: parameter, names: [Work_Mem], privileges: [\"alter system\"] }
      - { on: tablespaces, names: [fast], privileges: [CREATE] }
",
    )
    .unwrap();
    let role = &lowered.desired[&cluster("pg-dev", 5432)].roles[&RoleName::existing("r")];
    let targets: Vec<(&GrantTarget, bool)> = role
        .grants
        .iter()
        .map(|g| (&g.target, g.grant_option))
        .collect();
    let qualified = |s: &str, n: &str| (s.to_string(), n.to_string());
    for expected in [
        (
            GrantTarget::Columns {
                tables: vec![qualified("public", "orders")],
                columns: vec!["note".into()],
            },
            false,
        ),
        (
            GrantTarget::Named {
                kind: ObjectKind::Type,
                objects: vec![qualified("app", "posint")],
            },
            true,
        ),
        (
            GrantTarget::Unqualified {
                kind: ObjectKind::LargeObject,
                names: vec!["4242".into()],
            },
            false,
        ),
        (GrantTarget::AllLargeObjects, false),
        (
            GrantTarget::Unqualified {
                kind: ObjectKind::Parameter,
                names: vec!["work_mem".into()],
            },
            false,
        ),
        (
            GrantTarget::Unqualified {
                kind: ObjectKind::Tablespace,
                names: vec!["fast".into()],
            },
            false,
        ),
    ] {
        assert!(
            targets.contains(&(&expected.0, expected.1)),
            "{expected:?} not in {targets:?}"
        );
    }
}

#[test]
fn grants_of_the_new_classes_refuse_what_the_server_would_refuse() {
    let grant = |grant: &str| {
        lowered(&format!(
            "roles:\n  - name: r\n    targets: [dev]\n    grants:\n      - {grant}\n"
        ))
        .unwrap_err()
    };
    for (written, message) in [
        (
            "{ on: columns, names: [public.orders], privileges: [SELECT] }",
            "`columns` (the column names) is required",
        ),
        (
            "{ on: table, names: [public.orders], columns: [a], privileges: [SELECT] }",
            "`columns` (the column names) is required",
        ),
        (
            "{ on: columns, names: [public.orders], columns: [a], privileges: [DELETE] }",
            "`DELETE` is not a column privilege",
        ),
        (
            "{ on: large_object, names: [abc], privileges: [SELECT] }",
            "`abc` is not a large object OID",
        ),
        (
            "{ on: large_object, names: [\"0\"], privileges: [SELECT] }",
            "`0` is not a large object OID",
        ),
        (
            "{ on: tablespaces, privileges: [CREATE] }",
            "`names` is required: the tablespace names",
        ),
        (
            "{ on: parameters, schemas: [public], names: [work_mem], privileges: [SET] }",
            "`schemas` does not apply to parameter",
        ),
        (
            "{ on: foreign_server, names: [s], privileges: [USAGE], future: true }",
            "`future` applies only to",
        ),
        (
            "{ on: parameter, names: [work_mem], privileges: [USAGE] }",
            "`USAGE` is not a parameter privilege",
        ),
    ] {
        let err = grant(written);
        assert!(err.contains(message), "{written}: {err}");
    }
}

#[test]
fn public_privileges_is_read_from_yaml_and_absent_means_none() {
    let l = lowered(
        "settings:\n  public_privileges:\n    revoke_temporary: true\n    \
         revoke_create_on_schemas: [public]\n    revoke_execute_in_schemas: [public, app]\n",
    )
    .unwrap();
    let policy = l.public_privileges.unwrap();
    assert!(policy.revoke_temporary);
    assert!(!policy.revoke_large_object_create);
    assert_eq!(
        policy
            .revoke_execute_in_schemas
            .into_iter()
            .collect::<Vec<_>>(),
        ["app", "public"]
    );
    assert!(lowered("roles: []\n").unwrap().public_privileges.is_none());
    let err = lowered("settings:\n  public_privileges:\n    revoke_temp: true\n").unwrap_err();
    assert!(err.contains("revoke_temp"), "{err}");
    let err = lowered("settings:\n  public_privileges:\n    revoke_create_on_schemas: [\"\"]\n")
        .unwrap_err();
    assert!(
        err.contains(
            "roles.yaml:2:3: public_privileges.revoke_create_on_schemas: a schema name is empty"
        ),
        "{err}"
    );
}

#[test]
fn existing_false_declares_default_privileges_alone_and_needs_future() {
    let roles = |extra: &str| {
        format!(
            "roles:\n  - name: r\n    targets: [\"dev/app_dev_main\"]\n    grants:\n      - {{ on: tables, schemas: [s], privileges: [SELECT], existing: false{extra} }}\n"
        )
    };
    let lowered = lowered(&roles(", future: true")).unwrap();
    let role = lowered.desired[&cluster("pg-dev", 5432)]
        .roles
        .get(&RoleName::existing("r"))
        .unwrap();
    assert!(role.grants[0].future && !role.grants[0].existing);
    let error = lowered_error(&roles(""));
    assert!(
        error.contains("`existing: false` needs `future: true`"),
        "{error}"
    );
}

fn lowered_error(roles: &str) -> String {
    match lowered(roles) {
        Ok(_) => panic!("lowered"),
        Err(e) => e,
    }
}
