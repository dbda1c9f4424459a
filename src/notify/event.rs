//! Events built from what a run produced, without I/O: the JSON a notifier receives, and
//! Slack's message shape of the same facts. Nothing here can hold a secret: the builders take
//! role names, clusters and counts, never a credential's password.

use super::EventKind;
use crate::apply::{ApplyReport, GeneratedCredential};
use crate::plan::Plan;
use serde::Serialize;
use serde_json::{json, Value};

/// What happened, as a notifier receives it: `{"event": "apply_finished", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    ApplyFinished {
        run: String,
        actor: String,
        command: String,
        /// No cluster failed and none was left out for plan errors.
        succeeded: bool,
        totals: Counts,
        clusters: Vec<ClusterApplied>,
        /// Clusters with plan errors, which were not run.
        not_run: Vec<String>,
    },
    Drift {
        totals: Counts,
        /// Every planned cluster, drifted or not, in registry order.
        clusters: Vec<ClusterDrift>,
    },
    CredentialsDelivered {
        run: String,
        credentials: Vec<DeliveredCredential>,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterApplied {
    pub cluster: String,
    #[serde(flatten)]
    pub counts: Counts,
    /// Whether any of its transactions committed.
    pub committed: bool,
    /// Each rolled-back unit, as the apply reported it (statements redacted).
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterDrift {
    pub cluster: String,
    #[serde(flatten)]
    pub counts: Counts,
    /// Roles made by hand (listed whatever `unmanaged_roles` says; they count as drift only
    /// with `unmanaged_roles = "drift"`).
    pub unmanaged: usize,
    /// Why the cluster could not be planned (unreachable, ...).
    pub errors: Vec<String>,
}

/// A generated password that reached its destination: who and where, never the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveredCredential {
    pub role: String,
    pub cluster: String,
    pub targets: Vec<String>,
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::ApplyFinished { .. } => EventKind::ApplyFinished,
            Event::Drift { .. } => EventKind::Drift,
            Event::CredentialsDelivered { .. } => EventKind::CredentialsDelivered,
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// One line for a chat message's headline.
    pub(crate) fn headline(&self) -> String {
        match self {
            Event::ApplyFinished {
                run,
                actor,
                succeeded,
                totals,
                clusters,
                not_run,
                ..
            } => format!(
                "pgroster apply {} by {actor} (run {run}): {} added, {} changed, {} destroyed \
                 on {} cluster(s){}",
                if *succeeded {
                    "complete"
                } else {
                    "finished with errors"
                },
                totals.added,
                totals.changed,
                totals.destroyed,
                clusters.len(),
                match failed_or_not_run(clusters, not_run) {
                    0 => String::new(),
                    n => format!("; {n} failed or not run"),
                }
            ),
            Event::Drift { totals, clusters } => format!(
                "pgroster drift: {} to add, {} to change, {} to destroy on {} of {} cluster(s)",
                totals.added,
                totals.changed,
                totals.destroyed,
                clusters.iter().filter(|c| c.drifted()).count(),
                clusters.len()
            ),
            Event::CredentialsDelivered { run, credentials } => format!(
                "pgroster delivered {} generated password(s) (run {run})",
                credentials.len()
            ),
        }
    }

    /// One line per cluster or credential, for a chat message's body.
    pub(crate) fn details(&self) -> Vec<String> {
        match self {
            Event::ApplyFinished {
                clusters, not_run, ..
            } => {
                let mut lines: Vec<String> = clusters
                    .iter()
                    .map(|c| {
                        let mut line = format!(
                            "{}: {} added, {} changed, {} destroyed",
                            c.cluster, c.counts.added, c.counts.changed, c.counts.destroyed
                        );
                        for failure in &c.failures {
                            line.push_str(&format!("\n  failed: {failure}"));
                        }
                        line
                    })
                    .collect();
                lines.extend(
                    not_run
                        .iter()
                        .map(|c| format!("{c}: not run (plan errors)")),
                );
                lines
            }
            Event::Drift { clusters, .. } => clusters
                .iter()
                .filter(|c| c.drifted())
                .map(|c| {
                    let mut line = format!(
                        "{}: {} to add, {} to change, {} to destroy",
                        c.cluster, c.counts.added, c.counts.changed, c.counts.destroyed
                    );
                    if c.unmanaged > 0 {
                        line.push_str(&format!(", {} unmanaged", c.unmanaged));
                    }
                    for error in &c.errors {
                        line.push_str(&format!("\n  error: {error}"));
                    }
                    line
                })
                .collect(),
            Event::CredentialsDelivered { credentials, .. } => credentials
                .iter()
                .map(|c| format!("{} on {} ({})", c.role, c.cluster, c.targets.join(", ")))
                .collect(),
        }
    }

    /// Slack's incoming-webhook payload: the headline as `text` (what notifications show) and
    /// as the first block, the details in a second block.
    pub(crate) fn slack_payload(&self) -> Value {
        let headline = self.headline();
        let mut blocks = vec![json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": escape_mrkdwn(&headline) },
        })];
        let details = self.details();
        if !details.is_empty() {
            let body = format!("```\n{}\n```", details.join("\n"));
            blocks.push(json!({
                "type": "section",
                "text": { "type": "mrkdwn", "text": truncate(&body, SLACK_SECTION_LIMIT) },
            }));
        }
        json!({ "text": headline, "blocks": blocks })
    }
}

impl ClusterDrift {
    fn drifted(&self) -> bool {
        self.counts != Counts::default() || self.unmanaged > 0 || !self.errors.is_empty()
    }
}

fn failed_or_not_run(clusters: &[ClusterApplied], not_run: &[String]) -> usize {
    not_run.len() + clusters.iter().filter(|c| !c.failures.is_empty()).count()
}

/// Slack refuses a section whose text is longer than this.
const SLACK_SECTION_LIMIT: usize = 3000;

fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let cut: String = text.chars().take(limit - 20).collect();
    format!("{cut}\n…\n(truncated)```")
}

/// Slack's mrkdwn gives `&`, `<` and `>` meaning (links, mentions): role names must not.
fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `apply_finished` from the report of an apply run by `actor` as `command`.
pub fn apply_finished(report: &ApplyReport, actor: &str, command: &str) -> Event {
    let clusters: Vec<ClusterApplied> = report
        .clusters
        .iter()
        .map(|c| ClusterApplied {
            cluster: c.cluster.to_string(),
            counts: Counts {
                added: c.added,
                changed: c.changed,
                destroyed: c.destroyed,
            },
            committed: c.committed,
            failures: c.failures.iter().map(ToString::to_string).collect(),
        })
        .collect();
    let (added, changed, destroyed) = report.role_counts();
    Event::ApplyFinished {
        run: report.run.to_string(),
        actor: actor.to_string(),
        command: command.to_string(),
        succeeded: report.failed_clusters() == 0,
        totals: Counts {
            added,
            changed,
            destroyed,
        },
        clusters,
        not_run: report.not_run.iter().map(ToString::to_string).collect(),
    }
}

/// `drift` from a plan: what each cluster would change, counted as the plan's summary counts
/// (PUBLIC counts as changed once per database where it loses privileges).
pub fn drift(plan: &Plan) -> Event {
    let clusters: Vec<ClusterDrift> = plan
        .clusters
        .iter()
        .map(|c| {
            let summary = c.summary();
            let counts = Counts {
                added: summary.add,
                changed: summary.change,
                destroyed: summary.destroy,
            };
            ClusterDrift {
                cluster: c.cluster.to_string(),
                counts,
                unmanaged: c.unmanaged.len(),
                errors: c.errors.iter().map(ToString::to_string).collect(),
            }
        })
        .collect();
    let totals = clusters.iter().fold(Counts::default(), |t, c| Counts {
        added: t.added + c.counts.added,
        changed: t.changed + c.counts.changed,
        destroyed: t.destroyed + c.counts.destroyed,
    });
    Event::Drift { totals, clusters }
}

/// `credentials_delivered` for the passwords of `run` that were delivered and are live: their
/// roles, clusters and targets only.
pub fn credentials_delivered<'a>(
    run: &str,
    credentials: impl IntoIterator<Item = &'a GeneratedCredential>,
) -> Event {
    Event::CredentialsDelivered {
        run: run.to_string(),
        credentials: credentials
            .into_iter()
            .map(|c| DeliveredCredential {
                role: c.role.to_string(),
                cluster: c.cluster.to_string(),
                targets: c.targets.iter().map(ToString::to_string).collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn drift_event() -> Event {
        Event::Drift {
            totals: Counts {
                added: 2,
                changed: 0,
                destroyed: 1,
            },
            clusters: vec![
                ClusterDrift {
                    cluster: "db1:5432".into(),
                    counts: Counts {
                        added: 2,
                        changed: 0,
                        destroyed: 1,
                    },
                    unmanaged: 0,
                    errors: vec![],
                },
                ClusterDrift {
                    cluster: "db2:5432".into(),
                    counts: Counts::default(),
                    unmanaged: 0,
                    errors: vec![],
                },
            ],
        }
    }

    #[test]
    fn events_are_tagged_json_with_flat_counts() {
        let json = drift_event().to_json();
        assert_eq!(json["event"], "drift");
        assert_eq!(json["clusters"][0]["added"], 2);
        assert_eq!(json["clusters"][0]["cluster"], "db1:5432");
        assert_eq!(json["totals"]["destroyed"], 1);
    }

    #[test]
    fn slack_payload_has_text_and_blocks_listing_only_drifted_clusters() {
        let payload = drift_event().slack_payload();
        assert_eq!(
            payload["text"],
            "pgroster drift: 2 to add, 0 to change, 1 to destroy on 1 of 2 cluster(s)"
        );
        let blocks = payload["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 2);
        let body = blocks[1]["text"]["text"].as_str().unwrap();
        assert!(body.contains("db1:5432: 2 to add"), "{body}");
        assert!(!body.contains("db2:5432"), "{body}");
    }

    #[test]
    fn slack_sections_stay_within_slacks_limit() {
        let long = "x".repeat(10_000);
        let cut = truncate(&long, SLACK_SECTION_LIMIT);
        assert!(cut.chars().count() <= SLACK_SECTION_LIMIT);
        assert!(cut.ends_with("(truncated)```"));
        assert_eq!(escape_mrkdwn("<@here> & co"), "&lt;@here&gt; &amp; co");
    }
}
