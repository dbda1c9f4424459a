//! Notifications: `[[notify]]` entries as a plain type (`Notifier`), the events they receive,
//! built from an apply report or a plan without I/O (`event`), and the small layer that sends
//! them to a webhook or a command (`send`), each bounded by its timeout.
//!
//! No event carries a password or a verifier: `credentials_delivered` names roles and clusters
//! only. A webhook URL may hold a token, so it is a `WebhookUrl`, whose Debug and Display show
//! its scheme and host alone.

pub mod event;
pub mod send;

pub use event::{apply_finished, credentials_delivered, drift, Event};
pub use send::{notify_all, run_command, CommandError, NotifyFailure, SendError};

use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

/// The events a notifier may receive; a `[[notify]]` without `events` gets them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// An apply ran: per cluster, roles added, changed and destroyed, and what failed.
    ApplyFinished,
    /// `plan --detailed-exitcode` found drift, or a cluster it could not plan.
    Drift,
    /// Generated passwords were delivered: role names and clusters, never a password.
    CredentialsDelivered,
}

impl EventKind {
    pub const ALL: [EventKind; 3] = [
        EventKind::ApplyFinished,
        EventKind::Drift,
        EventKind::CredentialsDelivered,
    ];
}

/// What a webhook receives: pgroster's own JSON, or Slack's message shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    #[default]
    Json,
    /// `{"text": ..., "blocks": [...]}`, for Slack's incoming webhooks.
    Slack,
}

/// A webhook URL. Its path and query often are the credential (Slack's, Teams'), so only the
/// scheme and host are ever shown.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// An `http://` or `https://` URL with a host, or why not (without the URL's secret part).
    pub fn new(url: &str) -> Result<WebhookUrl, WebhookUrlError> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or(WebhookUrlError::Scheme)?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || host.contains('@') || host.chars().any(char::is_whitespace) {
            return Err(WebhookUrlError::Host(WebhookUrl(url.to_string())));
        }
        Ok(WebhookUrl(url.to_string()))
    }

    /// The whole URL, to send the request to; never for display.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `https://host/…`: what is safe to show.
    fn redacted(&self) -> String {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit('@').next().unwrap_or_default();
        if rest.len() > host.len() {
            format!("{scheme}://{host}/(redacted)")
        } else {
            format!("{scheme}://{host}")
        }
    }
}

/// Why a `webhook` is not a URL pgroster posts to. The caller locates it in the config; the
/// URL is shown as its `Display` (scheme and host), never whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("a webhook URL starts with https:// or http://")]
    Scheme,
    #[error(
        "webhook URL {0} has no valid host (user:password@ is not accepted: put a token in the \
         path or query)"
    )]
    Host(WebhookUrl),
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", self.redacted())
    }
}

/// A program and its arguments, run without a shell, and the variables it must not inherit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub argv: Vec<String>,
    /// The admin password's variables (`admin_password_env`, `PGPASSWORD`): a command named in
    /// the config is not given the credentials pgroster connects with.
    pub hidden_env: Vec<String>,
}

impl CommandLine {
    /// The program, for messages.
    pub fn program(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }
}

/// Where a notifier sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// POST the event as JSON.
    Webhook {
        url: WebhookUrl,
        format: WebhookFormat,
    },
    /// Run the command (no shell) with the event as JSON on stdin.
    Command(CommandLine),
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Webhook { url, .. } => write!(f, "webhook {url}"),
            Channel::Command(command) => write!(f, "command {}", command.program()),
        }
    }
}

/// One `[[notify]]` entry, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifier {
    pub channel: Channel,
    pub events: BTreeSet<EventKind>,
    /// How long one notification may take before it is abandoned (a command is killed).
    pub timeout: Duration,
}

/// Defaults: a webhook is one request; a command may start an interpreter.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_shows_its_host_only() {
        let url = WebhookUrl::new("https://hooks.example.com/services/T0/B0/s3cr3t?token=x")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(url.to_string(), "https://hooks.example.com/(redacted)");
        assert!(!format!("{url:?}").contains("s3cr3t"));
        let bare = WebhookUrl::new("http://127.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bare.to_string(), "http://127.0.0.1:8080");
    }

    #[test]
    fn a_webhook_url_is_checked_without_echoing_its_secret() {
        let err = WebhookUrl::new("ftp://x/secret").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
        let err = WebhookUrl::new("https://user:pw@host/secret")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret") && !err.contains("pw"), "{err}");
        assert!(WebhookUrl::new("https:///path").is_err());
    }
}
