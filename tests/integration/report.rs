//! `pgroster report` (issue 12): who can do what, where, across the fleet, for an access review.

use crate::harness::{
    assert_has, assert_stdout_has, database_entry, dump, exec, free_port, registry_toml, AdminKind,
    Cluster, Scenario,
};

/// Two clusters: a managed analyst reading through a group that holds `pg_read_all_data`, and a
/// role made by hand; every row names its cluster, and a third, unreachable cluster is named
/// on stderr (exit 1) while the others are still reported.
#[test]
fn report_lists_every_role_with_its_effective_access_across_clusters() {
    let (a, b) = (Cluster::start(), Cluster::start());
    for cluster in [&a, &b] {
        cluster.create_database("app");
        exec(cluster, "app", "CREATE TABLE public.orders (id int)");
    }
    exec(&b, "postgres", "CREATE ROLE rogue LOGIN SUPERUSER");
    let registry = registry_toml(&[("dev", "app", &a), ("prod", "app", &b)]);
    let roles = r#"
roles:
  - name: readers
    password: none
    targets: ["*/app"]
    member_of: [pg_read_all_data]
  - name: analyst
    login: true
    password: none
    targets: ["*/app"]
    member_of: [readers]
    grants: [{ on: table, names: [public.orders], privileges: [SELECT] }]
"#;
    let s = Scenario::with_files(&a, AdminKind::Superuser, &registry, roles);
    s.apply(None).expect_success();

    let out = s.run(&["report", "--format", "csv"]);
    out.expect_success();
    for cluster in [&a, &b] {
        assert_stdout_has(
            &out,
            &format!(
                "127.0.0.1:{},analyst,yes,LOGIN,readers,\"pg_read_all_data, readers\",app: table 1,-",
                cluster.port
            ),
        );
    }
    assert_stdout_has(
        &out,
        &format!("127.0.0.1:{},rogue,no,LOGIN SUPERUSER", b.port),
    );
    assert_stdout_has(&out, &format!("127.0.0.1:{},postgres,ignored", a.port));
    let md = s.run(&["report", "--format", "markdown", "--target", "prod"]);
    md.expect_success();
    assert_has(&md.stdout, "### pgroster access report");
    assert!(
        !md.stdout.contains(&format!(":{} ", a.port)),
        "{}",
        dump(&md)
    );

    // `show` answers the same questions for one role.
    let show = s.run(&["show", "analyst", "--target", "dev/app"]);
    show.expect_success();
    assert_has(
        &show.stdout,
        "table public.orders: SELECT (granted by postgres)",
    );
    let show = s.run(&["show", "readers", "--target", "dev/app", "--format", "json"]);
    show.expect_success();
    let json = crate::harness::parse_json(&show);
    assert_eq!(
        json["members"],
        serde_json::json!(["analyst"]),
        "{}",
        dump(&show)
    );

    let down = free_port();
    s.file(
        "registry.toml",
        &format!("{registry}{}", database_entry("qa", "app", down)),
    );
    let out = s.run(&["report", "--format", "json"]);
    out.expect_code(1);
    assert_has(&out.stderr, &format!("127.0.0.1:{down}"));
    assert_has(&out.stdout, "\"role\": \"analyst\"");
}
