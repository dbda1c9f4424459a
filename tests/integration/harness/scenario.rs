//! [`Scenario`]: a temp config dir and the scrubbed environment the real binary runs in.

use super::{AdminKind, Cluster, ADMIN_PASS_ENV, ADMIN_USER_ENV};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a run of the binary left behind.
#[derive(Debug)]
pub struct Output {
    /// The exit code; -1 when a signal ended the process.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Asserts the exit code, showing stdout and stderr when it differs.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn expect_success(&self) -> &Self {
        self.expect_code(0)
    }
}

/// A temp dir holding a scenario's config files, and the environment the real binary runs with.
pub struct Scenario {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

impl Scenario {
    pub fn new() -> Scenario {
        Scenario {
            dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    /// The config directory (`-c`); relative paths in the config (the audit log) land here too.
    /// A scenario with `registry.toml` and `roles.yaml`, run as `kind`'s admin on `cluster`.
    pub fn with_files(cluster: &Cluster, kind: AdminKind, registry: &str, roles: &str) -> Scenario {
        let mut scenario = Scenario::new();
        scenario.with_admin(cluster, kind);
        scenario
            .file("registry.toml", registry)
            .file("roles.yaml", roles);
        scenario
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes (or overwrites) a file under the config dir; `name` may contain subdirectories.
    pub fn file(&self, name: &str, contents: &str) -> &Self {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(path, contents).unwrap();
        self
    }

    /// Sets a variable for every later run (a later value for the same name wins).
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Sets [`ADMIN_USER_ENV`] and [`ADMIN_PASS_ENV`] to that admin of `cluster`.
    pub fn with_admin(&mut self, cluster: &Cluster, kind: AdminKind) -> &mut Self {
        let (user, password) = cluster.admin(kind);
        self.env(ADMIN_USER_ENV, &user)
            .env(ADMIN_PASS_ENV, &password)
    }

    /// `<dir>/pgroster-audit.db`, where [`registry_toml`] puts the audit log.
    pub fn audit_log(&self) -> PathBuf {
        self.path().join("pgroster-audit.db")
    }

    /// Runs `pgroster -c <dir> ARGS...` with stdin from /dev/null (so never a terminal).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = self.command(env!("CARGO_BIN_EXE_pgroster"));
        command.arg("-c").arg(self.path()).args(args);
        let out = command.output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `program` in the scenario's environment: the test process's environment without any `PG*`
    /// variable (libpq's and `PGROSTER_*`), `HOME` set to the scenario dir (no real `~/.pgpass`),
    /// `NO_COLOR=1`, then the scenario's own variables; the scenario dir as working directory.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                command.env_remove(key);
            }
        }
        command
            .env("HOME", self.path())
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.path())
            .stdin(Stdio::null());
        command
    }
}

/// A `[settings]` section naming [`ADMIN_USER_ENV`]/[`ADMIN_PASS_ENV`] and the audit log
/// `pgroster-audit.db`, plus one `[[databases]]` entry per `(env, database, cluster)`.
pub fn registry_toml(entries: &[(&str, &str, &Cluster)]) -> String {
    let mut toml = format!(
        "[settings]\naudit_log = \"pgroster-audit.db\"\n\
         admin_user_env = \"{ADMIN_USER_ENV}\"\nadmin_password_env = \"{ADMIN_PASS_ENV}\"\n"
    );
    for (env, db, cluster) in entries {
        toml.push_str(&format!(
            "\n[[databases]]\nenv = \"{env}\"\nname = \"{db}\"\nhost = \"{}\"\nport = {}\n",
            cluster.host(),
            cluster.port
        ));
    }
    toml
}
