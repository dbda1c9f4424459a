//! [`Cluster`]: a throwaway PostgreSQL server, copied from the per-process template, stopped on drop.

use super::template::{server_command, template, Template};
use super::{AdminKind, CREATEROLE_ADMIN};
use postgres::{Client, NoTls, SimpleQueryMessage};
use postgres_protocol::escape::{escape_identifier, escape_literal};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A running throwaway cluster on 127.0.0.1. Dropping it stops the server and deletes its directory.
pub struct Cluster {
    pub port: u16,
    /// The data directory; also the Unix socket directory, and `server.log` is in it.
    dir: PathBuf,
    postmaster: Child,
    version_num: i32,
}

impl Cluster {
    /// Copies the template, starts a postmaster on a free port, waits until it accepts connections, and
    /// creates [`CREATEROLE_ADMIN`].
    pub fn start() -> Cluster {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let template = template();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = template.root.join(format!("{}-{n}", std::process::id()));
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
            match wait_until_ready(&mut postmaster, &dir, port) {
                Ok(mut client) => {
                    let version_num = setup(&mut client, &template.createrole_verifier);
                    return Cluster {
                        port,
                        dir,
                        postmaster,
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

    /// The server binaries' directory this cluster runs from (`PGROSTER_PG_BIN` or the default).
    pub fn bin_dir(&self) -> &Path {
        &template().bin
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// `SHOW server_version_num`, e.g. 150012 or 180003.
    pub fn server_version_num(&self) -> i32 {
        self.version_num
    }

    /// The major version: 15, 16, 18...
    pub fn major_version(&self) -> i32 {
        self.version_num / 10_000
    }

    /// User and password of the admin of that kind. Passwords are random per test process.
    pub fn admin(&self, kind: AdminKind) -> (String, String) {
        let template = template();
        let password = match kind {
            AdminKind::Superuser => &template.superuser_password,
            AdminKind::CreateRole => &template.createrole_password,
        };
        (kind.user().to_owned(), password.clone())
    }

    pub fn create_database(&self, name: &str) {
        self.client("postgres")
            .batch_execute(&format!("CREATE DATABASE {}", escape_identifier(name)))
            .unwrap();
    }

    /// `CREATE DATABASE name OWNER owner`: what a CREATEROLE admin must own to grant on it.
    pub fn create_database_owned_by(&self, name: &str, owner: &str) {
        self.client("postgres")
            .batch_execute(&format!(
                "CREATE DATABASE {} OWNER {}",
                escape_identifier(name),
                escape_identifier(owner)
            ))
            .unwrap();
    }

    /// A superuser connection to `db` for setup and assertions (over the Unix socket, no password).
    pub fn client(&self, db: &str) -> Client {
        socket_connect(&self.dir, self.port, db).unwrap()
    }

    /// A password (SCRAM) login over TCP, as pgroster and real users log in.
    pub fn connect(&self, user: &str, password: &str, db: &str) -> Result<Client, postgres::Error> {
        postgres::Config::new()
            .host(self.host())
            .port(self.port)
            .user(user)
            .password(password)
            .dbname(db)
            .connect_timeout(Duration::from_secs(5))
            .connect(NoTls)
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

    /// The server log's WARNING lines, each after the line before it (with `log_statement=all`, the
    /// statement that caused it), for failure messages.
    pub fn server_warnings(&self) -> String {
        let log = self.server_log();
        let lines: Vec<&str> = log.lines().collect();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.contains("WARNING") {
                if i > 0 {
                    out.push(lines[i - 1]);
                }
                out.push(line);
            }
        }
        out.join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, stop at once.
        let pid = self.postmaster.id();
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
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

/// A port on 127.0.0.1 that nothing listened on when we looked.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_postmaster(template: &Template, dir: &Path, port: u16) -> Child {
    let log = fs::File::create(dir.join("server.log")).unwrap();
    server_command(
        &template.bin.join("postgres"),
        template.run_as,
        &template.root,
    )
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
    .stderr(log)
    .spawn()
    .unwrap()
}

/// Polls by connecting until the server accepts a login: a bounded number of attempts with a short
/// backoff (a readiness poll, not a sleep). The error says why; the caller adds the server log.
fn wait_until_ready(postmaster: &mut Child, dir: &Path, port: u16) -> Result<Client, String> {
    const ATTEMPTS: u32 = 200;
    let mut backoff = Duration::from_millis(2);
    let mut last_error = String::new();
    for _ in 0..ATTEMPTS {
        if let Ok(Some(status)) = postmaster.try_wait() {
            return Err(format!("postmaster exited ({status})"));
        }
        match socket_connect(dir, port, "postgres") {
            Ok(client) => return Ok(client),
            Err(e) => last_error = e.to_string(),
        }
        sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_millis(100));
    }
    Err(format!("not ready after {ATTEMPTS} attempts: {last_error}"))
}

fn socket_connect(dir: &Path, port: u16, db: &str) -> Result<Client, postgres::Error> {
    postgres::Config::new()
        .host_path(dir)
        .port(port)
        .user("postgres")
        .dbname(db)
        .application_name("pgroster-test-harness")
        .connect_timeout(Duration::from_secs(5))
        .connect(NoTls)
}

/// Creates the CREATEROLE admin and returns `server_version_num`. Its password goes as a SCRAM
/// verifier, so the cleartext never reaches the server log that tests search for secrets.
fn setup(client: &mut Client, createrole_verifier: &str) -> i32 {
    client
        .batch_execute(&format!(
            "CREATE ROLE {} LOGIN CREATEROLE CREATEDB PASSWORD {}",
            escape_identifier(CREATEROLE_ADMIN),
            escape_literal(createrole_verifier)
        ))
        .unwrap();
    let version: String = client
        .query_one("SHOW server_version_num", &[])
        .unwrap()
        .get(0);
    version.parse().unwrap()
}
