//! Delivery of generated passwords: once, to a new 0600 file, to `deliver_command` or to the
//! terminal, never elsewhere, and before the transaction that sets them commits (the apply
//! stage calls `Deliver`). Every entry names its audit run, whose `pgroster audit --run` says
//! whether it committed.
//!
//! `deliver_command` keeps that order: each password goes to the command before any unit
//! runs, and the first delivery that fails stops the run with nothing changed, so a role is
//! never left with a password nobody received (issue 9). The passwords the command received
//! before it failed are then not live, and the run says which.

use crate::cli::output::Output;
use anyhow::{bail, Context as _, Result};
use pgroster::apply::{
    ApplyError, ApplyReport, Deliver, DeliveryError, GeneratedCredential, Prepared,
};
use pgroster::audit::RunId;
use pgroster::notify::{run_command, CommandLine, COMMAND_TIMEOUT};
use serde::Serialize;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub enum Delivery<'o> {
    /// A new file, created at delivery; `delivered`: how many passwords it holds.
    File { path: PathBuf, delivered: usize },
    Terminal {
        output: &'o Output,
        delivered: usize,
    },
    /// `deliver_command`; `delivered`: the (role, cluster) of each password it received.
    Command {
        command: CommandLine,
        delivered: Vec<(String, String)>,
    },
    /// Nothing to deliver.
    Nowhere,
}

/// Decides before anything changes where passwords will go: `--credentials-out` (a flag wins
/// over the file's `deliver_command`), else `deliver_command`, else the terminal. The file is
/// created only when there is something to write, but a path that exists already (it is never
/// overwritten) is refused now, while nothing has been touched.
pub fn prepare<'o>(
    count: usize,
    out: Option<&Path>,
    deliver_command: Option<&CommandLine>,
    output: &'o Output,
) -> Result<Delivery<'o>> {
    if count == 0 {
        return Ok(Delivery::Nowhere);
    }
    if let (None, Some(command)) = (out, deliver_command) {
        return Ok(Delivery::Command {
            command: command.clone(),
            delivered: Vec::new(),
        });
    }
    match out {
        Some(path) => {
            if path.symlink_metadata().is_ok() {
                bail!(
                    "credentials file {} exists; it is never overwritten (nothing was changed)",
                    path.display()
                );
            }
            let dir = directory_of(path);
            if !dir.is_dir() {
                bail!(
                    "credentials file {}: directory {} does not exist (nothing was changed)",
                    path.display(),
                    dir.display()
                );
            }
            Ok(Delivery::File {
                path: path.to_path_buf(),
                delivered: 0,
            })
        }
        None if output.stdout_is_terminal => Ok(Delivery::Terminal {
            output,
            delivered: 0,
        }),
        None => bail!(
            "this run generates {count} password(s) but stdout is not a terminal; \
             pass --credentials-out FILE to receive them (nothing was changed)"
        ),
    }
}

#[derive(Serialize)]
struct Entry<'a> {
    role: &'a str,
    env: &'a str,
    database: &'a str,
    host: &'a str,
    port: u16,
    password: &'a str,
    run: &'a str,
}

fn entries<'a>(run: &'a RunId, credentials: &[&'a GeneratedCredential]) -> Vec<Entry<'a>> {
    credentials
        .iter()
        .flat_map(|c| {
            c.targets.iter().map(move |t| Entry {
                role: c.role.as_str(),
                env: &t.env,
                database: &t.database,
                host: &c.cluster.host,
                port: c.cluster.port,
                password: c.password.expose(),
                run: run.as_str(),
            })
        })
        .collect()
}

/// What `deliver_command` reads on stdin for one password.
#[derive(Serialize)]
struct CommandEntry<'a> {
    role: &'a str,
    password: &'a str,
    /// `host:port`.
    cluster: String,
    host: &'a str,
    port: u16,
    /// `env/database` of each target the role is declared for on that cluster.
    targets: Vec<String>,
    run: &'a str,
}

/// Hands each credential to `argv`, one call each, until one fails: then says which failed
/// and which the command had already received (none of them is set, since nothing runs).
fn deliver_to_command(
    command: &CommandLine,
    delivered: &mut Vec<(String, String)>,
    run: &RunId,
    credentials: &[&GeneratedCredential],
) -> Result<()> {
    for c in credentials {
        let entry = CommandEntry {
            role: c.role.as_str(),
            password: c.password.expose(),
            cluster: c.cluster.to_string(),
            host: &c.cluster.host,
            port: c.cluster.port,
            targets: c.targets.iter().map(ToString::to_string).collect(),
            run: run.as_str(),
        };
        let input = serde_json::to_vec(&entry)?;
        if let Err(error) = run_command(command, &input, COMMAND_TIMEOUT) {
            let mut message = format!(
                "deliver_command failed for role {} on {}: {error}",
                c.role, c.cluster
            );
            if !delivered.is_empty() {
                let received: Vec<String> = delivered
                    .iter()
                    .map(|(role, cluster)| format!("{role} on {cluster}"))
                    .collect();
                message.push_str(&format!(
                    "; it had received the passwords of {}, which were not set (nothing \
                     was changed): discard them",
                    received.join(", ")
                ));
            }
            delivered.clear();
            bail!(message);
        }
        delivered.push((c.role.to_string(), c.cluster.to_string()));
    }
    Ok(())
}

impl Deliver for Delivery<'_> {
    fn deliver(
        &mut self,
        run: &RunId,
        credentials: &[&GeneratedCredential],
    ) -> Result<(), DeliveryError> {
        let destination = self.destination();
        self.deliver_all(run, credentials)
            .map_err(|cause| DeliveryError {
                destination,
                cause: cause.into(),
            })
    }

    fn destination(&self) -> String {
        match self {
            Delivery::File { path, .. } => format!("credentials file {}", path.display()),
            Delivery::Terminal { .. } => "the terminal".into(),
            Delivery::Command { command, .. } => format!("deliver_command {}", command.program()),
            Delivery::Nowhere => "nowhere".into(),
        }
    }
}

impl Delivery<'_> {
    fn deliver_all(&mut self, run: &RunId, credentials: &[&GeneratedCredential]) -> Result<()> {
        let entries = entries(run, credentials);
        match self {
            Delivery::Nowhere => Ok(()),
            Delivery::Command { command, delivered } => {
                deliver_to_command(command, delivered, run, credentials)
            }
            Delivery::File { path, delivered } => {
                write_new(path, &entries, false)?;
                *delivered = credentials.len();
                Ok(())
            }
            Delivery::Terminal { output, delivered } => {
                let mut text = format!(
                    "\nGenerated passwords of audit run {run} (shown once; store them now):\n"
                );
                for e in &entries {
                    text.push_str(&format!(
                        "  {} on {}/{} ({}:{}): {}\n",
                        e.role, e.env, e.database, e.host, e.port, e.password
                    ));
                }
                output
                    .deliver(&text)
                    .context("writing the passwords to the terminal")?;
                *delivered = credentials.len();
                Ok(())
            }
        }
    }
}

/// Once the run is over: keeps only the `live` passwords, those whose role changes committed
/// (or may have), and says where they are. A file is rewritten atomically with the live ones,
/// or removed when none is live; on a terminal, the reader is told which ones to discard.
/// `run`: the run that delivered them, when it is known.
fn settle<'a>(
    delivery: Delivery<'_>,
    run: Option<&RunId>,
    live: impl IntoIterator<Item = &'a GeneratedCredential>,
) -> Result<String> {
    let live: Vec<&GeneratedCredential> = live.into_iter().collect();
    match delivery {
        Delivery::Nowhere
        | Delivery::File { delivered: 0, .. }
        | Delivery::Terminal { delivered: 0, .. } => Ok(String::new()),
        Delivery::Command { command, delivered } => Ok(settle_command(&command, &delivered, &live)),
        Delivery::File { path, delivered } if live.len() == delivered => Ok(format!(
            "{delivered} generated password(s) written to {}\n",
            path.display()
        )),
        Delivery::File { path, delivered } if live.is_empty() => {
            std::fs::remove_file(&path)
                .and_then(|()| sync_directory(directory_of(&path)))
                .with_context(|| {
                    format!(
                        "none of the passwords in {} is live, but removing it failed",
                        path.display()
                    )
                })?;
            Ok(format!(
                "{} removed: none of its {delivered} password(s) is live (their role changes \
                 rolled back)\n",
                path.display()
            ))
        }
        Delivery::File { path, delivered } => {
            let Some(run) = run else {
                bail!("{} holds passwords of an unknown run", path.display());
            };
            write_new(&path, &entries(run, &live), true)?;
            Ok(format!(
                "{} live generated password(s) in {}; the {} whose role changes rolled back were \
                 removed from it\n",
                live.len(),
                path.display(),
                delivered - live.len()
            ))
        }
        Delivery::Terminal { delivered, .. } if live.len() == delivered => Ok(String::new()),
        Delivery::Terminal { .. } => {
            let mut text =
                String::from("Only these generated passwords shown above are live; discard the others (their role changes rolled back):\n");
            for c in &live {
                text.push_str(&format!("  {} ({})\n", c.role, c.cluster));
            }
            if live.is_empty() {
                text = String::from(
                    "None of the generated passwords shown above is live (their role changes \
                     rolled back); discard them.\n",
                );
            }
            Ok(text)
        }
    }
}

/// What to say of the passwords `deliver_command` received: how many are live, and which are
/// not (their role changes rolled back), for the reader to withdraw from wherever it stored them.
fn settle_command(
    command: &CommandLine,
    delivered: &[(String, String)],
    live: &[&GeneratedCredential],
) -> String {
    if delivered.is_empty() {
        return String::new();
    }
    let program = command.program();
    let is_live = |(role, cluster): &&(String, String)| {
        live.iter()
            .any(|c| c.role.as_str() == role && c.cluster.to_string() == *cluster)
    };
    let dead: Vec<String> = delivered
        .iter()
        .filter(|d| !is_live(d))
        .map(|(role, cluster)| format!("{role} on {cluster}"))
        .collect();
    let mut text = format!(
        "{} generated password(s) delivered to deliver_command {program}\n",
        delivered.len() - dead.len()
    );
    if !dead.is_empty() {
        text.push_str(&format!(
            "deliver_command {program} also received the passwords of {}, which are not live \
             (their role changes did not commit): discard them\n",
            dead.join(", ")
        ));
    }
    text
}

/// `settle` for the outcome of `apply::run` that used `delivery`: the report and what to say
/// about the passwords, or the run's error with it.
pub fn settle_run(
    delivery: Delivery<'_>,
    prepared: &Prepared<'_>,
    result: Result<ApplyReport, ApplyError>,
) -> Result<(ApplyReport, String)> {
    match result {
        Ok(report) => {
            let said = settle(
                delivery,
                Some(&report.run),
                report.live_credentials(prepared),
            )?;
            Ok((report, said))
        }
        Err(ApplyError::AuditAfterCommit {
            error,
            report,
            destination,
        }) => {
            let said = settle(
                delivery,
                Some(&report.run),
                report.live_credentials(prepared),
            )?;
            let error = ApplyError::AuditAfterCommit {
                error,
                report,
                destination,
            };
            bail!("{error}\n{}", said.trim_end())
        }
        Err(error @ ApplyError::Audit(_)) => {
            // Nothing committed: whatever was delivered is not live.
            let said = settle(delivery, None, std::iter::empty())?;
            bail!("{error}\n{}", said.trim_end())
        }
        Err(error) => Err(error.into()),
    }
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Writes `entries` to a new 0600 file at `path`, synced, and syncs its directory so that the
/// file's name survives a crash too. `replace`: through a temporary file renamed over `path`,
/// so a reader sees the old contents or the new, never a part.
fn write_new(path: &Path, entries: &[Entry<'_>], replace: bool) -> Result<()> {
    let written = if replace {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        directory_of(path).join(format!(".{name}.{}.tmp", std::process::id()))
    } else {
        path.to_path_buf()
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file: File = options.open(&written).with_context(|| {
        format!(
            "cannot create credentials file {} (it is never overwritten)",
            written.display()
        )
    })?;
    let json = serde_json::to_string_pretty(entries)?;
    let result = file
        .write_all(json.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            if replace {
                std::fs::rename(&written, path)
            } else {
                Ok(())
            }
        })
        .and_then(|()| sync_directory(directory_of(path)));
    if let Err(error) = result {
        // A partial file delivers nothing; it would only block the next run's path.
        let _ = std::fs::remove_file(&written);
        return Err(error).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

fn sync_directory(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
