//! Delivery of generated passwords: once, to a new 0600 file or to the terminal, never elsewhere.

use anyhow::{bail, Context as _, Result};
use pgroster::apply::GeneratedCredential;
use serde::Serialize;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub enum Delivery {
    File {
        path: PathBuf,
        file: File,
    },
    Terminal,
    /// Nothing to deliver.
    Nowhere,
}

/// Decides before anything changes where passwords will go, creating the file now so that a
/// clash fails the run while nothing has been touched.
pub fn prepare(count: usize, out: Option<&Path>, stdout_is_terminal: bool) -> Result<Delivery> {
    if count == 0 {
        return Ok(Delivery::Nowhere);
    }
    match out {
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let file = options.open(path).with_context(|| {
                format!(
                    "cannot create credentials file {} (it is never overwritten)",
                    path.display()
                )
            })?;
            Ok(Delivery::File {
                path: path.to_path_buf(),
                file,
            })
        }
        None if stdout_is_terminal => Ok(Delivery::Terminal),
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
}

pub fn deliver<'a>(
    delivery: Delivery,
    credentials: impl IntoIterator<Item = &'a GeneratedCredential>,
) -> Result<String> {
    let credentials: Vec<&GeneratedCredential> = credentials.into_iter().collect();
    let entries: Vec<Entry> = credentials
        .iter()
        .flat_map(|c| {
            c.targets.iter().map(move |t| Entry {
                role: c.role.as_str(),
                env: &t.env,
                database: &t.database,
                host: &c.cluster.host,
                port: c.cluster.port,
                password: c.password.expose(),
            })
        })
        .collect();
    match delivery {
        Delivery::Nowhere => Ok(String::new()),
        Delivery::File { path, mut file } => {
            let json = serde_json::to_string_pretty(&entries)?;
            file.write_all(json.as_bytes())
                .and_then(|()| file.write_all(b"\n"))
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(format!(
                "{} generated password(s) written to {}\n",
                credentials.len(),
                path.display()
            ))
        }
        Delivery::Terminal => {
            let mut text = String::from("\nGenerated passwords (shown once; store them now):\n");
            for e in &entries {
                text.push_str(&format!(
                    "  {} on {}/{} ({}:{}): {}\n",
                    e.role, e.env, e.database, e.host, e.port, e.password
                ));
            }
            Ok(text)
        }
    }
}
