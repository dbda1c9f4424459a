//! Role settings in one canonical text form, shared by the config and catalog sides.
//!
//! PostgreSQL stores list settings such as `search_path` re-quoted (`app, "JSmith"`), so both
//! sides parse to elements and print them the same way; a second plan then shows no drift.

/// Settings whose value is a list of identifiers (GUC_LIST_QUOTE in guc_tables.c) and that a
/// role may carry; `shared_preload_libraries` is one too, but only the server's config sets it.
pub(crate) fn is_identifier_list(name: &str) -> bool {
    matches!(
        name,
        "search_path"
            | "temp_tablespaces"
            | "local_preload_libraries"
            | "session_preload_libraries"
    )
}

/// Splits a stored list value (`app, "My Schema"`) into its elements, unquoted.
pub(crate) fn parse_identifier_list(value: &str) -> Vec<String> {
    let mut elements = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut element = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        element.push('"');
                    } else {
                        break;
                    }
                } else {
                    element.push(c);
                }
            }
            while chars.peek().is_some_and(|c| *c != ',') {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                element.push(c);
                chars.next();
            }
            element = element.trim_end().to_string();
        }
        elements.push(element);
        if chars.next().is_none() {
            break;
        }
    }
    elements
}

/// Prints elements as PostgreSQL would, quoting only where needed.
pub(crate) fn format_identifier_list<S: AsRef<str>>(elements: &[S]) -> String {
    let quoted: Vec<String> = elements
        .iter()
        .map(|e| {
            let e = e.as_ref();
            let plain = e
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && e.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if plain {
                e.to_string()
            } else {
                format!("\"{}\"", e.replace('"', "\"\""))
            }
        })
        .collect();
    quoted.join(", ")
}

/// The canonical form of a setting's value, whichever side it comes from.
pub(crate) fn canonical_value(name: &str, value: &str) -> String {
    if is_identifier_list(name) {
        format_identifier_list(&parse_identifier_list(value))
    } else {
        value.to_string()
    }
}

/// A setting name as PostgreSQL's `valid_custom_variable_name` (guc.c) reads one: parts
/// separated by dots, none empty, each a letter or `_` followed by letters, digits, `_` or `$`
/// (`statement_timeout`, `auto_explain.log_min_duration`). Whether a name without a dot is one
/// the server knows is for the server to say.
pub(crate) fn is_valid_setting_name(name: &str) -> bool {
    // PostgreSQL takes any non-ASCII byte as a letter.
    let letter = |c: char| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii();
    name.split('.').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(letter)
            && chars.all(|c| letter(c) || c.is_ascii_digit() || c == '$')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_round_trips_through_postgres_quoting() {
        let elements = ["app", "JSmith", "$user", "a\"b", "with space"];
        let text = format_identifier_list(&elements);
        assert_eq!(text, r#"app, "JSmith", "$user", "a""b", "with space""#);
        assert_eq!(parse_identifier_list(&text), elements);
        assert_eq!(canonical_value("search_path", "app,public"), "app, public");
        assert_eq!(canonical_value("statement_timeout", "30s"), "30s");
    }

    #[test]
    fn setting_names_follow_postgres_syntax() {
        for good in [
            "statement_timeout",
            "auto_explain.log_min_duration",
            "a.b.c",
            "x$1._y",
        ] {
            assert!(is_valid_setting_name(good), "{good}");
        }
        for bad in ["a..b", "a.", ".a", "", "1abc", "a.$b", "a-b", "a b", "a.1"] {
            assert!(!is_valid_setting_name(bad), "{bad}");
        }
    }
}
