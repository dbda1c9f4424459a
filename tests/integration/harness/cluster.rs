//! [`Cluster`]: a throwaway PostgreSQL server, copied from a once-per-process `initdb` template.

use super::{AdminKind, CLUSTERS_ROOT, CREATEROLE_ADMIN};
use postgres::{Client, NoTls, SimpleQueryMessage};
use postgres_protocol::escape::{escape_identifier, escape_literal};
use rand::distributions::{Alphanumeric, DistString};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The per-process template: one `initdb`, copied for every cluster.
struct Template {
    bin: PathBuf,
    /// uid/gid of the `postgres` OS user when this process runs as root.
    run_as: Option<(u32, u32)>,
    data: PathBuf,
    superuser_password: String,
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let root = Path::new(CLUSTERS_ROOT);
        fs::create_dir_all(root).unwrap();
        // World-writable and sticky like /tmp: initdb (as `postgres`) creates the template here, and
        // other users' test runs share the root without being able to delete each other's clusters.
        if fs::metadata(root).unwrap().permissions().mode() & 0o7777 != 0o1777 {
            let _ = fs::set_permissions(root, fs::Permissions::from_mode(0o1777));
        }
        stop_strays(root);

        let bin = pg_bin();
        let run_as = (command_output("id", &["-u"]) == "0").then(|| {
            let id = |flag| command_output("id", &[flag, "postgres"]).parse::<u32>().unwrap();
            (id("-u"), id("-g"))
        });
        let data = root.join(format!("{}-template", std::process::id()));
        let superuser_password = random_password();

        let pwfile = root.join(format!("{}-pwfile", std::process::id()));
        fs::write(&pwfile, format!("{superuser_password}\n")).unwrap();
        fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600)).unwrap();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
        }
        let mut initdb = server_command(&bin.join("initdb"), run_as);
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=scram-sha-256", "-E", "UTF8"])
            .args(["--locale=C", "--no-sync", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()));
        let out = initdb.output().unwrap();
        let _ = fs::remove_file(&pwfile);
        assert!(
            out.status.success(),
            "initdb ({}) failed: {}\n{}",
            bin.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Template {
            bin,
            run_as,
            data,
            superuser_password,
        }
    })
}

/// `PGROSTER_PG_BIN`, else the highest-numbered `/usr/lib/postgresql/*/bin`.
fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("PGROSTER_PG_BIN").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let base = Path::new("/usr/lib/postgresql");
    let highest = fs::read_dir(base)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|major| base.join(major.to_string()).join("bin/postgres").exists())
        .max();
    match highest {
        Some(major) => base.join(major.to_string()).join("bin"),
        None => panic!("no PostgreSQL under {}: set PGROSTER_PG_BIN", base.display()),
    }
}

/// A command for a server binary, run as `postgres` when we are root, from a directory it can read.
fn server_command(program: &Path, run_as: Option<(u32, u32)>) -> Command {
    let mut command = Command::new(program);
    command.current_dir(CLUSTERS_ROOT).stdin(Stdio::null());
    if let Some((uid, gid)) = run_as {
        command.uid(uid).gid(gid);
    }
    command
}

fn command_output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?} failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn random_password() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 24)
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Stops the postmasters and removes the directories left by test processes that no longer run
/// (killed outright, so Drop never ran). Directory names start with the owning test process's pid.
fn stop_strays(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() || process_alive(owner) {
            continue;
        }
        let dir = entry.path();
        if let Some(postmaster) = stray_postmaster(&dir) {
            let _ = Command::new("kill")
                .args(["-INT", &postmaster.to_string()])
                .status();
            let mut attempts = 0;
            while process_alive(postmaster) && attempts < 200 {
                sleep(Duration::from_millis(25));
                attempts += 1;
            }
        }
        let _ = if dir.is_dir() {
            fs::remove_dir_all(&dir)
        } else {
            fs::remove_file(&dir)
        };
    }
}

/// The pid in `dir/postmaster.pid`, if that process still runs and is a postgres server (pids are reused).
fn stray_postmaster(dir: &Path) -> Option<u32> {
    let pidfile = fs::read_to_string(dir.join("postmaster.pid")).ok()?;
    let pid = pidfile.lines().next()?.trim().parse::<u32>().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    String::from_utf8_lossy(&cmdline)
        .contains("postgres")
        .then_some(pid)
}

/// A running throwaway cluster. Dropping it stops the server and deletes its data directory.
pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
    postmaster: Child,
    admin_password: String,
    version_num: i32,
}

impl Cluster {
    /// Copies the template, starts a postmaster on a free port, waits until it accepts connections, and
    /// creates [`CREATEROLE_ADMIN`] with a random password.
    pub fn start() -> Cluster {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let template = template();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = Path::new(CLUSTERS_ROOT).join(format!("{}-{n}", std::process::id()));
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&template.data)
            .arg(&dir)
            .status()
            .unwrap();
        assert!(copied.success(), "cp -a {} failed", template.data.display());

        // The port is free when we look, but another cluster may take it before the postmaster binds:
        // then the postmaster exits with "could not bind" and we try another port.
        const BIND_ATTEMPTS: u32 = 5;
        for attempt in 1..=BIND_ATTEMPTS {
            let port = free_port();
            let mut postmaster = spawn_postmaster(template, &dir, port);
            match wait_until_ready(&mut postmaster, port, &template.superuser_password) {
                Ok(mut client) => {
                    let admin_password = random_password();
                    let version_num = setup(&mut client, &admin_password);
                    return Cluster {
                        port,
                        dir,
                        postmaster,
                        admin_password,
                        version_num,
                    };
                }
                Err(reason) => {
                    let _ = postmaster.kill();
                    let _ = postmaster.wait();
                    let log = fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                    if log.contains("could not bind") && attempt < BIND_ATTEMPTS {
                        continue;
                    }
                    let _ = fs::remove_dir_all(&dir);
                    panic!(
                        "PostgreSQL ({}) on port {port} did not start: {reason}\n{log}",
                        template.bin.display()
                    );
                }
            }
        }
        unreachable!("the last bind attempt returns or panics")
    }

    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The data directory (also the socket directory; `server.log` is in it).
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// The server's major version as `SHOW server_version_num` gives it, e.g. 150012 or 180003.
    pub fn server_version_num(&self) -> i32 {
        self.version_num
    }

    /// The server's major version: 15, 16, 18...
    pub fn major_version(&self) -> i32 {
        self.version_num / 10_000
    }

    /// User and password of the admin of that kind.
    pub fn admin(&self, kind: AdminKind) -> (String, String) {
        match kind {
            AdminKind::Superuser => ("postgres".into(), template().superuser_password.clone()),
            AdminKind::CreateRole => (CREATEROLE_ADMIN.into(), self.admin_password.clone()),
        }
    }

    pub fn create_database(&self, name: &str) {
        self.client("postgres")
            .batch_execute(&format!("CREATE DATABASE {}", escape_identifier(name)))
            .unwrap();
    }

    /// A connection to `db` as the superuser.
    pub fn client(&self, db: &str) -> Client {
        let (user, password) = self.admin(AdminKind::Superuser);
        self.connect(&user, &password, db).unwrap()
    }

    /// A password (SCRAM) connection over TCP, for tests that log in as a role pgroster made.
    pub fn connect(&self, user: &str, password: &str, db: &str) -> Result<Client, postgres::Error> {
        connect(self.port, user, password, db)
    }

    /// Runs `sql` (simple protocol, as superuser) and returns every row's values as text, NULL as None.
    pub fn query_strings(&self, db: &str, sql: &str) -> Vec<Vec<Option<String>>> {
        let messages = self.client(db).simple_query(sql).unwrap();
        messages
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    /// Everything the server wrote so far; with `log_statement=all` that is every statement received.
    pub fn server_log(&self) -> String {
        String::from_utf8_lossy(&fs::read(self.dir.join("server.log")).unwrap()).into_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, stop at once.
        let pid = self.postmaster.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.postmaster.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = self.postmaster.kill();
                let _ = self.postmaster.wait();
                break;
            }
            sleep(Duration::from_millis(5));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_postmaster(template: &Template, dir: &Path, port: u16) -> Child {
    let log = fs::File::create(dir.join("server.log")).unwrap();
    let mut postgres = server_command(&template.bin.join("postgres"), template.run_as);
    postgres
        .arg("-D")
        .arg(dir)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(dir)
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off"])
        .args(["-c", "logging_collector=off", "-c", "log_statement=all"])
        .stdout(Stdio::null())
        .stderr(log);
    postgres.spawn().unwrap()
}

/// Polls by connecting until the server accepts a login; a bounded number of attempts with a short
/// backoff (a readiness poll, not a sleep). The error says why; the caller adds the server log.
fn wait_until_ready(postmaster: &mut Child, port: u16, password: &str) -> Result<Client, String> {
    const ATTEMPTS: u32 = 200;
    let mut backoff = Duration::from_millis(5);
    let mut last_error = String::new();
    for _ in 0..ATTEMPTS {
        if let Ok(Some(status)) = postmaster.try_wait() {
            return Err(format!("postmaster exited ({status})"));
        }
        match connect(port, "postgres", password, "postgres") {
            Ok(client) => return Ok(client),
            Err(e) => last_error = e.to_string(),
        }
        sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_millis(100));
    }
    Err(format!("not ready after {ATTEMPTS} attempts: {last_error}"))
}

fn connect(port: u16, user: &str, password: &str, db: &str) -> Result<Client, postgres::Error> {
    postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(user)
        .password(password)
        .dbname(db)
        .application_name("pgroster-test-harness")
        .connect_timeout(Duration::from_secs(5))
        .connect(NoTls)
}

/// Creates the CREATEROLE admin and returns `server_version_num`. The password goes as a SCRAM verifier,
/// so the cleartext never reaches the server log that tests search for secrets.
fn setup(client: &mut Client, admin_password: &str) -> i32 {
    let verifier = postgres_protocol::password::scram_sha_256(admin_password.as_bytes());
    client
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN CREATEROLE CREATEDB PASSWORD {}",
            escape_identifier(CREATEROLE_ADMIN),
            escape_literal(&verifier)
        ))
        .unwrap();
    let version: String = client
        .query_one("SHOW server_version_num", &[])
        .unwrap()
        .get(0);
    version.parse().unwrap()
}

