//! The plan as JSON, documented by `schema/plan.schema.json`.

use crate::plan::Plan;
use schemars::JsonSchema;
use serde::Serialize;

/// Bumped when a field changes meaning or disappears; additions keep the version.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, JsonSchema)]
pub struct PlanDocument<'a> {
    pub format_version: u32,
    pub has_changes: bool,
    pub has_errors: bool,
    #[serde(flatten)]
    pub plan: &'a Plan,
}

impl<'a> PlanDocument<'a> {
    pub fn new(plan: &'a Plan) -> PlanDocument<'a> {
        PlanDocument {
            format_version: FORMAT_VERSION,
            has_changes: plan.has_changes(),
            has_errors: plan.has_errors(),
            plan,
        }
    }
}

pub fn plan(plan: &Plan) -> String {
    let document = PlanDocument::new(plan);
    serde_json::to_string_pretty(&document).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    #[test]
    fn plan_document() {
        let json = plan(&fixture::plan());
        assert!(!json.contains(fixture::VERIFIER));
        insta::assert_snapshot!("plan_document", json);
    }
}
