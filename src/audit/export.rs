//! Audit entries as text for `pgroster audit --format table|json|csv`. Every form ends with a
//! newline, so the caller prints it as it is.

use super::AuditEntry;
use crate::render::table::table;

const TABLE_HEADER: [&str; 9] = [
    "TIME",
    "ACTOR",
    "ENV",
    "DATABASE",
    "HOST:PORT",
    "ROLE",
    "ACTION",
    "DETAIL",
    "OUTCOME",
];

const CSV_HEADER: [&str; 12] = [
    "run_id", "time", "actor", "command", "env", "database", "host", "port", "role", "action",
    "detail", "outcome",
];

/// Columns aligned for a terminal, by the one table printer, which shows control characters
/// escaped (`\n`, `\u{1b}`): a multi-line error would break the columns, and role names and
/// error texts are not trusted to be free of terminal escape sequences.
pub fn to_table(entries: &[AuditEntry]) -> String {
    let rows = entries.iter().map(|e| {
        [
            e.time.clone(),
            e.actor.clone(),
            e.env.clone(),
            e.database.clone(),
            host_port(&e.host, e.port),
            e.role.clone(),
            e.action.clone(),
            e.detail.clone(),
            e.outcome.clone(),
        ]
    });
    table(&TABLE_HEADER, rows)
}

/// A pretty-printed JSON array of entries, with the fields of `AuditEntry`.
pub fn to_json(entries: &[AuditEntry]) -> String {
    // Serializing strings and integers cannot fail: serde_json only fails on non-string map keys
    // or a failing Serialize impl, and AuditEntry has neither.
    let mut out = serde_json::to_string_pretty(entries).expect("AuditEntry serializes to JSON");
    out.push('\n');
    out
}

/// RFC 4180 CSV: a header row, CRLF line ends, and fields holding a comma, quote, CR or LF
/// quoted with their quotes doubled. Values are written as stored; a spreadsheet that evaluates
/// cells starting with `=` is the reader's concern, since altering them would falsify the record.
pub fn to_csv(entries: &[AuditEntry]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail, and every record has the header's twelve fields, the only
    // other thing the writer checks; so these errors cannot happen.
    writer
        .write_record(CSV_HEADER)
        .expect("CSV header writes to memory");
    for e in entries {
        let port = e.port.to_string();
        writer
            .write_record([
                e.run_id.as_str(),
                &e.time,
                &e.actor,
                &e.command,
                &e.env,
                &e.database,
                &e.host,
                &port,
                &e.role,
                &e.action,
                &e.detail,
                &e.outcome,
            ])
            .expect("CSV record writes to memory");
    }
    let bytes = writer.into_inner().expect("CSV flushes to memory");
    // Every field was a str, and the writer adds only ASCII.
    String::from_utf8(bytes).expect("CSV of str fields is UTF-8")
}

/// IPv6 addresses are bracketed, as in a URL, so the port stays distinguishable.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(role: &str, detail: &str, outcome: &str) -> AuditEntry {
        AuditEntry {
            run_id: "0123456789abcdef".to_string(),
            time: "2026-03-31T12:00:00Z".to_string(),
            actor: "alice".to_string(),
            command: "apply".to_string(),
            env: "dev".to_string(),
            database: "app_dev_main".to_string(),
            host: "pg-dev-01".to_string(),
            port: 5432,
            role: role.to_string(),
            action: "create".to_string(),
            detail: detail.to_string(),
            outcome: outcome.to_string(),
        }
    }

    #[test]
    fn table_aligns_columns_without_trailing_spaces() {
        let entries = [
            entry("web01_8080", "login, connection_limit: 200", "ok"),
            entry("jsmith", "", "failed: permission denied"),
        ];
        let expected = "\
TIME                  ACTOR  ENV  DATABASE      HOST:PORT       ROLE        ACTION  DETAIL                        OUTCOME
2026-03-31T12:00:00Z  alice  dev  app_dev_main  pg-dev-01:5432  web01_8080  create  login, connection_limit: 200  ok
2026-03-31T12:00:00Z  alice  dev  app_dev_main  pg-dev-01:5432  jsmith      create                                failed: permission denied
";
        assert_eq!(to_table(&entries), expected);
    }

    #[test]
    fn table_escapes_control_characters_and_brackets_ipv6() {
        let mut e = entry("evil\u{1b}[31m", "a\nb", "failed: x\ty");
        e.host = "::1".to_string();
        let table = to_table(&[e]);
        let row = table.lines().nth(1).unwrap();
        assert!(row.contains("[::1]:5432"), "{row}");
        assert!(row.contains("evil\\u{1b}[31m"), "{row}");
        assert!(row.contains("a\\nb"), "{row}");
        assert!(row.contains("failed: x\\ty"), "{row}");
        assert_eq!(table.lines().count(), 2);
    }

    #[test]
    fn table_of_nothing_is_the_header() {
        assert_eq!(
            to_table(&[]),
            "TIME  ACTOR  ENV  DATABASE  HOST:PORT  ROLE  ACTION  DETAIL  OUTCOME\n"
        );
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines() {
        let entries = [
            entry("plain", "login, createdb", "ok"),
            entry("a\"b", "line1\nline2", "failed: role \"a\"\"b\" exists"),
            entry("cr", "x\ry", "rolled back: other, change failed"),
        ];
        let expected = "run_id,time,actor,command,env,database,host,port,role,action,detail,outcome\r\n\
0123456789abcdef,2026-03-31T12:00:00Z,alice,apply,dev,app_dev_main,pg-dev-01,5432,plain,create,\"login, createdb\",ok\r\n\
0123456789abcdef,2026-03-31T12:00:00Z,alice,apply,dev,app_dev_main,pg-dev-01,5432,\"a\"\"b\",create,\"line1\nline2\",\"failed: role \"\"a\"\"\"\"b\"\" exists\"\r\n\
0123456789abcdef,2026-03-31T12:00:00Z,alice,apply,dev,app_dev_main,pg-dev-01,5432,cr,create,\"x\ry\",\"rolled back: other, change failed\"\r\n";
        assert_eq!(to_csv(&entries), expected);
    }

    #[test]
    fn csv_leaves_empty_and_unremarkable_fields_unquoted() {
        let csv = to_csv(&[entry(" #x;'", "", "ok")]);
        let row = csv.split("\r\n").nth(1).unwrap();
        assert!(row.ends_with(",5432, #x;',create,,ok"), "{row}");
    }

    #[test]
    fn csv_of_nothing_is_the_header() {
        assert_eq!(
            to_csv(&[]),
            "run_id,time,actor,command,env,database,host,port,role,action,detail,outcome\r\n"
        );
    }

    #[test]
    fn json_is_a_pretty_array_of_every_field() {
        let json = to_json(&[entry("a\"b", "x\ny", "ok")]);
        assert!(json.starts_with("[\n  {\n    \"run_id\": \"0123456789abcdef\",\n"));
        assert!(json.ends_with("}\n]\n"));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value[0]["role"], "a\"b");
        assert_eq!(value[0]["detail"], "x\ny");
        assert_eq!(value[0]["port"], 5432);
        assert_eq!(value[0].as_object().unwrap().len(), 12);
        assert_eq!(to_json(&[]), "[]\n");
    }
}
