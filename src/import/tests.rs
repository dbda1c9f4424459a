//! Import without a server: a small current state in; the document must lower back to what is
//! held, and what no declaration can say is reported, not written.

use super::*;
use crate::config::{lower, merge, Format as ConfigFormat, LowerInput, SourceFile};
use crate::model::privileges::{
    DbObject, DefaultPrivilege, GrantSpec, GrantTarget, HeldPrivilege, ObjectKind, ObjectRef,
};
use crate::model::MembershipOptions;
use std::path::{Path, PathBuf};

const REGISTRY: &str = r#"
[[databases]]
env = "dev"
name = "a"
host = "pg"

[[databases]]
env = "dev"
name = "b"
host = "pg"
"#;

fn name(n: &str) -> RoleName {
    RoleName::existing(n)
}

fn role(n: &str) -> CurrentRole {
    CurrentRole::bare(name(n).as_str())
}

fn cluster(roles: Vec<CurrentRole>) -> CurrentCluster {
    CurrentCluster {
        databases: ["a", "b"].map(String::from).into(),
        setting_names: ["work_mem", "statement_timeout"].map(String::from).into(),
        ..CurrentCluster::bare(150000, "roster_admin", roles)
    }
}

fn table(schema: &str, n: &str) -> ObjectRef {
    ObjectRef {
        kind: ObjectKind::Table,
        schema: Some(schema.into()),
        name: n.into(),
        arguments: None,
        column: None,
    }
}

/// Database `db` with schema `s` (owned by `owner`) holding `tables`.
fn database(db: &str, tables: &[&str]) -> DatabaseState {
    let owned = |object: ObjectRef| DbObject {
        object,
        owner: name("owner"),
    };
    let mut objects = vec![
        owned(ObjectRef {
            kind: ObjectKind::Database,
            schema: None,
            name: db.into(),
            arguments: None,
            column: None,
        }),
        owned(ObjectRef {
            kind: ObjectKind::Schema,
            schema: None,
            name: "s".into(),
            arguments: None,
            column: None,
        }),
    ];
    objects.extend(tables.iter().map(|t| owned(table("s", t))));
    DatabaseState {
        database: db.into(),
        objects,
        held: BTreeSet::new(),
        defaults: BTreeSet::new(),
    }
}

fn grant(state: &mut DatabaseState, grantee: &str, object: ObjectRef, privilege: &str) {
    state.held.insert(HeldPrivilege {
        grantee: name(grantee),
        object,
        privilege: privilege.into(),
        grantor: name("owner"),
        grant_option: false,
    });
}

fn run(current: &CurrentCluster, databases: &BTreeMap<String, DatabaseState>) -> Imported {
    let targets = ["a", "b"].map(|db| TargetName {
        env: "dev".into(),
        database: db.into(),
    });
    import(&ImportInput {
        current,
        databases,
        targets: &targets,
        cluster: None,
        ignore_roles: &[NameGlob::new("pg_*").unwrap()],
        roles: None,
        declared: &BTreeSet::new(),
        profiles: &BTreeMap::new(),
    })
}

/// The document as the config reads it, lowered: the desired roles of the one cluster.
fn lowered(text: &str, format: ConfigFormat) -> crate::model::DesiredCluster {
    let file = match format {
        ConfigFormat::Yaml => "roles.yaml",
        ConfigFormat::Toml => "roles.toml",
    };
    let files = vec![
        SourceFile::new(
            Path::new("registry.toml"),
            ConfigFormat::Toml,
            REGISTRY.into(),
        ),
        SourceFile::new(Path::new(file), format, text.into()),
    ];
    let config = merge(PathBuf::from("."), files).unwrap();
    let lowered = lower(config, &LowerInput::default()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    lowered.desired.into_values().next().unwrap()
}

#[test]
fn the_document_lowers_back_to_what_is_held_in_yaml_and_toml() {
    let mut a = database("a", &["t1", "t2", "only_a"]);
    let mut b = database("b", &["t1", "t2"]);
    for state in [&mut a, &mut b] {
        grant(state, "reader", table("s", "t1"), "SELECT");
        grant(state, "reader", table("s", "t2"), "SELECT");
        grant(state, "writer", table("s", "t1"), "UPDATE");
        state.defaults.insert(DefaultPrivilege {
            owner: name("owner"),
            schema: Some("s".into()),
            kind: ObjectKind::Table,
            grantee: name("writer"),
            privilege: "INSERT".into(),
            grant_option: true,
        });
    }
    grant(&mut a, "reader", table("s", "only_a"), "SELECT");
    let mut reader = role("reader");
    reader.attributes.login = true;
    reader.attributes.connection_limit = 3;
    reader.settings.insert(
        SettingScope::Database("b".into()),
        BTreeMap::from([("work_mem".into(), "8MB".into())]),
    );
    reader.settings.insert(
        SettingScope::AllDatabases,
        // Values YAML would read as numbers, booleans or null unless quoted.
        BTreeMap::from([
            ("statement_timeout".into(), "5s".into()),
            ("app.ratio".into(), "1.50".into()),
            ("app.flag".into(), "false".into()),
            ("app.nothing".into(), "~".into()),
        ]),
    );
    let mut writer = role("writer");
    writer.member_of.insert(
        name("reader"),
        MembershipOptions {
            admin: true,
            inherit: None,
            set: None,
        },
    );
    let current = cluster(vec![role("owner"), reader, writer]);
    let databases = BTreeMap::from([("a".to_string(), a), ("b".to_string(), b)]);
    let imported = run(&current, &databases);
    assert!(imported.skipped.is_empty(), "{:?}", imported.skipped);
    assert_eq!(imported.roles, 3);

    for format in [Format::Yaml, Format::Toml] {
        let text = imported.document.render(format).unwrap();
        let config_format = match format {
            Format::Yaml => ConfigFormat::Yaml,
            Format::Toml => ConfigFormat::Toml,
        };
        let desired = lowered(&text, config_format);
        let reader = desired.roles.get(&name("reader")).unwrap();
        assert_eq!(
            reader.attributes,
            current.roles.get(&name("reader")).unwrap().attributes
        );
        assert_eq!(
            reader.settings,
            current.roles.get(&name("reader")).unwrap().settings,
            "{text}"
        );
        // Every table of `s` in both databases: one grant for the schema.
        assert_eq!(
            reader.grants,
            vec![GrantSpec {
                target: GrantTarget::AllIn {
                    kind: ObjectKind::Table,
                    schemas: vec!["s".into()],
                },
                privileges: BTreeSet::from(["SELECT".to_string()]),
                grant_option: false,
                future: false,
                future_owners: None,
                existing: true,
            }],
            "{text}"
        );
        let writer = desired.roles.get(&name("writer")).unwrap();
        assert_eq!(
            writer.member_of,
            current.roles.get(&name("writer")).unwrap().member_of
        );
        assert!(
            writer.grants.iter().any(|g| g.future
                && !g.existing
                && g.grant_option
                && g.future_owners == Some(vec![name("owner")])),
            "{text}"
        );
        assert_eq!(writer.targets.len(), 2);
    }
}

#[test]
fn a_role_whose_databases_disagree_on_a_shared_object_is_left_out_with_why() {
    let mut a = database("a", &["t1", "t2"]);
    let mut b = database("b", &["t1", "t2"]);
    grant(&mut a, "split", table("s", "t1"), "SELECT");
    grant(&mut b, "split", table("s", "t2"), "SELECT");
    let current = cluster(vec![role("owner"), role("split")]);
    let databases = BTreeMap::from([("a".to_string(), a), ("b".to_string(), b)]);
    let imported = run(&current, &databases);
    assert_eq!(imported.roles, 1, "only owner");
    let (skipped, reason) = &imported.skipped[0];
    assert_eq!(skipped, &name("split"));
    assert!(
        matches!(reason, SkipReason::Privileges(Undeclarable::Differs { .. })),
        "{reason}"
    );
    assert!(!imported
        .document
        .render(Format::Yaml)
        .unwrap()
        .contains("split"));
}

#[test]
fn default_privileges_for_every_schema_cannot_be_declared() {
    let mut a = database("a", &[]);
    a.defaults.insert(DefaultPrivilege {
        owner: name("owner"),
        schema: None,
        kind: ObjectKind::Table,
        grantee: name("everywhere"),
        privilege: "SELECT".into(),
        grant_option: false,
    });
    let current = cluster(vec![role("owner"), role("everywhere")]);
    let databases = BTreeMap::from([("a".to_string(), a)]);
    let imported = run(&current, &databases);
    assert_eq!(
        imported.skipped[0].1.to_string(),
        "it holds default privileges on tables from owner in every schema (ALTER DEFAULT \
         PRIVILEGES without IN SCHEMA), which a grant cannot declare"
    );
}

#[test]
fn the_admin_ignored_and_declared_roles_are_not_written() {
    let current = cluster(vec![
        role("roster_admin"),
        role("pg_monitor"),
        role("declared"),
        role("kept"),
    ]);
    let databases = BTreeMap::from([("a".to_string(), database("a", &[]))]);
    let targets = [TargetName {
        env: "dev".into(),
        database: "a".into(),
    }];
    let imported = import(&ImportInput {
        current: &current,
        databases: &databases,
        targets: &targets,
        cluster: None,
        ignore_roles: &[NameGlob::new("pg_*").unwrap()],
        roles: None,
        declared: &BTreeSet::from([name("declared")]),
        profiles: &BTreeMap::new(),
    });
    let names: Vec<&str> = imported
        .document
        .roles
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, ["kept"]);
    assert_eq!(
        imported.skipped,
        vec![(name("declared"), SkipReason::Declared)]
    );
}

#[test]
fn a_role_that_matches_a_profile_exactly_is_declared_with_it() {
    let profiles = r#"
profiles:
  team:
    login: true
    connection_limit: 4
    member_of: [g]
    grants: [{ on: database, privileges: [CONNECT] }]
"#;
    let lowered_profiles = {
        let files = vec![
            SourceFile::new(
                Path::new("registry.toml"),
                ConfigFormat::Toml,
                REGISTRY.into(),
            ),
            SourceFile::new(Path::new("p.yaml"), ConfigFormat::Yaml, profiles.into()),
        ];
        let config = merge(PathBuf::from("."), files).unwrap();
        lower(config, &LowerInput::default()).unwrap().profiles
    };
    let mut a = database("a", &[]);
    let mut b = database("b", &[]);
    let mut roles = vec![role("owner"), role("g")];
    for (n, limit) in [("ann", 4), ("bob", 5)] {
        let mut r = role(n);
        r.attributes.login = true;
        r.attributes.connection_limit = limit;
        r.member_of.insert(name("g"), MembershipOptions::default());
        roles.push(r);
        for state in [&mut a, &mut b] {
            let db = state.objects[0].object.clone();
            grant(state, n, db, "CONNECT");
        }
    }
    let current = cluster(roles);
    let databases = BTreeMap::from([("a".to_string(), a), ("b".to_string(), b)]);
    let targets = ["a", "b"].map(|db| TargetName {
        env: "dev".into(),
        database: db.into(),
    });
    let imported = import(&ImportInput {
        current: &current,
        databases: &databases,
        targets: &targets,
        cluster: None,
        ignore_roles: &[],
        roles: None,
        declared: &BTreeSet::new(),
        profiles: &lowered_profiles,
    });
    let entry = |n: &str| {
        imported
            .document
            .roles
            .iter()
            .find(|r| r.name == n)
            .unwrap()
            .clone()
    };
    let ann = entry("ann");
    assert_eq!(ann.profile.as_deref(), Some("team"));
    assert_eq!(ann.targets, ["dev/a", "dev/b"]);
    assert!(ann.grants.is_empty() && ann.member_of.is_empty());
    // One attribute off, and it is declared key by key.
    let bob = entry("bob");
    assert_eq!(bob.profile, None);
    assert_eq!(bob.connection_limit, Some(5));
}

#[test]
fn a_membership_option_matches_when_declared_alike_or_left_to_the_default() {
    assert!(option_matches(None, None, true));
    assert!(option_matches(None, Some(true), true));
    assert!(!option_matches(None, Some(false), true));
    assert!(option_matches(Some(false), Some(false), true));
    assert!(!option_matches(Some(true), Some(false), true));
}
