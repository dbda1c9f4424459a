//! Parsing one file: every error and every entry placed at its file:line:column, in any style.

use super::*;

fn yaml(text: &str) -> SourceFile {
    SourceFile::new(Path::new("roles.yaml"), Format::Yaml, text.to_string())
}

fn toml(text: &str) -> SourceFile {
    SourceFile::new(Path::new("c.toml"), Format::Toml, text.to_string())
}

/// (line, column) of the entry, or of `key` in it.
fn at(origin: &Origin, key: Option<&str>) -> (usize, usize) {
    let at = key.map_or(origin.at, |key| {
        let found = origin.keys.iter().find(|(name, _)| name == key);
        found.unwrap_or_else(|| panic!("no key {key}")).1
    });
    (at.line, at.column)
}

#[test]
fn block_yaml_entries_start_at_their_dash_and_keys_where_written() {
    let parsed = yaml(
        "roles:\n  - name: a\n    profile: x\n  -   name: b\n      targets: []\n      profile: y\n",
    )
    .parse(0)
    .unwrap();
    let [(_, a), (_, b)] = &parsed.roles[..] else {
        panic!("{parsed:?}")
    };
    assert_eq!(at(a, None), (2, 3));
    assert_eq!(at(a, Some("name")), (2, 5));
    assert_eq!(at(b, None), (4, 3));
    assert_eq!(at(b, Some("profile")), (6, 7));
}

#[test]
fn flow_yaml_entries_and_keys_are_exact() {
    let parsed = yaml("roles: [{name: a, profile: x}, {name: b, farm: f}]\n")
        .parse(0)
        .unwrap();
    let [(_, a), (b_role, b)] = &parsed.roles[..] else {
        panic!("{parsed:?}")
    };
    assert_eq!(at(a, None), (1, 9));
    assert_eq!(at(a, Some("profile")), (1, 19));
    assert_eq!(at(b, None), (1, 32));
    assert_eq!(at(b, Some("farm")), (1, 42));
    assert_eq!(b_role.placeholders["farm"], serde_json::json!("f"));
}

#[test]
fn toml_tables_and_inline_tables_are_exact() {
    let text = "roles = [{ name = \"a\", profile = \"x\" }, { name = \"é\", targets = [] }]\n";
    let parsed_roles = toml(text).parse(0).unwrap();
    let [(_, a), (_, b)] = &parsed_roles.roles[..] else {
        panic!("{parsed_roles:?}")
    };
    assert_eq!(at(a, None), (1, 10));
    assert_eq!(at(a, Some("profile")), (1, 24));
    assert_eq!(at(b, Some("targets")), (1, 55), "columns count characters");

    let parsed = toml(
        "[settings]\nignore_roles = [\"x\"]\n\n[[databases]]\nenv = \"dev\"\nname = \"a\"\n  host = \"h\"\n\
         [profiles.app]\nconnection_limit = 3\n",
    )
    .parse(0)
    .unwrap();
    let (_, settings) = parsed.settings.as_ref().unwrap();
    assert_eq!(at(settings, None), (1, 1));
    assert_eq!(at(settings, Some("ignore_roles")), (2, 1));
    let (_, db) = &parsed.databases[0];
    assert_eq!(at(db, None), (4, 1));
    assert_eq!(at(db, Some("host")), (7, 3));
    let (name, _, profile) = &parsed.profiles[0];
    assert_eq!(name, "app");
    assert_eq!(at(profile, Some("connection_limit")), (9, 1));
}

#[test]
fn unknown_keys_get_a_suggestion_and_a_position() {
    let parsed = toml("[[databases]]\nenv = \"dev\"\nname = \"x\"\nhots = \"h\"\nhost = \"h\"\n")
        .parse(0)
        .unwrap();
    let err = &parsed.unknown_keys[0];
    assert_eq!((err.location.line, err.location.column), (4, 1), "{err}");
    assert!(err.message.contains("did you mean `host`?"), "{err}");

    let parsed = yaml("databases: [{env: dev, name: x, hots: h, host: h}]\n")
        .parse(0)
        .unwrap();
    let err = &parsed.unknown_keys[0];
    assert_eq!((err.location.line, err.location.column), (1, 33), "{err}");
    assert!(err.message.contains("did you mean `host`?"), "{err}");

    // Nested entries are checked by serde; the parser places the error.
    let err = yaml("roles:\n  - name: a\n    grants: [{ on: tables, privilges: [SELECT] }]\n")
        .parse(0)
        .unwrap_err();
    assert_eq!((err.location.line, err.location.column), (3, 28), "{err}");
    assert!(err.message.contains("did you mean `privileges`?"), "{err}");
    let err =
        toml("[[roles]]\nname = \"a\"\ngrants = [{ on = \"tables\", privilges = [\"SELECT\"] }]\n")
            .parse(0)
            .unwrap_err();
    assert_eq!((err.location.line, err.location.column), (3, 28), "{err}");
    assert!(err.message.contains("did you mean `privileges`?"), "{err}");
}

#[test]
fn a_bad_value_is_placed_at_the_value() {
    let err = yaml("roles:\n  - name: a\n    connection_limit: lots\n    targets: [x]\n")
        .parse(0)
        .unwrap_err();
    assert_eq!((err.location.line, err.location.column), (3, 23), "{err}");
    assert_eq!(err.message, "invalid value: expected i32");
    let err = toml("roles = [{ name = \"a\", connection_limit = \"lots\", targets = [] }]\n")
        .parse(0)
        .unwrap_err();
    assert_eq!((err.location.line, err.location.column), (1, 43), "{err}");
}

#[test]
fn yaml_reads_as_yaml_1_2_core() {
    let parsed = yaml("roles:\n  - name: on\n    port: 007\n    set: { jit: off }\n")
        .parse(0)
        .unwrap();
    let (role, _) = &parsed.roles[0];
    assert_eq!(role.name.as_deref(), Some("on"));
    assert_eq!(role.placeholders["port"], serde_json::json!("007"));
    let jit = &role.set.as_ref().unwrap()["jit"];
    assert_eq!(jit.0, "off");
    assert!(yaml("roles:\n  - login: yes\n").parse(0).is_err());
}
