//! Reading what pgroster prints: plan text without its column padding, tables, line numbers.

use std::collections::BTreeMap;

/// Lines with runs of whitespace squeezed to one space, so plan lines compare without their padding.
pub fn squeezed_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[track_caller]
pub fn assert_has(text: &str, needle: &str) {
    assert!(
        squeezed_lines(text).join("\n").contains(needle),
        "expected {needle:?} in:\n{text}"
    );
}

#[track_caller]
pub fn assert_lacks(text: &str, needle: &str) {
    assert!(
        !squeezed_lines(text).join("\n").contains(needle),
        "did not expect {needle:?} in:\n{text}"
    );
}

/// 1-based line of the first line of `text` containing `needle`.
#[track_caller]
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in {text}"))
        + 1
}

/// A table printed by pgroster (header, aligned columns) as maps from header to cell, cut at the
/// columns' start offsets so that cells may contain single spaces.
pub fn parse_table(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .unwrap_or_else(|| panic!("no header in {text:?}"));
    let mut columns: Vec<(usize, String)> = Vec::new();
    let mut start = None;
    let chars: Vec<char> = header.chars().collect();
    for i in 0..=chars.len() {
        let at_gap = i == chars.len() || (chars[i] == ' ' && chars.get(i + 1) == Some(&' '));
        match (start, at_gap) {
            (None, false) if chars[i] != ' ' => start = Some(i),
            (Some(s), true) => {
                columns.push((s, chars[s..i].iter().collect()));
                start = None;
            }
            _ => {}
        }
    }
    lines
        .map(|line| {
            let chars: Vec<char> = line.chars().collect();
            columns
                .iter()
                .enumerate()
                .map(|(i, (from, name))| {
                    let to = columns.get(i + 1).map_or(chars.len(), |(next, _)| *next);
                    let cell: String = chars
                        .get((*from).min(chars.len())..to.min(chars.len()))
                        .unwrap_or_default()
                        .iter()
                        .collect();
                    (name.clone(), cell.trim().to_string())
                })
                .collect()
        })
        .collect()
}
