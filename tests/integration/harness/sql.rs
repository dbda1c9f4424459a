//! The tests' own SQL, run as the superuser: quoting, setup statements, rows read back as text.

use super::Cluster;
use postgres::error::SqlState;

/// A SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A SQL identifier, always quoted.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Runs `sql` in `db` (simple protocol, several statements allowed).
#[track_caller]
pub fn exec(cluster: &Cluster, db: &str, sql: &str) {
    if let Err(e) = cluster.client(db).batch_execute(sql) {
        panic!("setup SQL failed in {db}: {e}\n{sql}");
    }
}

/// Runs `sql` in `db` as `role` (superuser session with `SET ROLE`), as the owner creating objects.
#[track_caller]
pub fn exec_as(cluster: &Cluster, db: &str, role: &str, sql: &str) {
    exec(
        cluster,
        db,
        &format!("SET ROLE {}; {sql}; RESET ROLE", ident(role)),
    );
}

/// Every row of `sql` in `db`, NULL shown as `NULL`.
pub fn rows(cluster: &Cluster, db: &str, sql: &str) -> Vec<Vec<String>> {
    cluster
        .query_strings(db, sql)
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect()
}

/// The first column of every row.
pub fn column(cluster: &Cluster, db: &str, sql: &str) -> Vec<String> {
    rows(cluster, db, sql)
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

/// The one value of a one-row query.
#[track_caller]
pub fn scalar(cluster: &Cluster, db: &str, sql: &str) -> String {
    let all = rows(cluster, db, sql);
    assert_eq!(all.len(), 1, "expected one row from {sql}: {all:?}");
    all[0][0].clone()
}

/// The SQLSTATE of a failed statement (panics when it succeeded).
#[track_caller]
pub fn sqlstate(result: Result<(), postgres::Error>, what: &str) -> SqlState {
    match result {
        Ok(()) => panic!("{what} succeeded, but it must fail"),
        Err(e) => e
            .code()
            .cloned()
            .unwrap_or_else(|| panic!("{what} failed without a SQLSTATE: {e}")),
    }
}
