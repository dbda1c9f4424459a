use super::*;
use crate::config::raw::RawFile;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Debug;

/// The fast path must parse `yaml` and build the same `serde_yaml::Value` as serde_yaml, or
/// fail where it fails: this checks structure and the resolution of every plain scalar.
fn same_value(yaml: &str) {
    let expected = serde_yaml::from_str::<serde_yaml::Value>(yaml).ok();
    let document = parse(yaml).unwrap_or_else(|_| panic!("fast path declined {yaml:?}"));
    let got = serde_yaml::Value::deserialize(NodeDe(&document)).ok();
    assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{yaml:?}");
}

/// The fast path may decline, but what it returns must be what serde_yaml returns, and it
/// must decline whatever serde_yaml rejects.
fn agree<T: DeserializeOwned + Debug>(yaml: &str) {
    let slow = serde_yaml::from_str::<T>(yaml).ok();
    if let Some(fast) = from_str::<T>(yaml) {
        // Debug rather than PartialEq, so that NaN equals NaN.
        assert_eq!(
            format!("{:?}", Some(fast)),
            format!("{slow:?}"),
            "{yaml:?} as {}",
            std::any::type_name::<T>()
        );
    }
}

fn same_raw_file(yaml: &str) {
    let expected = serde_yaml::from_str::<RawFile>(yaml)
        .unwrap_or_else(|e| panic!("serde_yaml rejects {yaml:?}: {e}"));
    let got = from_str::<RawFile>(yaml).unwrap_or_else(|| panic!("declined {yaml:?}"));
    assert_eq!(format!("{got:?}"), format!("{expected:?}"));
}

fn declines(yaml: &str) {
    assert!(parse(yaml).is_err(), "should decline {yaml:?}");
}

/// Plain and quoted scalars the fast path must resolve exactly as serde_yaml does.
    #[rustfmt::skip]
    const SCALARS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "nul", "true", "True", "TRUE", "tRue", "false", "FALSE",
        "yes", "no", "on", "off", "y", "n", "0", "1", "-1", "+1", "-0", "+0", "00", "007", "-007",
        "+007", "0x1F", "0o17", "0b101", "-0x1F", "-0o17", "-0b101", "0x", "0x-1", "0x+1", "+-1",
        "1_000", "1.5", "-1.5", "+1.5", ".5", "-.5", "+.5", "1.", "0.", "0.0", "1e3", "1E3",
        "-1e-3", "1e", "e3", "1e400", ".inf", "-.inf", "+.inf", ".Inf", "-.INF", ".nan", ".NaN",
        ".NAN", "+.nan", "inf", "-inf", "nan", "infinity", "NaN", "18446744073709551615",
        "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
        "340282366920938463463374607431768211455", "340282366920938463463374607431768211456",
        "0xFFFFFFFFFFFFFFFFFF", "2027-03-31", "2027-03-31 12:00:00", "12:30", "1:2", "a b", "a  b",
        "a#b", "a # comment", "foo bar   ", "-x", "-.x", "http://example.com/a?b=c", "$user",
        "a'b", "a\"b", "a[1]", "a, b", "a{b}", "a]", "é", "日本語", "ünïcødé name", "x\\y", "a:b",
        "<<", "=", "a!", "\"quoted\"", "'single'", "'it''s'", "''''",
        "\"esc \\n \\t \\\\ \\\" \\/ \\u00e9\"", "\"\\u0041\\u00FC\\u20ac\"", "\"\"", "''",
        "\"123\"", "'true'", "'~'", "\"null\"", "'  spaced  '", "\" a # not a comment \"",
        "'a: b'", "\"[x]\"", "\"a\" # comment", "'b'   # comment",
    ];

#[test]
fn scalars_resolve_like_serde_yaml() {
    for scalar in SCALARS {
        same_value(&format!("v: {scalar}\n"));
        same_value(&format!("- {scalar}\n"));
        if !scalar.is_empty() && !scalar.contains('#') {
            let flow = scalar.trim_end();
            if !flow.contains([',', '[', ']', '{', '}', ':']) || flow.starts_with(['"', '\'']) {
                same_value(&format!("v: [{flow}]\n"));
                same_value(&format!("v: {{ k: {flow} }}\n"));
            }
        }
    }
}

#[test]
fn typed_scalars_agree_with_serde_yaml() {
    for scalar in SCALARS {
        let yaml = format!("v: {scalar}\n");
        agree::<BTreeMap<String, String>>(&yaml);
        agree::<BTreeMap<String, Option<String>>>(&yaml);
        agree::<BTreeMap<String, bool>>(&yaml);
        agree::<BTreeMap<String, Option<bool>>>(&yaml);
        agree::<BTreeMap<String, i32>>(&yaml);
        agree::<BTreeMap<String, Option<i32>>>(&yaml);
        agree::<BTreeMap<String, i64>>(&yaml);
        agree::<BTreeMap<String, u16>>(&yaml);
        agree::<BTreeMap<String, u64>>(&yaml);
        agree::<BTreeMap<String, f64>>(&yaml);
        agree::<BTreeMap<String, ()>>(&yaml);
        agree::<BTreeMap<String, Vec<String>>>(&yaml);
        agree::<BTreeMap<String, BTreeMap<String, String>>>(&yaml);
        agree::<BTreeMap<String, serde_json::Value>>(&yaml);
        agree::<BTreeMap<String, char>>(&yaml);
    }
}

#[test]
fn structures_match_serde_yaml() {
    for yaml in [
        "",
        "# only a comment\n\n   # another\n",
        "a: 1\nb:\n  c: 2\n  d:\n    - x\n    - y\n",
        "key:\n- a\n- b\nnext: c\n",
        "key:\n  - a\n  -\n  - # comment\n  - ''\n",
        "- name: x\n  login: true\n- name: y\n  grants:\n  - on: tables\n    future: true\n",
        "-   name: wide\n    login: false\n",
        "- a\n-\n  - b\n  - c\n-\n  k: v\n",
        "top:\n  nested:\n    deeper:\n      deepest: 1\n  back: 2\nout: 3\n",
        "a:\n\n  # comment between\n\n  b: 1 # trailing\n# column-0 comment\n  c: 2\n",
        "v: [a, \"b\", 'c', 1, true, ~, [x, [y]], { k: v }]\n",
        "v: [a, b,]\nw: { a: 1, b: [2, 3], }\nx: []\ny: {}\nz: [ ]\n",
        "v: { role: app_rw, admin: true, set: { x: 1 } }\n",
        "member_of: [{ role: a, admin: true }, b]\n",
        "\"quoted key\": 1\n'single key': 2\nplain key: 3\n",
        "1: one\ntrue: t\n~: n\n0x10: hex\n",
        "k: v\n   \n\n",
        "a:\n  b\nc: d\n",
        "unicode: 日本語\nnamé: ✓\n",
    ] {
        same_value(yaml);
    }
}

#[test]
fn duplicate_keys_behave_like_serde_yaml() {
    // serde_yaml's deserializer passes duplicates on; a BTreeMap keeps the last one and
    // serde_yaml's own Mapping rejects them, so the fast path must decline that case.
    agree::<BTreeMap<String, i32>>("a: 1\na: 2\n");
    assert_eq!(
        from_str::<BTreeMap<String, i32>>("a: 1\n\"a\": 2\n").unwrap()["a"],
        2
    );
    assert!(from_str::<serde_yaml::Mapping>("a: 1\na: 2\n").is_none());
    assert!(from_str::<RawFile>("roles: []\nroles: []\n").is_none());
}

#[test]
fn example_configs_match_serde_yaml() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&path).unwrap();
            same_value(&text);
            same_raw_file(&text);
            seen += 1;
        }
    }
    assert!(seen > 0);
}

/// The shape bench/gen_config.py writes.
fn bench_config(roles: usize, passwords: bool) -> String {
    let mut out = String::from("roles:\n");
    for group in ["app_rw", "app_ro", "app_admin"] {
        out += &format!("  - name: {group}\n    targets: [\"bench/*\"]\n");
    }
    for i in 1..=roles {
        let mut parents = vec![if i % 2 == 1 { "app_rw" } else { "app_ro" }];
        if i % 10 == 0 {
            parents.push("app_admin");
        }
        out += &format!(
            "  - name: u{i:06}\n    login: true\n    member_of: [{}]\n",
            parents.join(", ")
        );
        if i % 4 == 0 {
            out += "    createdb: true\n";
        }
        if !passwords {
            out += "    password: none\n";
        }
        out += "    targets: [\"bench/*\"]\n";
    }
    out
}

#[test]
fn bench_configs_match_serde_yaml() {
    same_raw_file(&bench_config(40, false));
    same_raw_file(&bench_config(40, true));
}

#[test]
fn every_role_field_matches_serde_yaml() {
    same_raw_file(
        r#"# every key a role, profile, database and the settings accept
settings:
  audit_log: audit.db
  admin_user_env: PGUSER_ENV
  admin_password_env: "PGPASS_ENV"
  ignore_roles: ["pg_*", postgres, 'rds*']
  sslmode: verify-full
  sslrootcert: certs/ca.pem
envs:
  dev: { prefix: dv }
  prod:
    prefix: pr
databases:
  - env: dev
    name: app_dev_main
    host: db1.example.com
    port: 5433
    active: false
    sslmode: prefer
  - { env: prod, name: main, host: "db2", port: 5432 }
profiles:
  app:
    name: "{servername}_{port}"
    envs: ["*"]
    login: true
    connection_limit: 200
    set: { statement_timeout: 30s }
  child:
    extends: app
    createdb: true
    unknown_key: 1
roles:
  - profile: app
    servername: web01
    port: 8080
    farm: gear
    enabled: true
    ratio: 1.5
    nothing:
    targets: ["dev/*", "qa/*"]
  - name: jsmith
    login: true
    superuser: false
    createdb: True
    createrole: FALSE
    inherit: true
    replication: false
    bypassrls: false
    connection_limit: -1
    valid_until: 2027-03-31
    search_path: ["$user", public, 'app']
    set:
      work_mem: 64MB
      statement_timeout: 5min
      jit: off
      random_page_cost: 1.1
      max_parallel_workers: 4
      enable_seqscan: false
    settings_scope: role
    member_of:
      - app_rw
      - { role: app_admin, admin: true, inherit: false, set: true }
      - role: app_ro
        admin: false
    password: { rotate: "2026-11", env: JSMITH_PW }
    grants:
      - on: tables
        schemas: [public, reports]
        privileges: [SELECT, INSERT]
        future: true
        future_owners: [app_owner]
      - { on: database, privileges: [CONNECT] }
      - on: function
        names: ["public.f(int)"]
        privileges: [EXECUTE]
    schemas: [reports]
  - name: "quoted \"name\" é"
    valid_until: "2027-03-31 12:00:00"
    password: generate
  - name: infinite
    valid_until: infinity
    password: none
    member_of: []
    targets:
  - name: 'single ''quoted'''
    password:
      rotate: 2026-11
    settings_scope: database
"#,
    );
}

#[test]
fn declines_what_is_outside_the_subset() {
    for yaml in [
        "a:\tb\n",
        "\ta: b\n",
        "a: b\r\n",
        "\u{feff}a: b\n",
        "---\na: b\n",
        "a: b\n...\n",
        "%YAML 1.2\n---\na: b\n",
        "a: &anchor b\nc: *anchor\n",
        "a: !tag b\n",
        "a: |\n  text\n",
        "a: >\n  text\n",
        "? a\n: b\n",
        "a: [b,\n  c]\n",
        "a: { b: c,\n  d: e }\n",
        "a: plain\n  continued\n",
        "- plain\n  continued\n",
        "a:\n  plain\n  continued\n",
        "a: 'multi\n  line'\n",
        "a: \"multi\n  line\"\n",
        "a: b: c\n",
        "a: b:\n",
        "a: - b\n",
        "a: @b\n",
        "a: `b`\n",
        "a: %b\n",
        "a : b\n",
        "a: \"unterminated\n",
        "a: \"\\x41\"\n",
        "a: \"\\ud800\"\n",
        "a: [b, , c]\n",
        "a: [,]\n",
        "a: { b: }\n",
        "a: { b }\n",
        "a: [b: c]\n",
        "a: [b:c]\n",
        "a: \"b\"c\n",
        "a: [b] c\n",
        "a: [b # c]\n",
        "- - a\n",
        "a:\n  b: 1\n   c: 2\n",
        "a:\n    b: 1\n  c: 2\n",
        "- a: 1\n   b: 2\n",
        "a: 1\n- b\n",
        "plain\nmore: 1\n",
    ] {
        declines(yaml);
    }
}
