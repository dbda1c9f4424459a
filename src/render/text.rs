//! The plan as Terraform-style text: `+` create, `~` update in place, `-` remove; in full or
//! `--compact`. Its uncoloured lines are also what `markdown` shows.

use super::compact;
use super::quote::{ident, ident_if_needed};
use super::table::escape_controls;
use crate::model::policy::Mode;
use crate::model::privileges::{ObjectKind, ObjectRef, PUBLIC};
use crate::model::{Attributes, Escalation, MembershipOptions, RoleName, SettingScope};
use crate::plan::{
    Change, ClusterPlan, DependentMembership, ExpiringRole, GrantObjects, PasswordSource, Plan,
    RoleAction, RolePlan, UnmanagedRole,
};
use std::fmt::Write;

#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn code(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn add(self, t: &str) -> String {
        self.code("32", t)
    }
    fn change(self, t: &str) -> String {
        self.code("33", t)
    }
    fn remove(self, t: &str) -> String {
        self.code("31", t)
    }
    fn bold(self, t: &str) -> String {
        self.code("1", t)
    }
    fn sign(self, sign: &str) -> String {
        match sign {
            "+" => self.add(sign),
            "-" => self.remove(sign),
            _ => self.change(sign),
        }
    }
}

/// How much of each role a plan shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Every change on its own line.
    Full,
    /// One line per role, its changes counted by kind (`--compact`).
    Compact,
}

pub fn plan(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    write_plan(&mut out, plan, color);
    out
}

/// The plan, written as it is rendered: at 10,000 roles the text is megabytes that need not
/// be held. Stops at the first error of `out` (a closed pipe).
pub fn write_plan(out: &mut dyn Write, plan: &Plan, color: bool) {
    write_plan_as(out, plan, color, Detail::Full);
}

/// [`write_plan`] at the given level of detail.
pub fn write_plan_as(out: &mut dyn Write, plan: &Plan, color: bool, detail: Detail) {
    let paint = Paint(color);
    if plan.mode == Mode::Additive {
        let _ = writeln!(
            out,
            "{} additive: nothing is revoked, dropped or reset\n",
            paint.bold("Mode:")
        );
    }
    for cluster in &plan.clusters {
        if cluster_section(out, cluster, paint, detail).is_err() {
            return;
        }
    }
    if !plan.inactive_targets.is_empty() {
        let names: Vec<String> = plan
            .inactive_targets
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = writeln!(
            out,
            "Skipped (inactive): {}",
            escape_controls(&names.join(", "))
        );
    }
    if !plan.skipped_roles.is_empty() {
        let skipped: Vec<String> = plan
            .skipped_roles
            .iter()
            .map(|s| format!("{} on {}", ident(s.role.as_str()), s.target))
            .collect();
        let _ = writeln!(
            out,
            "Skipped (target inactive): {}",
            escape_controls(&skipped.join(", "))
        );
    }
    let failed = plan
        .clusters
        .iter()
        .filter(|c| !c.errors.is_empty())
        .count();
    if failed > 0 {
        let _ = writeln!(
            out,
            "\n{} {failed} cluster(s) could not be planned or have errors; see above.",
            paint.remove("Error:")
        );
    }
    if plan.has_changes() {
        let s = &plan.summary;
        let _ = writeln!(
            out,
            "\n{} {} to add, {} to change, {} to destroy.",
            paint.bold("Plan:"),
            s.add,
            s.change,
            s.destroy
        );
    } else if failed == 0 {
        let _ = writeln!(
            out,
            "\n{} The roles match the configuration.",
            paint.bold("No changes.")
        );
    }
}

fn cluster_section(
    out: &mut dyn Write,
    cluster: &ClusterPlan,
    paint: Paint,
    detail: Detail,
) -> std::fmt::Result {
    let targets: Vec<String> = cluster.targets.iter().map(ToString::to_string).collect();
    let version = cluster
        .server_version_num
        .map(|v| format!(", PostgreSQL {}.{}", v / 10000, v % 100))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{}",
        paint.bold(&escape_controls(&format!(
            "# cluster {}{version} (targets: {})",
            cluster.label(),
            targets.join(", ")
        )))
    );
    if cluster.roles.is_empty() && cluster.public.is_empty() && cluster.errors.is_empty() {
        let _ = writeln!(out, "  no changes");
    }
    for role in &cluster.roles {
        role_section(out, role, paint, detail)?;
    }
    public_section(out, &cluster.public, paint, detail)?;
    for note in &cluster.notes {
        let _ = writeln!(out, "  note: {}", escape_controls(note));
    }
    for role in &cluster.unmanaged {
        let _ = writeln!(
            out,
            "  {} {}",
            paint.change("unmanaged:"),
            escape_controls(&unmanaged_text(role))
        );
    }
    for role in &cluster.expiring {
        let _ = writeln!(
            out,
            "  {} {}",
            paint.change("warning:"),
            escape_controls(&expiring_text(role))
        );
    }
    for error in &cluster.errors {
        let _ = writeln!(
            out,
            "  {} {}",
            paint.remove("error:"),
            escape_controls(&error.to_string())
        );
    }
    if !cluster.errors.is_empty() {
        let _ = writeln!(
            out,
            "  nothing will be changed on this cluster until the errors are fixed"
        );
    }
    out.write_char('\n')
}

/// `role "intern" expired (valid_until 2026-11-30T00:00:00Z)`
pub(crate) fn expiring_text(role: &ExpiringRole) -> String {
    let when = if role.expired { "expired" } else { "expires" };
    format!(
        "role \"{}\" {when} (valid_until {})",
        role.role, role.valid_until
    )
}

/// `role "rogue" (not declared, not managed by pgroster): SUPERUSER, LOGIN; member of pg_read_all_data`
pub(crate) fn unmanaged_text(role: &UnmanagedRole) -> String {
    let mut text = format!(
        "role \"{}\" (not declared, not managed by pgroster)",
        role.role
    );
    if !role.attributes.is_empty() {
        let _ = write!(text, ": {}", role.attributes.join(", "));
    }
    if !role.predefined.is_empty() {
        let groups: Vec<&str> = role.predefined.iter().map(RoleName::as_str).collect();
        let _ = write!(text, "; member of {}", groups.join(", "));
    }
    text
}

/// Revokes from PUBLIC (`public_privileges`), under a heading per database.
fn public_section(
    out: &mut dyn Write,
    changes: &[Change],
    paint: Paint,
    detail: Detail,
) -> std::fmt::Result {
    for (heading, changes) in public_groups(changes) {
        if detail == Detail::Compact {
            writeln!(
                out,
                "  {} {}",
                paint.change("~"),
                escape_controls(&format!("{heading}: {}", compact::counts(&changes)))
            )?;
            continue;
        }
        writeln!(out, "  {} {}", paint.change("~"), escape_controls(&heading))?;
        for change in changes {
            write_change(out, change, paint)?;
        }
    }
    Ok(())
}

/// The revokes from PUBLIC grouped by database, in plan order, each group with its heading
/// (uncoloured, not yet escaped; its sign is `~`).
pub(crate) fn public_groups(changes: &[Change]) -> Vec<(String, Vec<&Change>)> {
    let mut by_database: Vec<(&str, Vec<&Change>)> = Vec::new();
    for change in changes {
        let database = change.database().unwrap_or_default();
        match by_database.iter_mut().find(|(d, _)| *d == database) {
            Some((_, changes)) => changes.push(change),
            None => by_database.push((database, vec![change])),
        }
    }
    by_database
        .into_iter()
        .map(|(database, changes)| {
            (
                format!(
                    "PUBLIC in database {} (settings.public_privileges)",
                    ident_if_needed(database)
                ),
                changes,
            )
        })
        .collect()
}

fn write_change(out: &mut dyn Write, change: &Change, paint: Paint) -> std::fmt::Result {
    for line in change_lines(change) {
        // A line under another (what a cascade removes) is indented before its sign.
        let body = line.trim_start_matches(' ');
        let indent = &line[..line.len() - body.len()];
        let (sign, rest) = body.split_at(body.chars().next().map_or(0, char::len_utf8));
        writeln!(
            out,
            "      {indent}{}{}",
            paint.sign(sign),
            escape_controls(rest)
        )?;
    }
    Ok(())
}

fn role_section(
    out: &mut dyn Write,
    role: &RolePlan,
    paint: Paint,
    detail: Detail,
) -> std::fmt::Result {
    let (sign, heading) = role_heading(role);
    let symbol = paint.sign(sign);
    if detail == Detail::Compact {
        return writeln!(
            out,
            "  {symbol} {}",
            escape_controls(&format!("{heading}: {}", compact::role_counts(role)))
        );
    }
    writeln!(out, "  {symbol} {}", escape_controls(&heading))?;
    for change in &role.changes {
        write_change(out, change, paint)?;
    }
    Ok(())
}

/// A role's sign (`+`, `~`, `-`) and heading line, uncoloured and not yet escaped: `role
/// "name" (why) (profile p, targets ...)`.
pub(crate) fn role_heading(role: &RolePlan) -> (&'static str, String) {
    let (sign, why) = match role.action {
        RoleAction::Create => ("+", ""),
        RoleAction::Update => ("~", ""),
        RoleAction::Adopt => ("~", " (adopt: exists, not yet managed by pgroster)"),
        RoleAction::Destroy => (
            "-",
            " (destroy: managed by pgroster, declared by no config for this cluster)",
        ),
    };
    let profile = role
        .profile
        .as_deref()
        .map(|p| format!("profile {p}, "))
        .unwrap_or_default();
    let targets: Vec<String> = role.targets.iter().map(ToString::to_string).collect();
    let about = match (profile.as_str(), targets.as_slice()) {
        ("", []) => String::new(),
        (profile, []) => format!(" ({})", profile.trim_end_matches(", ")),
        (profile, targets) => format!(" ({profile}targets {})", targets.join(", ")),
    };
    (
        sign,
        format!("role {}{why}{about}", ident(role.role.as_str())),
    )
}

/// One change on one line without colour, for the audit log. Never holds a secret: the plan
/// has none.
pub(crate) fn change_detail(change: &Change) -> String {
    let lines = change_lines(change);
    let squeezed: Vec<String> = lines
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    squeezed.join("; ")
}

fn password_note(source: &PasswordSource) -> &'static str {
    match source {
        PasswordSource::Generated => "generated",
        PasswordSource::Env { .. } => "from environment",
    }
}

fn in_scope(scope: &SettingScope) -> String {
    match scope {
        SettingScope::AllDatabases => " (all databases)".into(),
        SettingScope::Database(db) => format!(" (in database {})", ident_if_needed(db)),
    }
}

/// A change's lines without colour, each starting with its sign (`+`, `~`, `-`; a revoke's
/// cascade lines are indented first); names in them are as read, not yet escaped. Databases,
/// schemas, objects and role names are written as SQL would (`"Odd Schema"."Tab le"`,
/// `created by "Odd Name"`), so a dot, a space or a quote in a name cannot be misread;
/// membership lines always quote their roles (`member_of "app_rw"`), as they did before names
/// could be odd, with a quote inside doubled as SQL doubles it.
pub(crate) fn change_lines(change: &Change) -> Vec<String> {
    let (add, upd, del) = ("+", "~", "-");
    match change {
        Change::CreateRole {
            attributes,
            password,
        } => {
            // Like `CREATE ROLE`, only what differs from PostgreSQL's defaults (and login).
            let defaults = Attributes::default().values();
            let mut lines: Vec<String> = attributes
                .values()
                .into_iter()
                .zip(defaults)
                .filter(|((name, value), (_, default))| *name == "login" || value != default)
                .map(|((name, value), _)| format!("{add} {name:<16} = {value}"))
                .collect();
            if let Some(source) = password {
                lines.push(format!(
                    "{add} {:<16} = (sensitive, {})",
                    "password",
                    password_note(source)
                ));
            }
            lines
        }
        Change::AlterAttributes { changes } => changes
            .iter()
            .map(|c| format!("{upd} {:<16} = {} -> {}", c.attribute, c.from, c.to))
            .collect(),
        Change::ResetPassword {
            password,
            from_rotation: None,
            to_rotation: None,
        } => vec![format!(
            "{upd} {:<16} = (sensitive, {}; immediate reset)",
            "password",
            password_note(password),
        )],
        Change::ResetPassword {
            password,
            from_rotation,
            to_rotation,
        } => vec![format!(
            "{upd} {:<16} = (sensitive, {}; rotation {} -> {})",
            "password",
            password_note(password),
            from_rotation.as_deref().unwrap_or("(none)"),
            to_rotation.as_deref().unwrap_or("(none)")
        )],
        Change::SetMarker { from, to } => match from {
            None => vec![format!("{add} {:<16} = \"{to}\"", "comment")],
            Some(from) => vec![format!("{upd} {:<16} = \"{from}\" -> \"{to}\"", "comment")],
        },
        Change::GrantMembership {
            group,
            options,
            from: None,
            escalation,
            granted_by,
        } => vec![format!(
            "{add} {:<16} {}{}{}{}",
            "member_of",
            ident(group.as_str()),
            membership_text(options),
            escalation_text(escalation),
            granted_by_text(granted_by.as_ref())
        )],
        Change::GrantMembership {
            group,
            options,
            from: Some(from),
            escalation,
            granted_by,
        } => vec![format!(
            "{upd} {:<16} {}:{} ->{}{}{}",
            "member_of",
            ident(group.as_str()),
            membership_text(from),
            membership_text(options),
            escalation_text(escalation),
            granted_by_text(granted_by.as_ref())
        )],
        Change::RevokeMembershipAdmin {
            group,
            granted_by,
            cascade,
        }
        | Change::RevokeMembership {
            group,
            granted_by,
            cascade,
        } => {
            let admin_option = if matches!(change, Change::RevokeMembershipAdmin { .. }) {
                " admin option"
            } else {
                ""
            };
            let mut lines = vec![format!(
                "{del} {:<16} {}{admin_option}{}{}",
                "member_of",
                ident(group.as_str()),
                granted_by_text(granted_by.as_ref()),
                cascade_text(cascade)
            )];
            lines.extend(cascade.iter().map(dependent_line));
            lines
        }
        Change::SetSetting {
            scope,
            name,
            from,
            to,
        } => vec![match from {
            None => format!("{add} {name:<16} = {to}{}", in_scope(scope)),
            Some(from) => format!("{upd} {name:<16} = {from} -> {to}{}", in_scope(scope)),
        }],
        Change::ResetSetting { scope, name, from } => {
            vec![format!("{del} {name:<16} = {from}{}", in_scope(scope))]
        }
        Change::Grant {
            database,
            kind,
            objects,
            privileges,
            grant_option,
        } => vec![format!(
            "{add} grant {} on {} (in database {}){}",
            privileges.join(", "),
            objects_text(*kind, objects),
            ident_if_needed(database),
            if *grant_option {
                " with grant option"
            } else {
                ""
            }
        )],
        Change::Revoke {
            database,
            kind,
            objects,
            privileges,
            granted_by,
            grant_option_only,
            cascade,
        } => {
            let mut lines = vec![format!(
                "{del} revoke {}{} on {} (in database {}), granted by {}{}",
                if *grant_option_only {
                    "grant option for "
                } else {
                    ""
                },
                privileges.join(", "),
                objects_text(*kind, objects),
                ident_if_needed(database),
                ident_if_needed(granted_by.as_str()),
                if cascade.is_empty() {
                    ""
                } else {
                    ", cascading to the grants it made:"
                }
            )];
            lines.extend(cascade.iter().map(|dependent| {
                let grantee = if dependent.grantee.as_str() == PUBLIC {
                    "PUBLIC".to_string()
                } else {
                    ident_if_needed(dependent.grantee.as_str())
                };
                format!(
                    "    {del} {} on {} {} from {grantee} (granted by {})",
                    dependent.privilege,
                    dependent.object.kind.noun(),
                    object_text(&dependent.object),
                    ident_if_needed(dependent.grantor.as_str())
                )
            }));
            lines
        }
        Change::GrantDefault {
            database,
            owner,
            schema,
            kind,
            privileges,
            grant_option,
        } => vec![format!(
            "{add} grant {}{}",
            default_text(database, owner, schema.as_deref(), *kind, privileges),
            if *grant_option {
                " with grant option"
            } else {
                ""
            }
        )],
        Change::RevokeDefault {
            database,
            owner,
            schema,
            kind,
            privileges,
            grant_option_only,
        } => vec![format!(
            "{del} revoke {}{}",
            if *grant_option_only {
                "grant option for "
            } else {
                ""
            },
            default_text(database, owner, schema.as_deref(), *kind, privileges)
        )],
        Change::PrepareDrop {
            disable_login,
            grant_to_admin,
        } => {
            let mut lines = Vec::new();
            if *disable_login {
                lines.push(format!(
                    "{upd} login            = false (step 1: committed with the role changes)"
                ));
            }
            if let Some(admin) = grant_to_admin {
                lines.push(format!(
                    "{add} admin {} made a member of it (step 1: REASSIGN and DROP OWNED need \
                     the role's privileges)",
                    ident_if_needed(admin.as_str())
                ));
            }
            lines
        }
        Change::EndSessions => vec![format!(
            "{del} sessions ended (step 2: pg_terminate_backend, once step 1 committed)"
        )],
        Change::DropOwned {
            database,
            reassign_to,
            owned,
            privileges,
            registered,
        } => {
            let reassign = match reassign_to {
                Some(successor) => format!(
                    "REASSIGN OWNED to {} ({owned} object{}), ",
                    ident_if_needed(successor.as_str()),
                    if *owned == 1 { "" } else { "s" }
                ),
                None => String::new(),
            };
            vec![format!(
                "{del} in database {}{}: {reassign}DROP OWNED ({privileges} privilege{}) \
                 (step 3: one transaction per database)",
                ident_if_needed(database),
                if *registered { "" } else { " (not registered)" },
                if *privileges == 1 { "" } else { "s" }
            )]
        }
        Change::DropRole => vec![format!(
            "{del} DROP ROLE (step 4: once every database is clean)"
        )],
    }
}

fn default_text(
    database: &str,
    owner: &RoleName,
    schema: Option<&str>,
    kind: ObjectKind,
    privileges: &[String],
) -> String {
    format!(
        "{} on future {} created by {}{} (default privileges, in database {})",
        privileges.join(", "),
        kind.plural().to_ascii_lowercase(),
        ident_if_needed(owner.as_str()),
        schema
            .map(|s| format!(" in schema {}", ident_if_needed(s)))
            .unwrap_or_default(),
        ident_if_needed(database)
    )
}

/// The grant a membership line is about, when the server keeps one per grantor (16+).
fn granted_by_text(grantor: Option<&RoleName>) -> String {
    grantor.map_or_else(String::new, |g| {
        format!(" (granted by {})", ident(g.as_str()))
    })
}

fn cascade_text(dependents: &[DependentMembership]) -> &'static str {
    if dependents.is_empty() {
        ""
    } else {
        ", cascading to the grants it made:"
    }
}

/// A grant the revoke above removes with it, indented under it as the object-privilege
/// cascades are.
fn dependent_line(dependent: &DependentMembership) -> String {
    format!(
        "    - {} member_of {} (granted by {})",
        ident(dependent.member.as_str()),
        ident(dependent.group.as_str()),
        ident(dependent.grantor.as_str())
    )
}

fn membership_text(options: &MembershipOptions) -> String {
    let mut parts = Vec::new();
    if options.admin {
        parts.push("admin".to_string());
    }
    if let Some(inherit) = options.inherit {
        parts.push(format!("inherit={inherit}"));
    }
    if let Some(set) = options.set {
        parts.push(format!("set={set}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// What a membership confers beyond its group's privileges, loud enough for a reviewer.
fn escalation_text(escalation: &[Escalation]) -> String {
    if escalation.is_empty() {
        return String::new();
    }
    let names: Vec<String> = escalation.iter().map(ToString::to_string).collect();
    format!(" ESCALATION: {}", names.join(", "))
}

fn objects_text(kind: ObjectKind, objects: &GrantObjects) -> String {
    match objects {
        GrantObjects::AllInSchema { schema } => {
            format!(
                "all {} in schema {}",
                kind.plural().to_ascii_lowercase(),
                ident_if_needed(schema)
            )
        }
        GrantObjects::Objects { objects } => {
            let names: Vec<String> = objects.iter().map(object_text).collect();
            format!("{} {}", kind.noun(), names.join(", "))
        }
    }
}

/// `"My Schema".refresh(since timestamp with time zone)`: the arguments as the server printed
/// them, its types already quoted where needed.
fn object_text(object: &ObjectRef) -> String {
    let mut text = object
        .schema
        .as_deref()
        .map(|schema| format!("{}.", ident_if_needed(schema)))
        .unwrap_or_default();
    // A large object's name is its OID, a number; a parameter's is dotted as SET writes it.
    if matches!(object.kind, ObjectKind::LargeObject | ObjectKind::Parameter) {
        text.push_str(&object.name);
    } else {
        text.push_str(&ident_if_needed(&object.name));
    }
    if let Some(arguments) = &object.arguments {
        let _ = write!(text, "({arguments})");
    }
    if let Some(column) = &object.column {
        let _ = write!(text, ".{}", ident_if_needed(column));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    /// ESC written as `\e`, so the snapshot file holds no control character and reads plainly
    /// in a pager or a diff.
    fn visible_escapes(text: &str) -> String {
        text.replace('\x1b', "\\e")
    }

    /// Removes the SGR sequences `Paint` writes (`ESC [ digits m`).
    fn without_colour(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('\x1b') {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('m')
                .map_or(rest.len(), |m| start + m + 1);
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn plan_without_colour() {
        let text = plan(&fixture::plan(), false);
        assert!(!text.contains('\x1b'));
        assert!(!text.contains(fixture::VERIFIER));
        insta::assert_snapshot!("plan_without_colour", text);
    }

    #[test]
    fn plan_with_colour() {
        let text = plan(&fixture::plan(), true);
        assert!(!text.contains(fixture::VERIFIER));
        insta::assert_snapshot!("plan_with_colour", visible_escapes(&text));
    }

    #[test]
    fn colour_adds_escape_codes_and_nothing_else() {
        let plan = fixture::plan();
        assert_eq!(
            without_colour(&super::plan(&plan, true)),
            super::plan(&plan, false)
        );
    }

    #[test]
    fn audit_details_are_one_line_per_change() {
        let plan = fixture::plan();
        let details: Vec<String> = plan
            .clusters
            .iter()
            .flat_map(|c| &c.roles)
            .flat_map(|r| &r.changes)
            .map(|c| format!("{}: {}", c.action_name(), change_detail(c)))
            .collect();
        assert!(details.iter().all(|d| !d.contains('\n')));
        insta::assert_snapshot!("audit_details", details.join("\n"));
    }

    #[test]
    fn a_membership_that_escalates_says_so_on_its_line() {
        let grant = Change::GrantMembership {
            group: RoleName::existing("postgres"),
            options: MembershipOptions::default(),
            from: None,
            escalation: vec![Escalation::Superuser, Escalation::ServerFiles],
            granted_by: None,
        };
        assert_eq!(
            change_detail(&grant),
            "+ member_of \"postgres\" ESCALATION: superuser, server_files"
        );
    }

    #[test]
    fn names_read_from_a_catalog_cannot_reach_the_terminal_as_control_characters() {
        let mut plan = fixture::plan();
        let cluster = &mut plan.clusters[0];
        cluster
            .notes
            .push("role \"evil\x1b[2J\" is\nnot declared".into());
        cluster.roles[0].changes.push(Change::RevokeMembership {
            group: RoleName::existing("grp\x1b]0;owned\x07"),
            granted_by: Some(RoleName::existing("by\x1b[2J")),
            cascade: Vec::new(),
        });
        let text = super::plan(&plan, false);
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
        assert!(
            text.contains("note: role \"evil\\u{1b}[2J\" is\\nnot declared"),
            "{text}"
        );
        assert!(text.contains("grp\\u{1b}]0;owned\\u{7}"), "{text}");
        assert!(text.contains("(granted by \"by\\u{1b}[2J\")"), "{text}");
        let coloured = super::plan(&plan, true);
        assert_eq!(without_colour(&coloured), text);
    }
}
