//! The one place that prints: colour, terminals, prompts. Tables are built by
//! `pgroster::render::table`.

use pgroster::render::table::escape_controls;
use std::io::{BufRead, IsTerminal, Write};

pub struct Output {
    pub color: bool,
    /// Whether a progress bar may be drawn on stderr: a terminal, no `NO_COLOR`, no `--quiet`.
    pub progress: bool,
    pub stdout_is_terminal: bool,
    pub stdin_is_terminal: bool,
}

impl Output {
    pub fn detect(quiet: bool) -> Output {
        let stdout_is_terminal = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            color: stdout_is_terminal && !no_color,
            progress: std::io::stderr().is_terminal() && !no_color && !quiet,
            stdout_is_terminal,
            stdin_is_terminal: std::io::stdin().is_terminal(),
        }
    }

    pub fn print(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }

    /// Prints text that must arrive (generated passwords): unlike `print`, a failed write is
    /// an error.
    pub fn deliver(&self, text: &str) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// Prints what `write` writes as it goes, without holding all of it (a 10,000-role plan
    /// is megabytes). A failed write (a closed pipe) ends the output, as in `print`.
    pub fn print_streamed(&self, write: impl FnOnce(&mut dyn std::fmt::Write)) {
        let mut out = FmtToIo(std::io::BufWriter::new(std::io::stdout().lock()));
        write(&mut out);
        let _ = out.0.flush();
    }

    /// An error on stderr, one line per line of `text`, each with its control characters
    /// escaped: errors quote names from configs and catalogs.
    pub fn error(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        for line in text.lines() {
            let _ = writeln!(err, "Error: {}", escape_controls(line));
        }
    }

    /// A notice on stderr, not an error (a run waiting for another), escaped as `error` is.
    pub fn notice(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        for line in text.lines() {
            let _ = writeln!(err, "{}", escape_controls(line));
        }
    }

    /// Whether `command` may go on: at once with `--auto-approve`, else only when a person at
    /// a terminal answers `yes` to `question`. Refuses when nobody can be asked.
    pub fn approve(
        &self,
        auto_approve: bool,
        command: &str,
        question: &str,
    ) -> anyhow::Result<bool> {
        if auto_approve {
            return Ok(true);
        }
        if !self.stdin_is_terminal {
            anyhow::bail!(
                "{command} needs --auto-approve when stdin is not a terminal (nothing was changed)"
            );
        }
        if self.confirm(question) {
            return Ok(true);
        }
        let mut cancelled = command.to_string();
        if let Some(first) = cancelled.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        self.print(&format!("{cancelled} cancelled; nothing was changed."));
        Ok(false)
    }

    /// Terraform's question: only `yes` proceeds.
    fn confirm(&self, question: &str) -> bool {
        self.print(&format!(
            "{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
        ));
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        answer.trim() == "yes"
    }
}

/// `fmt::Write` for renderers, over an `io::Write`.
struct FmtToIo<W: Write>(W);

impl<W: Write> std::fmt::Write for FmtToIo<W> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0
            .write_all(text.as_bytes())
            .map_err(|_| std::fmt::Error)
    }
}
