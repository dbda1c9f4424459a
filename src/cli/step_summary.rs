//! GitHub Actions' job summary: when `GITHUB_STEP_SUMMARY` names a file, `plan` and `apply`
//! append their Markdown to it. A summary is a convenience, so failing to write it is a
//! warning and never fails the run.

use super::output::Output;
use std::io::Write;

/// The variable GitHub Actions sets to the job's summary file.
pub const VARIABLE: &str = "GITHUB_STEP_SUMMARY";

/// Appends what `markdown` renders to the job summary, if there is one (rendered only then).
pub fn append(markdown: impl FnOnce() -> String, output: &Output) {
    let Some(path) = std::env::var_os(VARIABLE).filter(|p| !p.is_empty()) else {
        return;
    };
    let markdown = markdown();
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut file| {
            file.write_all(markdown.as_bytes())?;
            if !markdown.ends_with('\n') {
                file.write_all(b"\n")?;
            }
            file.flush()
        });
    if let Err(error) = written {
        output.notice(&format!(
            "Warning: could not append the plan to {VARIABLE} ({}): {error}",
            std::path::Path::new(&path).display()
        ));
    }
}
