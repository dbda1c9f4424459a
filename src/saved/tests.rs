#![allow(clippy::unwrap_used)]

use super::*;
use crate::plan::PlanError;
use crate::render::{fixture, json, text};
use std::path::Path;

fn config() -> ConfigDigest {
    ConfigDigest {
        digest: "sha256:config".into(),
        files: [("roles.toml".to_string(), "sha256:roles".to_string())].into(),
    }
}

fn fingerprints(plan: &Plan, print: &str) -> BTreeMap<ClusterKey, String> {
    plan.clusters
        .iter()
        .filter(|c| c.errors.is_empty())
        .map(|c| (c.cluster.clone(), print.to_string()))
        .collect()
}

fn runnable_plan() -> Plan {
    let mut plan = fixture::plan();
    plan.clusters.retain(|c| c.errors.is_empty());
    plan
}

fn saved(plan: Plan) -> SavedPlan {
    let prints = fingerprints(&plan, "sha256:state");
    SavedPlan::new(
        plan,
        &["dev/*".to_string()],
        config(),
        &prints,
        "2026-12-03T14:00:00Z".into(),
    )
}

#[test]
fn every_change_reads_back_as_the_plan_that_was_saved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    saved(fixture::plan()).write(&path).unwrap();
    let back = SavedPlan::read(&path).unwrap();
    let original = fixture::plan();
    // Errors keep only their code and message, which is all the JSON plan prints of them.
    assert_eq!(json::plan(&back.plan), json::plan(&original));
    assert_eq!(text::plan(&back.plan, false), text::plan(&original, false));
    let runnable = |plan: &Plan| -> Vec<_> {
        plan.clusters
            .iter()
            .filter(|c| c.errors.is_empty())
            .cloned()
            .collect()
    };
    assert_eq!(runnable(&back.plan), runnable(&original));
    assert_eq!(back.selection, ["dev/*"]);
    assert_eq!(back.config, config());
}

#[test]
fn the_file_holds_the_plan_as_plan_json_prints_it_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    saved(fixture::plan()).write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(fixture::VERIFIER));
    let document: serde_json::Value = serde_json::from_str(&text).unwrap();
    let printed: serde_json::Value = serde_json::from_str(&json::plan(&fixture::plan())).unwrap();
    assert_eq!(document["plan"], printed);
}

#[test]
fn writing_replaces_an_existing_file_and_leaves_no_temporary_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    std::fs::write(&path, "old").unwrap();
    saved(runnable_plan()).write(&path).unwrap();
    assert!(SavedPlan::read(&path).is_ok());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["plan.json"]);
}

#[test]
fn a_file_of_another_format_or_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let mut plan = saved(runnable_plan());
    plan.pgroster_version = "0.0.1".into();
    plan.write(&path).unwrap();
    let error = SavedPlan::read(&path).unwrap_err();
    assert!(matches!(error, SavedError::OtherVersion { .. }), "{error}");
    std::fs::write(
        &path,
        r#"{"saved_format_version": 99, "pgroster_version": "x"}"#,
    )
    .unwrap();
    let error = SavedPlan::read(&path).unwrap_err();
    assert!(
        matches!(error, SavedError::FormatVersion { found: 99, .. }),
        "{error}"
    );
    std::fs::write(&path, "{}").unwrap();
    assert!(matches!(
        SavedPlan::read(&path).unwrap_err(),
        SavedError::Unreadable { .. }
    ));
    assert!(matches!(
        SavedPlan::read(Path::new("/nonexistent/plan.json")).unwrap_err(),
        SavedError::Io { .. }
    ));
}

#[test]
fn a_plan_with_errors_is_refused_naming_the_cluster() {
    let error = saved(fixture::plan()).check_runnable().unwrap_err();
    let failed = fixture::plan()
        .clusters
        .into_iter()
        .find(|c| !c.errors.is_empty())
        .unwrap();
    assert!(
        error.to_string().contains(&failed.cluster.to_string()),
        "{error}"
    );
}

#[test]
fn a_config_that_changed_is_refused_naming_the_file() {
    let plan = saved(runnable_plan());
    let mut now = config();
    now.digest = "sha256:other".into();
    now.files
        .insert("roles.toml".into(), "sha256:edited".into());
    let error = plan.check_config(&now).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the config changed since the plan was made (roles.toml changed); plan again"
    );
    assert!(plan.check_config(&config()).is_ok());
}

#[test]
fn a_cluster_that_reads_differently_is_named_and_the_others_pass() {
    let plan = saved(runnable_plan());
    let fresh = runnable_plan();
    let mut prints = fingerprints(&fresh, "sha256:state");
    let config = config();
    let check = |prints: &BTreeMap<ClusterKey, String>| {
        plan.check(&ReadNow {
            config: &config,
            plan: &fresh,
            fingerprints: prints,
        })
    };
    assert!(check(&prints).is_ok());
    let changed = fresh.clusters[0].cluster.clone();
    prints.insert(changed.clone(), "sha256:changed".into());
    let error = check(&prints).unwrap_err();
    let SavedError::Stale { clusters } = &error else {
        panic!("{error}");
    };
    assert_eq!(clusters.len(), 1, "{error}");
    assert_eq!(clusters[0].0, changed);
    assert!(
        error
            .to_string()
            .contains(&format!("cluster {changed} changed")),
        "{error}"
    );
    prints.remove(&changed);
    let error = check(&prints).unwrap_err();
    assert!(error.to_string().contains("could not be read"), "{error}");
}

#[test]
fn a_plan_made_now_that_differs_is_refused_even_when_the_fingerprints_match() {
    let plan = saved(runnable_plan());
    let mut fresh = runnable_plan();
    fresh.clusters[0].roles.pop();
    let prints = fingerprints(&fresh, "sha256:state");
    let error = plan
        .check(&ReadNow {
            config: &config(),
            plan: &fresh,
            fingerprints: &prints,
        })
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("has other changes than the plan made now"),
        "{error}"
    );
}

#[test]
fn a_plan_made_now_whose_notes_differ_is_the_same_plan() {
    let plan = saved(runnable_plan());
    let mut fresh = runnable_plan();
    fresh.clusters[0].notes.push("a note made now".into());
    let prints = fingerprints(&fresh, "sha256:state");
    let config = config();
    let now = ReadNow {
        config: &config,
        plan: &fresh,
        fingerprints: &prints,
    };
    assert!(plan.check(&now).is_ok());
    // Anything else differing is another plan: here an error found only now.
    fresh.clusters[0].errors.push(PlanError::Saved {
        code: "x".into(),
        message: "found now".into(),
    });
    let now = ReadNow {
        config: &config,
        plan: &fresh,
        fingerprints: &prints,
    };
    assert!(plan.check(&now).is_err());
}
