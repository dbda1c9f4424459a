//! `[[notify]]` entries and `deliver_command` -> `Notifier`s and a `CommandLine`, checked:
//! exactly one of `webhook` and `command`, a URL with a host, a program, a timeout pgroster can
//! read. Errors never quote a webhook URL's path or query (its token).

use super::super::error::ConfigError;
use super::super::raw::RawNotify;
use super::super::{Config, Origin};
use crate::notify::{
    Channel, CommandLine, EventKind, Notifier, WebhookUrl, COMMAND_TIMEOUT, WEBHOOK_TIMEOUT,
};
use std::time::Duration;

/// What is wrong with a `command` or `timeout`; the caller locates it (`notify:` or
/// `deliver_command:` at the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum NotifyFieldError {
    #[error("the command is empty: give the program, then its arguments")]
    EmptyCommand,
    #[error("the program name is empty")]
    EmptyProgram,
    #[error("timeout `{text}` is not a duration (`5s`, `1m`): {reason}")]
    NotADuration { text: String, reason: String },
    #[error("timeout `{text}` {reason}")]
    BadDuration { text: String, reason: String },
    #[error(
        "timeout `{0}` must be more than zero and at most an hour (a notification never waits \
         for ever)"
    )]
    TimeoutOutOfRange(String),
}

/// Every `[[notify]]` entry, in declaration order.
pub(super) fn notifiers(config: &Config, errors: &mut Vec<ConfigError>) -> Vec<Notifier> {
    config
        .notify
        .iter()
        .filter_map(|(raw, origin)| notifier(config, raw, origin, errors))
        .collect()
}

fn notifier(
    config: &Config,
    raw: &RawNotify,
    origin: &Origin,
    errors: &mut Vec<ConfigError>,
) -> Option<Notifier> {
    let mut error = |key: Option<&str>, message: String| {
        errors.push(ConfigError {
            location: config.location(origin, key),
            message: format!("notify: {message}"),
        });
    };
    let channel = match (&raw.webhook, &raw.command) {
        (Some(_), Some(_)) => {
            error(
                Some("command"),
                "give `webhook` or `command`, not both (make two entries)".into(),
            );
            return None;
        }
        (None, None) => {
            error(None, "give a `webhook` URL or a `command`".into());
            return None;
        }
        (Some(url), None) => match WebhookUrl::new(url) {
            Ok(url) => Channel::Webhook {
                url,
                format: raw.format.unwrap_or_default(),
            },
            Err(problem) => {
                error(Some("webhook"), problem.to_string());
                return None;
            }
        },
        (None, Some(argv)) => {
            if raw.format.is_some() {
                error(Some("format"), "`format` is for a webhook".into());
            }
            match command(config, argv) {
                Ok(command) => Channel::Command(command),
                Err(problem) => {
                    error(Some("command"), problem.to_string());
                    return None;
                }
            }
        }
    };
    let events = match &raw.events {
        None => EventKind::ALL.into_iter().collect(),
        Some(events) if events.is_empty() => {
            error(
                Some("events"),
                "`events` is empty: name some, or leave it out for all".into(),
            );
            return None;
        }
        Some(events) => events.iter().copied().collect(),
    };
    let default = match channel {
        Channel::Webhook { .. } => WEBHOOK_TIMEOUT,
        Channel::Command { .. } => COMMAND_TIMEOUT,
    };
    let timeout = match raw.timeout.as_deref().map(duration) {
        None => default,
        Some(Ok(timeout)) => timeout,
        Some(Err(problem)) => {
            error(Some("timeout"), problem.to_string());
            return None;
        }
    };
    Some(Notifier {
        channel,
        events,
        timeout,
    })
}

/// `deliver_command`, when set.
pub(super) fn deliver_command(
    config: &Config,
    errors: &mut Vec<ConfigError>,
) -> Option<CommandLine> {
    let argv = config.settings.deliver_command.as_ref()?;
    command(config, argv)
        .map_err(|problem| {
            errors.push(ConfigError {
                location: config.settings_location("deliver_command"),
                message: format!("deliver_command: {problem}"),
            });
        })
        .ok()
}

/// A program and its arguments, run without a shell and without the admin password's
/// variables: a command in the config is code the config's authors run with pgroster's
/// environment, and the admin password is not theirs to read.
fn command(config: &Config, argv: &[String]) -> Result<CommandLine, NotifyFieldError> {
    match argv.first() {
        None => Err(NotifyFieldError::EmptyCommand),
        Some(program) if program.trim().is_empty() => Err(NotifyFieldError::EmptyProgram),
        Some(_) => {
            let named = config.settings.admin_password_env.iter().cloned();
            Ok(CommandLine {
                argv: argv.to_vec(),
                hidden_env: named.chain(["PGPASSWORD".to_string()]).collect(),
            })
        }
    }
}

/// `5s`, `1m30s`, `2 minutes`: a positive span of at most an hour.
fn duration(text: &str) -> Result<Duration, NotifyFieldError> {
    let invalid = |reason: String| NotifyFieldError::BadDuration {
        text: text.to_string(),
        reason,
    };
    let span = text
        .parse::<jiff::Span>()
        .map_err(|e| NotifyFieldError::NotADuration {
            text: text.to_string(),
            reason: e.to_string(),
        })?;
    let signed = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|e| invalid(e.to_string()))?;
    let duration = Duration::try_from(signed).map_err(|e| invalid(e.to_string()))?;
    if duration.is_zero() || duration > Duration::from_secs(3600) {
        return Err(NotifyFieldError::TimeoutOutOfRange(text.to_string()));
    }
    Ok(duration)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_spans_and_stay_bounded() {
        assert_eq!(duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(duration("0s").is_err());
        assert!(duration("2h").is_err());
        assert!(duration("soon").is_err());
    }
}
