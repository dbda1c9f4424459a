//! The one place names and values are quoted: for SQL, and for names shown as SQL would
//! write them.

/// A double-quoted identifier: `a"b` -> `"a""b"`. Always quoted, so case and spaces survive.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An identifier as PostgreSQL's `quote_ident` prints it: bare when it reads back as itself
/// (lower case, digits, `_`, not a keyword a bare name cannot be), else quoted as `ident` does.
/// For display, where `"Odd Schema"."Tab le"` must not read as `Odd Schema.Tab le`.
pub(crate) fn ident_if_needed(name: &str) -> String {
    let mut chars = name.chars();
    let bare = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && QUOTED_KEYWORDS.binary_search(&name).is_err();
    if bare {
        name.to_string()
    } else {
        ident(name)
    }
}

/// PostgreSQL 18's keywords other than the unreserved ones (`src/include/parser/kwlist.h`),
/// which `quote_ident` quotes; sorted. Earlier versions have a subset, and quoting a name
/// there that needs no quotes is still the same name.
const QUOTED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "json",
    "json_array",
    "json_arrayagg",
    "json_exists",
    "json_object",
    "json_objectagg",
    "json_query",
    "json_scalar",
    "json_serialize",
    "json_table",
    "json_value",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "merge_action",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

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

    #[test]
    fn quotes_a_displayed_name_only_when_sql_would() {
        for bare in ["orders", "_t1", "app_2", "json_x", "data"] {
            assert_eq!(ident_if_needed(bare), bare);
        }
        assert_eq!(ident_if_needed("Odd Schema"), "\"Odd Schema\"");
        assert_eq!(ident_if_needed("we\"ird.sch"), "\"we\"\"ird.sch\"");
        assert_eq!(ident_if_needed("T.a\"b"), "\"T.a\"\"b\"");
        assert_eq!(ident_if_needed("Orders"), "\"Orders\"");
        assert_eq!(ident_if_needed("1st"), "\"1st\"");
        assert_eq!(ident_if_needed("données"), "\"données\"");
        assert_eq!(ident_if_needed(""), "\"\"");
        for keyword in ["user", "select", "xmltable"] {
            assert_eq!(ident_if_needed(keyword), format!("\"{keyword}\""));
        }
    }

    #[test]
    fn keyword_list_is_sorted_for_binary_search() {
        assert!(QUOTED_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }
}
