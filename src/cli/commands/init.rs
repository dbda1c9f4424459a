//! `pgroster init [DIR]`: a starter config (registry and roles), a `.gitignore` that keeps the
//! audit log and credentials files out of git, and the GitHub Actions workflow; nothing is
//! overwritten.

use crate::cli::args::InitArgs;
use crate::cli::output::Output;
use crate::cli::EXIT_OK;
use anyhow::{bail, Context, Result};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

/// Each file `init` writes, relative to the directory, and its text.
const FILES: &[(&str, &str)] = &[
    (
        "registry.toml",
        include_str!("../../../examples/init/registry.toml"),
    ),
    ("roles.yaml", include_str!("../../../examples/init/roles.yaml")),
    (
        ".gitignore",
        "# pgroster's audit log (SQLite and its WAL files) and generated credentials: never in git\n\
         pgroster-audit.db*\n*credentials*.json\n",
    ),
    (
        ".github/workflows/pgroster.yml",
        include_str!("../../../examples/ci/github-actions.yml"),
    ),
];

pub fn run(args: &InitArgs, output: &Output) -> Result<i32> {
    let dir = &args.dir;
    let existing: Vec<String> = FILES
        .iter()
        .map(|(name, _)| dir.join(name))
        .filter(|path| path.exists())
        .map(|path| path.display().to_string())
        .collect();
    if !existing.is_empty() {
        bail!(
            "not overwriting {}; nothing was written",
            existing.join(", ")
        );
    }
    for (name, text) in FILES {
        write_new(&dir.join(name), text)?;
        output.print(&format!("wrote {}", dir.join(name).display()));
    }
    output.print(&format!(
        "Next: set PG_ADMIN_USER and PG_ADMIN_PASS, edit {}, then `pgroster -c {} plan`.",
        dir.join("registry.toml").display(),
        dir.display()
    ));
    Ok(EXIT_OK)
}

/// Creates `path` (and its directories), refusing to replace a file that appeared meanwhile.
fn write_new(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
