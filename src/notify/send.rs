//! Sending events: a webhook POST (ureq, TLS through rustls) or a command run without a shell
//! with the event on stdin. Each attempt is bounded by its notifier's timeout, and a failure is
//! returned to be reported, never raised: a notification must not fail or undo a run.

use super::event::Event;
use super::{Channel, CommandLine, EventKind, Notifier, WebhookFormat, WebhookUrl};
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A notification that did not get through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyFailure {
    /// `webhook https://host/(redacted)` or `command /path/to/cmd`.
    pub channel: String,
    pub event: EventKind,
    pub reason: SendError,
}

impl std::fmt::Display for NotifyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let event = match self.event {
            EventKind::ApplyFinished => "apply_finished",
            EventKind::Drift => "drift",
            EventKind::CredentialsDelivered => "credentials_delivered",
        };
        write!(
            f,
            "notification {event} to {} failed: {}",
            self.channel, self.reason
        )
    }
}

/// Why a command (a notifier or `deliver_command`) did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("cannot start {program}: {reason}")]
    Spawn { program: String, reason: String },
    #[error("{program} exited with {status}")]
    Exit { program: String, status: String },
    #[error("{program} did not finish within {}s and was killed", .after.as_secs_f32())]
    Timeout { program: String, after: Duration },
    #[error("waiting for {program}: {reason}")]
    Wait { program: String, reason: String },
}

/// Why one notification did not get through; `NotifyFailure` names the channel and the event.
/// Nothing here shows a webhook URL's path or query, which may be its token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("cannot encode the event as JSON: {0}")]
    Encode(String),
    #[error("the server answered HTTP {0}")]
    Status(ureq::http::StatusCode),
    #[error("no answer within {}s", .0.as_secs_f32())]
    Timeout(Duration),
    #[error("host not found")]
    HostNotFound,
    #[error("connection failed")]
    ConnectionFailed,
    /// The HTTP client's message, the URL in it shown as `WebhookUrl` shows it.
    #[error("{0}")]
    Http(String),
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// Sends every event to every notifier that wants it, one after the other, and returns what
/// failed. Each attempt takes at most its notifier's timeout.
pub fn notify_all(notifiers: &[Notifier], events: &[Event]) -> Vec<NotifyFailure> {
    let mut failures = Vec::new();
    for event in events {
        for notifier in notifiers
            .iter()
            .filter(|n| n.events.contains(&event.kind()))
        {
            if let Err(reason) = send(notifier, event) {
                failures.push(NotifyFailure {
                    channel: notifier.channel.to_string(),
                    event: event.kind(),
                    reason,
                });
            }
        }
    }
    failures
}

fn send(notifier: &Notifier, event: &Event) -> Result<(), SendError> {
    match &notifier.channel {
        Channel::Webhook { url, format } => {
            let body = match format {
                WebhookFormat::Json => event.to_json(),
                WebhookFormat::Slack => event.slack_payload(),
            };
            post(url, &body, notifier.timeout)
        }
        Channel::Command(command) => {
            let input = encode(&event.to_json())?;
            Ok(run_command(command, &input, notifier.timeout)?)
        }
    }
}

/// POSTs `body` as JSON; any status but 2xx is a failure. Errors never show the URL's path or
/// query, which may be the webhook's token.
fn post(url: &WebhookUrl, body: &serde_json::Value, timeout: Duration) -> Result<(), SendError> {
    let mut config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        // A redirect would send the event somewhere the config does not name.
        .max_redirects(0);
    if url.expose().starts_with("https://") {
        config = config.tls_config(tls_config());
    }
    let agent: ureq::Agent = config.build().into();
    let body = encode(body)?;
    match agent
        .post(url.expose())
        .header("Content-Type", "application/json")
        .send(&body[..])
    {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(SendError::Status(response.status())),
        Err(error) => Err(describe(&error, url, timeout)),
    }
}

/// The system's trust store, as for PostgreSQL connections; Mozilla's roots (compiled in) when
/// the system has none.
fn tls_config() -> ureq::tls::TlsConfig {
    let native = rustls_native_certs::load_native_certs().certs;
    let roots = if native.is_empty() {
        ureq::tls::RootCerts::WebPki
    } else {
        let certs = native
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        ureq::tls::RootCerts::Specific(Arc::new(certs))
    };
    ureq::tls::TlsConfig::builder().root_certs(roots).build()
}

fn describe(error: &ureq::Error, url: &WebhookUrl, timeout: Duration) -> SendError {
    match error {
        ureq::Error::Timeout(_) => SendError::Timeout(timeout),
        ureq::Error::HostNotFound => SendError::HostNotFound,
        ureq::Error::ConnectionFailed => SendError::ConnectionFailed,
        ureq::Error::Io(e) => SendError::Http(e.to_string()),
        // Other messages may quote the URL: keep only its shown part.
        other => SendError::Http(other.to_string().replace(url.expose(), &url.to_string())),
    }
}

fn encode(body: &serde_json::Value) -> Result<Vec<u8>, SendError> {
    serde_json::to_vec(body).map_err(|e| SendError::Encode(e.to_string()))
}

/// Runs `command` (no shell, without its hidden variables) with `input` on stdin, stdout
/// discarded and stderr passed through, and waits at most `timeout`, after which it is killed.
pub fn run_command(
    command: &CommandLine,
    input: &[u8],
    timeout: Duration,
) -> Result<(), CommandError> {
    let Some((program, args)) = command.argv.split_first() else {
        return Err(CommandError::Spawn {
            program: String::new(),
            reason: "empty command".into(),
        });
    };
    let mut process = Command::new(program);
    for name in &command.hidden_env {
        process.env_remove(name);
    }
    let mut child = process
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| CommandError::Spawn {
            program: program.clone(),
            reason: e.to_string(),
        })?;
    // Written from a thread so that a command that does not read cannot block us past the
    // timeout; killing it closes the pipe and ends the write.
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        })
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CommandError::Timeout {
                    program: program.clone(),
                    after: timeout,
                });
            }
            // std has no wait with a timeout: poll, finely enough not to slow a quick command.
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                let _ = child.kill();
                return Err(CommandError::Wait {
                    program: program.clone(),
                    reason: e.to_string(),
                });
            }
        }
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    if status.success() {
        Ok(())
    } else {
        Err(CommandError::Exit {
            program: program.clone(),
            status: status.to_string(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> CommandLine {
        CommandLine {
            argv: words.iter().map(|w| w.to_string()).collect(),
            hidden_env: Vec::new(),
        }
    }

    #[test]
    fn a_command_that_fails_or_hangs_is_an_error_and_is_bounded() {
        let err = run_command(&argv(&["false"]), b"{}", Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, CommandError::Exit { .. }), "{err}");
        let started = Instant::now();
        let err =
            run_command(&argv(&["sleep", "30"]), b"{}", Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, CommandError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
        let err =
            run_command(&argv(&["/nonexistent/cmd"]), b"", Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, CommandError::Spawn { .. }), "{err}");
        assert!(run_command(&argv(&["cat"]), b"{}", Duration::from_secs(5)).is_ok());
    }

    #[test]
    fn a_command_does_not_inherit_the_hidden_variables() {
        // Cargo sets CARGO_MANIFEST_DIR for the tests it runs: a variable known to be there.
        let mut check = argv(&["sh", "-c", "test -z \"$CARGO_MANIFEST_DIR\""]);
        check.hidden_env = vec!["CARGO_MANIFEST_DIR".into()];
        assert!(run_command(&check, b"", Duration::from_secs(5)).is_ok());
        let mut inherited = check.clone();
        inherited.hidden_env.clear();
        assert!(run_command(&inherited, b"", Duration::from_secs(5)).is_err());
    }

    #[test]
    fn a_refused_connection_is_reported_without_the_url_secret() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(1);
        drop(listener);
        let url = WebhookUrl::new(&format!("http://127.0.0.1:{port}/hook/s3cr3t"))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = post(&url, &serde_json::json!({}), Duration::from_secs(2))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}
