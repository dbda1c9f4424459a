//! The one place names and values are quoted for SQL.

/// A double-quoted identifier: `a"b` -> `"a""b"`. Always quoted, so case and spaces survive.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A string literal. Backslashes are doubled and the E'' form used, so the result means the
/// same whatever `standard_conforming_strings` says.
pub fn literal(value: &str) -> String {
    if value.contains('\\') {
        format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hostile_names_and_values() {
        assert_eq!(ident("JSmith"), "\"JSmith\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("'; drop role x; --"), "'''; drop role x; --'");
        assert_eq!(literal("a\\b'"), "E'a\\\\b'''");
    }
}
