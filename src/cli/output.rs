//! The one place that decides how output looks: colour, tables, terminals, prompts.

use std::io::{BufRead, IsTerminal, Write};

pub struct Output {
    pub color: bool,
    pub stdout_is_terminal: bool,
    pub stdin_is_terminal: bool,
}

impl Output {
    pub fn detect() -> Output {
        let stdout_is_terminal = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            color: stdout_is_terminal && !no_color,
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

    /// Terraform's question: only `yes` proceeds.
    pub fn confirm(&self, question: &str) -> bool {
        self.print(&format!(
            "{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
        ));
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        answer.trim() == "yes"
    }
}

/// Aligned columns with a header row.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}", w = *w))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}
