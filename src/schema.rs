//! JSON Schemas generated from the Rust types: the config files, the JSON plan and the saved
//! plan file.
//!
//! The checked-in copies under `schema/` are what editors (taplo, yaml-language-server) and
//! plan consumers use; a test fails when they are stale (`PGROSTER_BLESS=1 cargo test` rewrites).

use crate::config::raw::RawFile;
use crate::render::json::PlanDocument;
use crate::saved::SavedPlan;

pub fn config_schema() -> String {
    let schema = schemars::schema_for!(RawFile);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

pub fn plan_schema() -> String {
    let schema = schemars::schema_for!(PlanDocument<'static>);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

pub fn saved_plan_schema() -> String {
    let schema = schemars::schema_for!(SavedPlan);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;

    fn check(file: &str, generated: String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schema")
            .join(file);
        if std::env::var_os("PGROSTER_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "{} is stale; run `PGROSTER_BLESS=1 cargo test --lib schema` and commit it",
            path.display()
        );
    }

    #[test]
    fn config_schema_is_current() {
        check("config.schema.json", config_schema());
    }

    #[test]
    fn plan_schema_is_current() {
        check("plan.schema.json", plan_schema());
    }

    #[test]
    fn saved_plan_schema_is_current() {
        check("saved-plan.schema.json", saved_plan_schema());
    }
}
