//! The plan as GitHub-flavoured Markdown for a pull-request comment or a job summary: a table
//! of clusters, then each cluster's changes in a collapsible `diff` block built from the text
//! plan's lines, errors and drift as alerts outside it. Kept under GitHub's comment limit by
//! shortening the largest sections, and saying so.

use super::compact;
use super::table::escape_controls;
use super::text::{
    change_lines, expiring_text, public_groups, role_heading, unmanaged_text, Detail,
};
use crate::model::policy::Mode;
use crate::plan::{ClusterPlan, Plan, PlanError};
use std::fmt::Write;

/// GitHub refuses a comment (and a job summary) longer than this many characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// What the rendering aims for: room is left for what a CI step puts around it (a sticky
/// comment's marker, a heading of its own).
const BUDGET: usize = COMMENT_LIMIT - 4_096;

/// A cluster section with more diff lines than this is written compact unless the whole plan
/// is short: a reviewer does not unfold a thousand lines.
const LONG_SECTION: usize = 200;

/// Items of one alert (unmanaged roles, notes, ...) kept once a section is shortened.
const SHORT_LIST: usize = 10;

pub fn plan(plan: &Plan, detail: Detail) -> String {
    plan_within(plan, detail, BUDGET)
}

/// How much of a cluster section is written, from most to least.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Full,
    Compact,
    /// Counts only, alerts cut to their first items.
    Counted,
}

fn plan_within(plan: &Plan, detail: Detail, budget: usize) -> String {
    let head = head(plan);
    let shown: Vec<&ClusterPlan> = plan.clusters.iter().filter(|c| has_section(c)).collect();
    let mut levels: Vec<Level> = shown
        .iter()
        .map(|cluster| {
            let long = diff_lines(cluster) > LONG_SECTION;
            if detail == Detail::Compact || long {
                Level::Compact
            } else {
                Level::Full
            }
        })
        .collect();
    let mut sections: Vec<String> = shown
        .iter()
        .zip(&levels)
        .map(|(cluster, level)| section(cluster, *level))
        .collect();
    // Room for the note that says what was shortened.
    let budget = budget.saturating_sub(400);
    let mut total = chars(&head) + sections.iter().map(|s| chars(s)).sum::<usize>();
    let mut shortened = 0;
    while total > budget {
        // The largest section that can still be shortened.
        let Some(i) = (0..sections.len())
            .filter(|i| levels[*i] != Level::Counted)
            .max_by_key(|i| (chars(&sections[*i]), std::cmp::Reverse(*i)))
        else {
            break;
        };
        levels[i] = if levels[i] == Level::Full {
            Level::Compact
        } else {
            Level::Counted
        };
        let shorter = section(shown[i], levels[i]);
        total = total - chars(&sections[i]) + chars(&shorter);
        sections[i] = shorter;
        shortened += 1;
    }
    // Still too long (thousands of clusters): the last sections go, counted in the note.
    let mut omitted = 0;
    while total > budget && !sections.is_empty() {
        if let Some(last) = sections.pop() {
            total -= chars(&last);
            omitted += 1;
        }
    }
    let mut out = head;
    if shortened > 0 || omitted > 0 {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> Shortened to stay under GitHub's {COMMENT_LIMIT}-character comment \
             limit: the largest cluster sections are summarised{}. Run `pgroster plan` for the \
             full plan.\n",
            if omitted > 0 {
                format!(" and the last {omitted} are left out")
            } else {
                String::new()
            }
        );
    }
    for section in sections {
        out.push_str(&section);
    }
    // A head alone over the limit (a registry of thousands of clusters): cut, and said.
    if chars(&out) > COMMENT_LIMIT {
        let cut: String = out.chars().take(COMMENT_LIMIT - 200).collect();
        out = format!(
            "{cut}\n\n> [!NOTE]\n> Cut at GitHub's {COMMENT_LIMIT}-character comment limit. Run \
             `pgroster plan` for the full plan.\n"
        );
    }
    out
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// The verdict, the table of clusters and what was skipped.
fn head(plan: &Plan) -> String {
    let mut out = String::from("### pgroster plan\n\n");
    let failed = plan
        .clusters
        .iter()
        .filter(|c| !c.errors.is_empty())
        .count();
    if plan.has_changes() {
        let s = &plan.summary;
        let _ = writeln!(
            out,
            "**Plan: {} to add, {} to change, {} to destroy.**\n",
            s.add, s.change, s.destroy
        );
    } else if failed == 0 {
        out.push_str("**No changes.** The roles match the configuration.\n\n");
    }
    if failed > 0 {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **{failed} cluster(s) could not be planned or have errors**; \
             nothing will be changed on them until the errors are fixed.\n"
        );
    }
    let unmanaged: usize = plan.clusters.iter().map(|c| c.unmanaged.len()).sum();
    if unmanaged > 0 {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **{unmanaged} role(s) not declared and not managed by pgroster** \
             (drift); see the clusters below.\n"
        );
    }
    if plan.mode == Mode::Additive {
        out.push_str("Mode: **additive**: nothing is revoked, dropped or reset.\n\n");
    }
    out.push_str(
        "| Cluster | Targets | Add | Change | Destroy | Status |\n\
         |---|---|--:|--:|--:|---|\n",
    );
    for cluster in &plan.clusters {
        let targets: Vec<String> = cluster.targets.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            code(&cluster.label()),
            code(&targets.join(", ")),
            counts_and_status(cluster)
        );
    }
    for target in &plan.inactive_targets {
        let _ = writeln!(
            out,
            "| {} | {} |  |  |  | skipped (inactive) |",
            code(&target.cluster),
            code(&target.target.to_string())
        );
    }
    out.push('\n');
    if !plan.skipped_roles.is_empty() {
        let skipped: Vec<String> = plan
            .skipped_roles
            .iter()
            .map(|s| code(&format!("\"{}\" on {}", s.role, s.target)))
            .collect();
        let _ = writeln!(out, "Skipped (target inactive): {}\n", skipped.join(", "));
    }
    out
}

/// `1 | 3 | 0 | changes`: the table's last four cells.
fn counts_and_status(cluster: &ClusterPlan) -> String {
    if !cluster.errors.is_empty() {
        let unreachable = cluster
            .errors
            .iter()
            .any(|e| matches!(e, PlanError::ClusterUnreadable { .. }));
        let status = if unreachable {
            "**unreachable**".to_string()
        } else {
            format!("**{} error(s)**", cluster.errors.len())
        };
        return format!(" |  |  | {status}");
    }
    let s = cluster.summary();
    let mut status = vec![if s.add + s.change + s.destroy > 0 {
        "changes".to_string()
    } else {
        "no changes".to_string()
    }];
    if !cluster.unmanaged.is_empty() {
        status.push(format!("**{} unmanaged**", cluster.unmanaged.len()));
    }
    if !cluster.expiring.is_empty() {
        status.push(format!("{} expiring", cluster.expiring.len()));
    }
    format!(
        "{} | {} | {} | {}",
        s.add,
        s.change,
        s.destroy,
        status.join(", ")
    )
}

fn has_section(cluster: &ClusterPlan) -> bool {
    !(cluster.roles.is_empty()
        && cluster.public.is_empty()
        && cluster.notes.is_empty()
        && cluster.unmanaged.is_empty()
        && cluster.expiring.is_empty()
        && cluster.errors.is_empty())
}

fn diff_lines(cluster: &ClusterPlan) -> usize {
    let role_lines: usize = cluster
        .roles
        .iter()
        .map(|r| {
            1 + r
                .changes
                .iter()
                .map(|c| change_lines(c).len())
                .sum::<usize>()
        })
        .sum();
    let public_lines: usize = cluster.public.iter().map(|c| change_lines(c).len()).sum();
    role_lines + public_groups(&cluster.public).len() + public_lines
}

/// One cluster: errors and drift as alerts, always visible; its changes folded in a `diff`
/// block.
fn section(cluster: &ClusterPlan, level: Level) -> String {
    let name = code(&cluster.label());
    let mut out = format!("#### {name}\n\n");
    let errors: Vec<String> = cluster.errors.iter().map(ToString::to_string).collect();
    alert(
        &mut out,
        "CAUTION",
        &format!("{name}: nothing will be changed on this cluster until the errors are fixed:"),
        &errors,
        level,
    );
    let unmanaged: Vec<String> = cluster.unmanaged.iter().map(unmanaged_text).collect();
    alert(
        &mut out,
        "WARNING",
        "Drift: roles on the cluster that no config declares:",
        &unmanaged,
        level,
    );
    let expiring: Vec<String> = cluster.expiring.iter().map(expiring_text).collect();
    alert(&mut out, "WARNING", "Expiry:", &expiring, level);
    alert(&mut out, "NOTE", "Notes:", &cluster.notes, level);
    if cluster.roles.is_empty() && cluster.public.is_empty() {
        return out;
    }
    let s = cluster.summary();
    let _ = writeln!(
        out,
        "<details><summary>{name}: {} to add, {} to change, {} to destroy{}</summary>\n",
        s.add,
        s.change,
        s.destroy,
        match level {
            Level::Full => "",
            Level::Compact => " (compact: changes counted per role)",
            Level::Counted => " (summarised)",
        }
    );
    if level == Level::Counted {
        let _ = writeln!(
            out,
            "{} role(s) and PUBLIC in {} database(s) change; left out to fit the comment \
             limit.\n",
            cluster.roles.len(),
            public_groups(&cluster.public).len()
        );
    } else {
        let lines = diff_body(cluster, level);
        let fence = fence_for(&lines);
        let _ = writeln!(out, "{fence}diff\n{lines}{fence}\n");
    }
    out.push_str("</details>\n\n");
    out
}

/// The text plan's lines with their sign first, where GitHub's `diff` highlighting looks for
/// it; `~` becomes `!`, which it colours as changed.
fn diff_body(cluster: &ClusterPlan, level: Level) -> String {
    let mut out = String::new();
    let mut line = |sign: &str, indent: &str, text: &str| {
        let sign = if sign == "~" { "!" } else { sign };
        let _ = writeln!(out, "{sign}{indent}{}", escape_controls(text));
    };
    for role in &cluster.roles {
        let (sign, heading) = role_heading(role);
        if level == Level::Compact {
            line(
                sign,
                " ",
                &format!("{heading}: {}", compact::role_counts(role)),
            );
            continue;
        }
        line(sign, " ", &heading);
        for change in &role.changes {
            for text in change_lines(change) {
                change_line(&mut line, &text);
            }
        }
    }
    for (heading, changes) in public_groups(&cluster.public) {
        if level == Level::Compact {
            line(
                "~",
                " ",
                &format!("{heading}: {}", compact::counts(&changes)),
            );
            continue;
        }
        line("~", " ", &heading);
        for change in changes {
            for text in change_lines(change) {
                change_line(&mut line, &text);
            }
        }
    }
    out
}

/// `+ login = true` as `+     login = true`; a cascade line (`    - USAGE ...`) keeps its
/// indentation after its sign.
fn change_line(line: &mut impl FnMut(&str, &str, &str), text: &str) {
    let trimmed = text.trim_start();
    let indent = text.len() - trimmed.len();
    let (sign, rest) = trimmed.split_at(trimmed.chars().next().map_or(0, char::len_utf8));
    let pad = " ".repeat(5 + indent);
    line(sign, &pad, rest.trim_start());
}

/// A fence longer than any run of backticks in the block, so no name can close it.
fn fence_for(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

/// `> [!KIND]` with a title and one item per line; cut to its first items once shortened.
fn alert(out: &mut String, kind: &str, title: &str, items: &[String], level: Level) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "> [!{kind}]\n> {title}");
    let keep = if level == Level::Counted {
        SHORT_LIST
    } else {
        items.len()
    };
    for item in items.iter().take(keep) {
        let _ = writeln!(out, "> - {}", code(item));
    }
    if items.len() > keep {
        let _ = writeln!(out, "> - and {} more", items.len() - keep);
    }
    out.push('\n');
}

/// Text from a config or a catalog in running Markdown, table cells and HTML alike: control
/// characters escaped as the text plan does, then every character Markdown, a table, HTML,
/// GitHub's math or its @-mentions could act on written as an entity, inside `<code>` (which
/// GitHub does not scan for mentions).
fn code(text: &str) -> String {
    let mut out = String::from("<code>");
    for c in escape_controls(text).chars() {
        if "&<>\"'`|*_[]\\~#!@${}^".contains(c) {
            let _ = write!(out, "&#{};", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out.push_str("</code>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoleName;
    use crate::plan::{Change, UnmanagedRole};
    use crate::render::fixture;

    #[test]
    fn fixture_plan_as_markdown() {
        let text = plan(&fixture::plan(), Detail::Full);
        assert!(!text.contains(fixture::VERIFIER));
        assert!(!text.contains("Shortened"), "{text}");
        insta::assert_snapshot!("plan_markdown", text);
    }

    #[test]
    fn fixture_plan_as_compact_markdown() {
        let text = plan(&fixture::plan(), Detail::Compact);
        assert!(!text.contains(fixture::VERIFIER));
        insta::assert_snapshot!("plan_markdown_compact", text);
    }

    #[test]
    fn every_diff_line_starts_with_a_sign_github_colours() {
        let text = plan(&fixture::plan(), Detail::Full);
        let mut in_diff = false;
        let mut seen = 0;
        for line in text.lines() {
            match line {
                "```diff" => in_diff = true,
                "```" => in_diff = false,
                _ if in_diff => {
                    seen += 1;
                    assert!(
                        ["+ ", "- ", "! "].iter().any(|s| line.starts_with(s)),
                        "{line:?}"
                    );
                }
                _ => {}
            }
        }
        assert!(seen > 40, "{text}");
    }

    #[test]
    fn names_cannot_break_the_markdown_or_mention_anyone() {
        let mut plan = fixture::plan();
        let cluster = &mut plan.clusters[0];
        let hostile = "x`|</details><b>@octocat</b>\n```";
        cluster.unmanaged.push(UnmanagedRole {
            role: RoleName::existing(hostile),
            attributes: vec![],
            predefined: vec![],
        });
        cluster.roles[0].changes.push(Change::RevokeMembership {
            group: RoleName::existing(hostile),
            granted_by: None,
            cascade: Vec::new(),
        });
        let text = super::plan(&plan, Detail::Full);
        // Outside code blocks only entities: no raw tag, pipe or mention.
        let outside: String = text
            .split("\n````diff\n")
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part
                } else {
                    part.split_once("\n````\n").map_or("", |(_, after)| after)
                }
            })
            .collect();
        assert!(!outside.contains("</details><b>"), "{outside}");
        assert!(!outside.contains("@octocat"), "{outside}");
        assert!(
            outside.contains("x&#96;&#124;&#60;/details&#62;"),
            "{outside}"
        );
        // The name's ``` lengthened the fence of the block it is in, so it cannot close it.
        assert!(text.contains("\n````diff\n"), "{text}");
        assert!(text.contains("-     member_of        \"x`|</details><b>@octocat</b>\\n```\""));
        assert_eq!(text.matches("<details>").count(), 1);
        assert_eq!(text.matches("</details>\n").count(), 1);
    }

    /// A plan of `clusters` clusters with `roles` created roles each (the fixture's first
    /// role renamed) and as many unmanaged roles; then the fixture's unreachable cluster.
    fn big_plan(clusters: usize, roles: usize) -> Plan {
        let fixture = fixture::plan();
        let template = fixture.clusters[0].roles[0].clone();
        let mut planned: Vec<ClusterPlan> = (0..clusters)
            .map(|c| {
                let mut cluster = fixture.clusters[0].clone();
                cluster.cluster.host = format!("pg-{c:03}");
                cluster.roles = (0..roles)
                    .map(|i| {
                        let mut role = template.clone();
                        role.role = RoleName::existing(format!("service_{i:05}"));
                        role
                    })
                    .collect();
                cluster.unmanaged = (0..roles)
                    .map(|i| UnmanagedRole {
                        role: RoleName::existing(format!("by_hand_{i:05}")),
                        attributes: vec!["LOGIN".into()],
                        predefined: vec![],
                    })
                    .collect();
                cluster
            })
            .collect();
        planned.push(fixture.clusters[2].clone());
        Plan::new(planned, vec![], vec![])
    }

    #[test]
    fn a_plan_too_long_for_a_comment_is_shortened_and_says_so() {
        for (clusters, roles) in [(1, 500), (1, 5_000), (8, 9), (300, 3)] {
            let plan = big_plan(clusters, roles);
            let full_text = crate::render::text::plan(&plan, false);
            assert!(chars(&full_text) > COMMENT_LIMIT, "{roles}: not a big plan");
            let text = super::plan(&plan, Detail::Full);
            assert!(chars(&text) <= COMMENT_LIMIT, "{roles}: {}", chars(&text));
            assert!(
                text.contains("Shortened to stay under GitHub's 65536-character"),
                "{text}"
            );
            // The verdict and every cluster's row survive.
            let s = &plan.summary;
            assert!(text.contains(&format!(
                "**Plan: {} to add, {} to change, 0 to destroy.**",
                s.add, s.change
            )));
            assert!(text.contains("**unreachable**"));
            assert_eq!(
                text.matches("| <code>pg-").count(),
                clusters,
                "{clusters}x{roles}"
            );
            assert!(!text.contains(fixture::VERIFIER));
        }
        // 8 clusters of 9 roles fit once compact: one line per role, nothing left out.
        let text = super::plan(&big_plan(8, 9), Detail::Full);
        assert!(
            text.contains(
                "+ role \"service_00008\" (profile service, targets dev/app_dev, dev/App DB): "
            ),
            "{text}"
        );
        assert!(!text.contains("(summarised)"), "{text}");
        // 5,000 roles do not: counted, the drift list cut.
        let text = super::plan(&big_plan(1, 5_000), Detail::Full);
        assert!(
            text.contains("5000 role(s) and PUBLIC in 1 database(s) change"),
            "{text}"
        );
        assert!(text.contains("> - and 4990 more"));
    }

    #[test]
    fn a_long_section_is_compact_by_default() {
        let text = plan(&big_plan(1, LONG_SECTION / 10), Detail::Full);
        assert!(
            text.contains("(compact: changes counted per role)"),
            "{text}"
        );
        assert!(!text.contains("Shortened"), "{text}");
    }
}
