//! After plan and apply: the events for `[[notify]]`, sent, and any failure said on stderr. A
//! notification never changes the exit code: the run is over and stands as it ended.

use crate::cli::output::Output;
use pgroster::apply::{ApplyReport, Prepared};
use pgroster::notify::{self, Event, Notifier};
use pgroster::plan::Plan;

/// `plan --detailed-exitcode`: a `drift` event when the plan has changes to make (or
/// unmanaged roles that count) or a cluster could not be planned.
pub fn after_plan(notifiers: &[Notifier], plan: &Plan, output: &Output) {
    if plan.has_drift() || plan.has_errors() {
        send(notifiers, &[notify::drift(plan)], output);
    }
}

/// `apply_finished`, then `credentials_delivered` for the generated passwords now live (every
/// one of them was delivered before its transaction ran).
pub fn after_apply(
    notifiers: &[Notifier],
    report: &ApplyReport,
    prepared: &Prepared<'_>,
    actor: &str,
    command: &str,
    output: &Output,
) {
    let mut events = vec![notify::apply_finished(report, actor, command)];
    let live: Vec<_> = report.live_credentials(prepared).collect();
    if !live.is_empty() {
        events.push(notify::credentials_delivered(&report.run.to_string(), live));
    }
    send(notifiers, &events, output);
}

fn send(notifiers: &[Notifier], events: &[Event], output: &Output) {
    if notifiers.is_empty() {
        return;
    }
    for failure in notify::notify_all(notifiers, events) {
        output.error(&format!(
            "{failure} (the run is not affected by a failed notification)"
        ));
    }
}
