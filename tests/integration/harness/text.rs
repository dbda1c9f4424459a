//! Assertions on plan text that ignore column padding.

/// Whitespace runs squeezed to one space per line, so plan lines compare without their padding.
fn squeeze(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[track_caller]
pub fn assert_has(text: &str, needle: &str) {
    assert!(
        squeeze(text).contains(needle),
        "expected {needle:?} in:\n{text}"
    );
}

#[track_caller]
pub fn assert_lacks(text: &str, needle: &str) {
    assert!(
        !squeeze(text).contains(needle),
        "did not expect {needle:?} in:\n{text}"
    );
}
