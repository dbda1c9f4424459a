//! What a saved plan was made from, as `show-plan` prints it above the plan.

use crate::render::table::escape_controls;
use crate::saved::SavedPlan;
use std::fmt::Write;

/// When and from what the plan was made: the config digest and files, the target selection
/// and each cluster's state fingerprint. Every field is escaped: the file may have been edited.
pub fn saved_header(saved: &SavedPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Saved plan, made {} by pgroster {}",
        escape_controls(&saved.made_at),
        escape_controls(&saved.pgroster_version)
    );
    let files: Vec<&str> = saved.config.files.keys().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "Config: {} ({})",
        escape_controls(&saved.config.digest),
        escape_controls(&files.join(", "))
    );
    let selection = if saved.selection.is_empty() {
        "every active target".to_string()
    } else {
        saved.selection.join(", ")
    };
    let _ = writeln!(out, "Targets: {}", escape_controls(&selection));
    for cluster in &saved.clusters {
        let _ = writeln!(
            out,
            "Cluster {}: state {}",
            escape_controls(&cluster.cluster.to_string()),
            escape_controls(&cluster.fingerprint)
        );
    }
    out
}
