//! [`Output`]: what a run of the binary left behind, and the assertions on it.

/// What a run of the binary left behind.
#[derive(Debug)]
pub struct Output {
    /// The exit code; -1 when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Output {
    fn from(out: std::process::Output) -> Output {
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Output {
    /// Asserts the exit code, showing stdout and stderr when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{}", dump(self));
        self
    }

    #[track_caller]
    pub fn expect_success(&self) -> &Self {
        self.expect_code(0)
    }
}

/// The exit code and both streams, for assertion messages.
pub fn dump(out: &Output) -> String {
    format!(
        "exit code {}\n--- stdout\n{}\n--- stderr\n{}",
        out.code, out.stdout, out.stderr
    )
}

#[track_caller]
pub fn assert_stdout_has(out: &Output, needle: &str) {
    assert!(
        out.stdout.contains(needle),
        "stdout lacks {needle:?}\n{}",
        dump(out)
    );
}

#[track_caller]
pub fn assert_stderr_has(out: &Output, needle: &str) {
    assert!(
        out.stderr.contains(needle),
        "stderr lacks {needle:?}\n{}",
        dump(out)
    );
}

/// `needle` (a secret, say) is on neither stream.
#[track_caller]
pub fn assert_nowhere(out: &Output, needle: &str) {
    assert!(
        !out.stdout.contains(needle) && !out.stderr.contains(needle),
        "{needle:?} appears in the output\n{}",
        dump(out)
    );
}

/// No colour: the binary's streams are pipes in every test.
#[track_caller]
pub fn assert_no_ansi(out: &Output) {
    assert!(
        !out.stdout.contains('\x1b') && !out.stderr.contains('\x1b'),
        "ANSI escape in piped output\n{}",
        dump(out)
    );
}

/// Some stdout line equals `line` once runs of whitespace are squeezed, so padding does not matter.
#[track_caller]
pub fn assert_line(out: &Output, line: &str) {
    assert!(
        super::text::squeezed_lines(&out.stdout)
            .iter()
            .any(|l| l == line),
        "no stdout line (whitespace squeezed) equal to {line:?}\n{}",
        dump(out)
    );
}

/// The run id in the last line of apply or reset, `... Audit run 0123456789abcdef.`.
#[track_caller]
pub fn run_id(out: &Output) -> String {
    let at = out
        .stdout
        .find("Audit run ")
        .unwrap_or_else(|| panic!("no audit run id\n{}", dump(out)));
    out.stdout[at + "Audit run ".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}
