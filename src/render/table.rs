//! The one table printer of the read commands (`registry`, `roles`, `show`, `audit`): a header
//! row, columns two spaces apart, no borders, no trailing spaces, every cell escaped.

use tabled::builder::Builder;
use tabled::settings::{Padding, Style};

/// `headers` and `rows` aligned in columns. Every cell goes through `escape_controls`: role
/// names, comments and settings come from catalogs and config files, and a newline would break
/// the columns while an ESC would reach the terminal.
pub fn table<R>(headers: &[&str], rows: R) -> String
where
    R: IntoIterator,
    R::Item: IntoIterator,
    <R::Item as IntoIterator>::Item: AsRef<str>,
{
    let mut builder = Builder::new();
    builder.push_record(headers.iter().map(|h| escape_controls(h)));
    for row in rows {
        builder.push_record(row.into_iter().map(|cell| escape_controls(cell.as_ref())));
    }
    let mut grid = builder.build();
    grid.with(Style::empty()).with(Padding::new(0, 2, 0, 0));
    let mut out = String::new();
    // tabled pads the last column too, and pads empty trailing cells; trimming spaces (and no
    // other whitespace) ends each line where its text does.
    for line in grid.to_string().lines() {
        out.push_str(line.trim_end_matches(' '));
        out.push('\n');
    }
    out
}

/// Control characters written as Rust escapes (`\n`, `\u{1b}`), everything else as it is.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_two_spaces_apart_and_lines_end_with_their_text() {
        let rows = [["dev", "app_dev", "yes"], ["production", "", ""]];
        assert_eq!(
            table(&["ENV", "DATABASE", "ACTIVE"], rows),
            "ENV         DATABASE  ACTIVE\ndev         app_dev   yes\nproduction\n"
        );
    }

    #[test]
    fn a_table_of_nothing_is_its_header() {
        let rows: [[&str; 2]; 0] = [];
        assert_eq!(table(&["FIELD", "VALUE"], rows), "FIELD  VALUE\n");
    }

    #[test]
    fn control_characters_are_escaped_in_every_cell() {
        let rows = [vec![
            "evil\nname\u{1b}[31m".to_string(),
            "a\tb\r".to_string(),
        ]];
        let text = table(&["ROLE", "VALUE"], rows);
        assert_eq!(
            text,
            "ROLE                  VALUE\nevil\\nname\\u{1b}[31m  a\\tb\\r\n"
        );
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn long_cells_stay_on_one_line() {
        let long = "x".repeat(70_000);
        let text = table(&["A", "B"], [[long.as_str(), "ok"]]);
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with(&format!("{long}  ok\n")));
    }

    #[test]
    fn wide_characters_are_aligned_by_the_columns_they_take() {
        let text = table(&["ROLE", "MANAGED"], [["日本", "no"], ["abcd", "yes"]]);
        assert_eq!(text, "ROLE  MANAGED\n日本  no\nabcd  yes\n");
    }

    #[test]
    fn delete_and_c1_controls_are_escaped_too() {
        assert_eq!(escape_controls("a\u{7f}b\u{85}"), "a\\u{7f}b\\u{85}");
        assert_eq!(escape_controls("Zoë_日本"), "Zoë_日本");
    }
}
