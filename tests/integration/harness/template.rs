//! The per-process template data directory: server binaries, OS user, one `initdb`, stray cleanup.

use super::credentials::random_secret;
use postgres_protocol::password::scram_sha_256;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::Duration;

/// Cluster directories go in `<root>/<test pid>-<n>`: the tmpfs root when /dev/shm has room, since
/// creating the ~1,000 small files of a data directory took 1.3 s of system time on this machine's ext4
/// /tmp and 0.13 s on tmpfs. The template stays on disk (copying it from the page cache is as fast), so
/// a finished run leaves no 39 MB in memory; the next run deletes it. Not `$TMPDIR`: as root the server
/// runs as `postgres`, which must be able to traverse every parent directory.
const TMPFS_ROOT: &str = "/dev/shm/pgroster-test-clusters";
const DISK_ROOT: &str = "/tmp/pgroster-test-clusters";
const TMPFS_MIN_FREE_KIB: u64 = 2 * 1024 * 1024;

/// What every cluster of this test process is copied from and runs with.
pub(super) struct Template {
    /// The server binaries' directory.
    pub bin: PathBuf,
    /// uid/gid of the `postgres` OS user when this process runs as root.
    pub run_as: Option<(u32, u32)>,
    /// The directory cluster directories are created in (tmpfs when it has room).
    pub root: PathBuf,
    /// The initdb'd data directory, never started.
    pub data: PathBuf,
    pub superuser_password: String,
    /// The CREATEROLE admin's password (random per test process) and its SCRAM verifier, computed once:
    /// a debug build takes ~0.2 s per SCRAM computation.
    pub createrole_password: String,
    pub createrole_verifier: String,
}

/// The template, made on first use; the first call also stops strays of earlier, killed test runs.
pub(super) fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        for root in [TMPFS_ROOT, DISK_ROOT] {
            stop_strays(Path::new(root));
        }
        let root = clusters_root();
        let bin = pg_bin();
        let run_as = (command_output("id", &["-u"]) == "0").then(|| {
            let id = |flag| {
                command_output("id", &[flag, "postgres"])
                    .parse::<u32>()
                    .unwrap()
            };
            (id("-u"), id("-g"))
        });
        let disk_root = shared_dir(Path::new(DISK_ROOT));
        let data = disk_root.join(format!("{}-template", std::process::id()));
        let superuser_password = random_secret("");
        initdb(&bin, run_as, &disk_root, &data, &superuser_password);
        let createrole_password = random_secret("");
        Template {
            createrole_verifier: scram_sha_256(createrole_password.as_bytes()),
            createrole_password,
            bin,
            run_as,
            root,
            data,
            superuser_password,
        }
    })
}

fn clusters_root() -> PathBuf {
    let shm_free_kib = Command::new("df")
        .args(["-Pk", "/dev/shm"])
        .output()
        .ok()
        .and_then(|out| {
            let text = String::from_utf8(out.stdout).ok()?;
            text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
        })
        .unwrap_or(0);
    let root = if shm_free_kib >= TMPFS_MIN_FREE_KIB {
        TMPFS_ROOT
    } else {
        DISK_ROOT
    };
    shared_dir(Path::new(root))
}

/// Creates `dir` world-writable and sticky like /tmp: initdb (as `postgres`) creates the template in
/// it, and other users' test runs share it without being able to delete each other's clusters.
fn shared_dir(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    if fs::metadata(dir).unwrap().permissions().mode() & 0o7777 != 0o1777 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o1777)).unwrap();
    }
    dir.to_owned()
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
        None => panic!(
            "no PostgreSQL under {}: set PGROSTER_PG_BIN",
            base.display()
        ),
    }
}

/// `initdb` with SCRAM auth for `postgres`, then one pg_hba.conf line in front: the harness's own
/// superuser connections use the Unix socket without a password. The socket lives in the cluster's
/// 0700 data directory, so only root and `postgres` reach it; TCP, which pgroster and the tests' role
/// logins use, keeps scram-sha-256. Saves a SCRAM computation (~0.2 s in a debug build) per query.
fn initdb(bin: &Path, run_as: Option<(u32, u32)>, root: &Path, data: &Path, password: &str) {
    let pwfile = root.join(format!("{}-pwfile", std::process::id()));
    fs::write(&pwfile, format!("{password}\n")).unwrap();
    fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600)).unwrap();
    if let Some((uid, gid)) = run_as {
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
    }
    let out = server_command(&bin.join("initdb"), run_as, root)
        .arg("-D")
        .arg(data)
        .args(["-U", "postgres", "--auth=scram-sha-256", "-E", "UTF8"])
        .args(["--locale=C", "--no-sync", "--no-instructions"])
        .arg(format!("--pwfile={}", pwfile.display()))
        .output()
        .unwrap();
    let _ = fs::remove_file(&pwfile);
    assert!(
        out.status.success(),
        "initdb ({}) failed: {}\n{}",
        bin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let hba = data.join("pg_hba.conf");
    let rules = fs::read_to_string(&hba).unwrap();
    fs::write(&hba, format!("local all postgres trust\n{rules}")).unwrap();
}

/// A command for a server binary, run as `postgres` when we are root, from a directory it can read.
pub(super) fn server_command(program: &Path, run_as: Option<(u32, u32)>, cwd: &Path) -> Command {
    let mut command = Command::new(program);
    command.current_dir(cwd).stdin(Stdio::null());
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

pub(super) fn process_alive(pid: u32) -> bool {
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
        if let Some(postmaster) = live_postmaster(&dir) {
            let _ = Command::new("kill")
                .args(["-INT", &postmaster.to_string()])
                .status();
            for _ in 0..200 {
                if !process_alive(postmaster) {
                    break;
                }
                sleep(Duration::from_millis(25));
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
fn live_postmaster(dir: &Path) -> Option<u32> {
    let pidfile = fs::read_to_string(dir.join("postmaster.pid")).ok()?;
    let pid = pidfile.lines().next()?.trim().parse::<u32>().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    String::from_utf8_lossy(&cmdline)
        .contains("postgres")
        .then_some(pid)
}
