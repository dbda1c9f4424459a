//! [`Scenario`]: a temp config dir, the scrubbed environment the real binary runs in, and a record of
//! every run; plus the registry files that point a scenario at its clusters.

use super::output::Output;
use super::text::assert_has;
use super::{AdminKind, Cluster, ADMIN_PASS_ENV, ADMIN_USER_ENV};
use std::cell::RefCell;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

/// A temp dir holding a scenario's config files, the environment the real binary runs with, and
/// the transcript of every run (tests search it for secrets).
pub struct Scenario {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    transcript: RefCell<Vec<String>>,
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
            transcript: RefCell::default(),
        }
    }

    /// A scenario with `registry.toml` and `roles.yaml`, run as `kind`'s admin on `cluster`.
    pub fn with_files(cluster: &Cluster, kind: AdminKind, registry: &str, roles: &str) -> Scenario {
        let mut scenario = Scenario::new();
        scenario.with_admin(cluster, kind);
        scenario
            .file("registry.toml", registry)
            .file("roles.yaml", roles);
        scenario
    }

    /// The config directory (`-c`); relative paths in the config (the audit log) land here too.
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

    /// Runs `pgroster -c <dir> ARGS...` with stdin from /dev/null (so never a terminal), and adds
    /// it to the transcript.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = Output::from(self.pgroster(args).output().unwrap());
        self.record(args, &out);
        out
    }

    /// Runs pgroster like [`run`](Self::run) while `listener`, the registered address of a database,
    /// answers nothing, and returns the peers of the connections that reached it.
    pub fn run_beside(&self, listener: &TcpListener, args: &[&str]) -> (Output, Vec<SocketAddr>) {
        let done = AtomicBool::new(false);
        thread::scope(|scope| {
            // Accepts and closes at once every connection, so that a pgroster that connects
            // fails fast instead of waiting for a greeting; ends at the connection made below,
            // once pgroster has exited.
            let acceptor = scope.spawn(|| {
                let mut peers = Vec::new();
                for stream in listener.incoming() {
                    let stream = stream.unwrap();
                    if done.load(Ordering::SeqCst) {
                        break;
                    }
                    peers.push(stream.peer_addr().unwrap());
                }
                peers
            });
            let out = self.run(args);
            done.store(true, Ordering::SeqCst);
            TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            (out, acceptor.join().unwrap())
        })
    }

    fn record(&self, args: &[&str], out: &Output) {
        self.transcript.borrow_mut().push(format!(
            "$ pgroster {}\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            out.stdout,
            out.stderr
        ));
    }

    /// Every run so far: the command line, stdout and stderr of each.
    pub fn transcript(&self) -> String {
        self.transcript.borrow().join("\n")
    }

    /// `plan --detailed-exitcode`.
    pub fn plan(&self) -> Output {
        self.run(&["plan", "--detailed-exitcode"])
    }

    /// `plan --detailed-exitcode`, expected to show changes (exit 2).
    #[track_caller]
    pub fn plan_changes(&self) -> Output {
        let out = self.plan();
        out.expect_code(2);
        out
    }

    /// `apply --auto-approve`, with `--credentials-out <dir>/<creds>` when `creds` is given.
    pub fn apply(&self, creds: Option<&str>) -> Output {
        self.run_delivering(&["apply", "--auto-approve"], creds)
    }

    /// A plan that shows changes, each of `shown` among them (whitespace squeezed), then an
    /// apply of them that succeeds. Returns the plan.
    #[track_caller]
    pub fn apply_planned(&self, shown: &[&str]) -> Output {
        let plan = self.plan_changes();
        for line in shown {
            assert_has(&plan.stdout, line);
        }
        self.apply(None).expect_success();
        plan
    }

    /// `reset ROLE --target TARGET --auto-approve`, with `--credentials-out <dir>/<creds>` when
    /// `creds` is given.
    pub fn reset(&self, role: &str, target: &str, creds: Option<&str>) -> Output {
        self.run_delivering(
            &["reset", role, "--target", target, "--auto-approve"],
            creds,
        )
    }

    fn run_delivering(&self, args: &[&str], creds: Option<&str>) -> Output {
        let path = creds.map(|name| self.path().join(name));
        let mut args = args.to_vec();
        if let Some(path) = &path {
            args.push("--credentials-out");
            args.push(path.to_str().unwrap());
        }
        self.run(&args)
    }

    /// The loop closes: a plan right after shows no changes and exits 0. Returns it for notes.
    #[track_caller]
    pub fn assert_converged(&self) -> Output {
        let out = self.plan();
        out.expect_code(0);
        assert_has(&out.stdout, "No changes.");
        out
    }

    /// The real binary as `pgroster -c <dir> ARGS...` in the scenario's [`command`](Self::command)
    /// environment, for a test that needs to spawn it itself; not recorded in the transcript.
    pub fn pgroster(&self, args: &[&str]) -> Command {
        let mut command = self.command(env!("CARGO_BIN_EXE_pgroster"));
        command.arg("-c").arg(self.path()).args(args);
        command
    }

    /// `program` in the scenario's environment: the test process's environment without any `PG*`
    /// variable (libpq's and `PGROSTER_*`) nor `GITHUB_STEP_SUMMARY` (tests run in CI must not
    /// write to its job summary), `HOME` set to the scenario dir (no real `~/.pgpass`),
    /// `NO_COLOR=1`, then the scenario's own variables; the scenario dir as working directory.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                command.env_remove(key);
            }
        }
        command.env_remove("GITHUB_STEP_SUMMARY");
        command
            .env("HOME", self.path())
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.path())
            .stdin(Stdio::null());
        command
    }
}

/// One cluster with these `(env, database)` targets, `registry.toml` listing them, and the admin of
/// that kind; no roles file yet.
pub fn single_cluster(dbs: &[(&str, &str)], admin: AdminKind) -> (Cluster, Scenario) {
    let cluster = Cluster::start();
    for (_, db) in dbs {
        cluster.create_database(db);
    }
    let entries: Vec<(&str, &str, &Cluster)> =
        dbs.iter().map(|(env, db)| (*env, *db, &cluster)).collect();
    let mut scenario = Scenario::new();
    scenario.file("registry.toml", &registry_toml(&entries));
    scenario.with_admin(&cluster, admin);
    (cluster, scenario)
}

/// A `[settings]` section naming [`ADMIN_USER_ENV`]/[`ADMIN_PASS_ENV`] and the audit log
/// `pgroster-audit.db`, plus one `[[databases]]` entry per `(env, database, cluster)`.
pub fn registry_toml(entries: &[(&str, &str, &Cluster)]) -> String {
    let mut toml = format!(
        "[settings]\naudit_log = \"pgroster-audit.db\"\n\
         admin_user_env = \"{ADMIN_USER_ENV}\"\nadmin_password_env = \"{ADMIN_PASS_ENV}\"\n"
    );
    for (env, db, cluster) in entries {
        toml.push_str(&database_entry(env, db, cluster.port));
    }
    toml
}

/// A `[[databases]]` entry on 127.0.0.1 at `port`, to append to [`registry_toml`]'s.
pub fn database_entry(env: &str, db: &str, port: u16) -> String {
    format!(
        "\n[[databases]]\nenv = \"{env}\"\nname = \"{db}\"\nhost = \"127.0.0.1\"\nport = {port}\n"
    )
}

/// A registry entry that pgroster must never contact: inactive, on a port nothing listens on.
pub fn inactive_entry(env: &str, db: &str) -> String {
    format!("{}active = false\n", database_entry(env, db, 1))
}

/// `registry` with extra lines at the start of its `[settings]` section.
pub fn with_settings(registry: &str, extra: &str) -> String {
    registry.replacen("[settings]\n", &format!("[settings]\n{extra}\n"), 1)
}

/// `path:line:column` as pgroster prints it for a file of the scenario.
pub fn location(scenario: &Scenario, file: &str, line: usize, column: usize) -> String {
    format!("{}:{line}:{column}", scenario.path().join(file).display())
}
