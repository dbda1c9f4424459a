//! What CI uses (issue 12): `plan --format markdown` and `--compact`, the plan and the apply's
//! outcome appended to `GITHUB_STEP_SUMMARY` (a write failure only warns), shell completions and
//! the man page. No password reaches the summary.

use crate::harness::{
    assert_stderr_has, assert_stdout_has, dump, password_of, read_credentials, single_cluster,
    AdminKind, Scenario,
};
use std::fs;

const ROLES: &str = "roles:
  - name: ci_reader
    login: true
    targets: [\"dev/*\"]
  - name: \"odd`|<b>@name\"
    targets: [\"dev/*\"]
";

#[test]
fn plan_and_apply_append_their_markdown_to_the_github_step_summary() {
    let (_cluster, mut scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    scenario.file("roles.yaml", ROLES);
    // GitHub's file already holds earlier steps' summaries: appended to, never replaced.
    scenario.file("summary.md", "earlier step\n");
    let summary = scenario.path().join("summary.md");
    scenario.env("GITHUB_STEP_SUMMARY", summary.to_str().unwrap());

    let out = scenario.run(&["plan", "--format", "markdown", "--detailed-exitcode"]);
    out.expect_code(2);
    assert!(
        out.stdout.starts_with("### pgroster plan\n"),
        "{}",
        dump(&out)
    );
    assert_stdout_has(&out, "**Plan: 2 to add, 0 to change, 0 to destroy.**");
    assert_stdout_has(&out, "+ role \"ci_reader\"");
    assert_stdout_has(&out, "+     password         = (sensitive, generated)");
    // The name is a literal line in the diff block, and only entities outside it.
    assert_stdout_has(&out, "+ role \"odd`|<b>@name\"");
    assert!(!out.stdout.contains("<b>@name</b>"), "{}", dump(&out));
    let written = fs::read_to_string(&summary).unwrap();
    assert_eq!(written, format!("earlier step\n{}", out.stdout));

    // The text plan and its summary agree; --compact counts instead of listing.
    let compact = scenario.run(&["plan", "--compact"]);
    compact.expect_success();
    assert_stdout_has(
        &compact,
        "+ role \"ci_reader\" (targets dev/app_dev): 1 attribute, 1 password, 1 comment",
    );
    assert!(
        !compact.stdout.contains("login            = true"),
        "{}",
        dump(&compact)
    );
    let written = fs::read_to_string(&summary).unwrap();
    assert_eq!(
        written.matches("### pgroster plan\n").count(),
        2,
        "{written}"
    );
    assert!(
        written.contains(
            "\n+ role \"ci_reader\" (targets dev/app_dev): 1 attribute, 1 password, 1 comment\n"
        ),
        "{written}"
    );

    let applied = scenario.apply(Some("creds.json"));
    applied.expect_success();
    let written = fs::read_to_string(&summary).unwrap();
    assert!(
        written.contains("\n**Apply complete! Roles: 2 added, 0 changed, 0 destroyed. Audit run "),
        "{written}"
    );
    let password = password_of(
        &read_credentials(&scenario.path().join("creds.json")),
        "ci_reader",
    );
    assert!(!written.contains(&password), "{written}");
    scenario.assert_converged();
}

#[test]
fn a_step_summary_that_cannot_be_written_warns_and_the_plan_goes_on() {
    let (_cluster, mut scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    scenario.file("roles.yaml", ROLES);
    // A directory cannot be appended to.
    let dir = scenario.path().to_str().unwrap().to_string();
    scenario.env("GITHUB_STEP_SUMMARY", &dir);
    let out = scenario.run(&["plan", "--detailed-exitcode"]);
    out.expect_code(2);
    assert_stdout_has(&out, "Plan: 2 to add, 0 to change, 0 to destroy.");
    assert_stderr_has(
        &out,
        "Warning: could not append the plan to GITHUB_STEP_SUMMARY",
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_argument_definitions() {
    let scenario = Scenario::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = scenario.run(&["completions", shell]);
        out.expect_success();
        for word in ["apply", "plan", "show-plan", "detailed-exitcode"] {
            assert_stdout_has(&out, word);
        }
    }
    let out = scenario.run(&["completions", "tcsh"]);
    out.expect_code(2);
    let man = scenario.run(&["man"]);
    man.expect_success();
    assert_stdout_has(&man, ".TH pgroster 1");
    assert_stdout_has(&man, "apply");
}

/// `init` writes a config that validates, keeps the audit log and credentials out of git, adds
/// the GitHub workflow, and never overwrites: a second run changes nothing and names the files.
#[test]
fn init_writes_a_starter_that_validates_and_never_overwrites() {
    let scenario = Scenario::new();
    let dir = scenario.path().to_path_buf();
    let dir_arg = dir.to_str().unwrap();
    scenario.run(&["init", dir_arg]).expect_success();
    let gitignore = fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(gitignore.contains("pgroster-audit.db*"), "{gitignore}");
    assert!(dir.join(".github/workflows/pgroster.yml").is_file());
    let valid = scenario.run(&["validate"]);
    valid.expect_success();
    assert_stdout_has(&valid, "Read 2 file(s): registry.toml, roles.yaml");
    fs::write(dir.join("roles.yaml"), "roles: []\n").unwrap();
    let again = scenario.run(&["init", dir_arg]);
    again.expect_code(1);
    assert_stderr_has(&again, "not overwriting");
    assert_stderr_has(&again, "nothing was written");
    assert_eq!(
        fs::read_to_string(dir.join("roles.yaml")).unwrap(),
        "roles: []\n"
    );
}

/// The progress bar is for terminals: piped, as in CI, or with `--quiet`, stderr holds nothing
/// but what went wrong.
#[test]
fn no_progress_output_when_piped_or_quiet() {
    let (_cluster, scenario) = single_cluster(&[("dev", "app_dev")], AdminKind::Superuser);
    scenario.file("roles.yaml", ROLES);
    for args in [&["plan"][..], &["--quiet", "plan"][..]] {
        let out = scenario.run(args);
        out.expect_success();
        assert_eq!(out.stderr, "", "{}", dump(&out));
    }
    let creds = scenario.path().join("creds.json");
    let out = scenario.run(&[
        "--quiet",
        "apply",
        "--auto-approve",
        "--credentials-out",
        creds.to_str().unwrap(),
    ]);
    out.expect_success();
    assert!(!out.stderr.contains("changes applied"), "{}", dump(&out));
}
