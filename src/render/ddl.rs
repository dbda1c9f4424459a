//! Changes -> SQL statements. All DDL pgroster runs is built here, through `quote`, and the
//! transaction and advisory lock statements around it.

use super::quote::{ident, literal};
use crate::model::privileges::{ObjectKind, ObjectRef};
use crate::model::settings::{is_identifier_list, parse_identifier_list};
use crate::model::{
    AttributeChange, AttributeValue, Attributes, MembershipOptions, RoleName, Secret, SettingScope,
};
use crate::plan::{Change, DependentMembership, GrantObjects};

/// SQL to run and the form to show. The runnable form may hold a password verifier, so only
/// `apply` reads it; Debug and Display print the redacted form.
#[derive(Clone, PartialEq, Eq)]
pub struct Statement {
    sql: String,
    pub redacted: String,
}

impl Statement {
    fn plain(sql: String) -> Statement {
        Statement {
            redacted: sql.clone(),
            sql,
        }
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// The statement for one change. `verifier` is the SCRAM verifier for changes that set a
/// password; a change that needs one and gets none sets no password.
pub fn statement(role: &RoleName, change: &Change, verifier: Option<&Secret>) -> Statement {
    statement_to(Some(role), change, verifier)
}

/// The statement for a change to PUBLIC's privileges (`public_privileges`): the revoke a role
/// would get, from PUBLIC.
pub(crate) fn public_statement(change: &Change) -> Statement {
    statement_to(None, change, None)
}

/// `role` `None`: PUBLIC.
fn statement_to(role: Option<&RoleName>, change: &Change, verifier: Option<&Secret>) -> Statement {
    let role_sql = &role.map_or_else(|| "PUBLIC".to_string(), |r| ident(r.as_str()));
    let role_name = role.map_or("", RoleName::as_str);
    match change {
        Change::CreateRole { attributes, .. } => {
            let options = create_options(attributes);
            with_password(format!("CREATE ROLE {role_sql}{options}"), verifier)
        }
        Change::AlterAttributes { changes } => {
            let options: String = changes.iter().map(alter_option).collect();
            Statement::plain(format!("ALTER ROLE {role_sql} WITH{options}"))
        }
        Change::ResetPassword { .. } => {
            with_password(format!("ALTER ROLE {role_sql} WITH"), verifier)
        }
        Change::SetMarker { to, .. } => {
            Statement::plain(format!("COMMENT ON ROLE {role_sql} IS {}", literal(to)))
        }
        Change::GrantMembership {
            group,
            options,
            granted_by,
            ..
        } => Statement::plain(format!(
            "GRANT {} TO {role_sql}{}{}",
            ident(group.as_str()),
            membership_options(options),
            granted_by_sql(granted_by.as_ref())
        )),
        Change::RevokeMembershipAdmin {
            group,
            granted_by,
            cascade,
        } => Statement::plain(format!(
            "REVOKE ADMIN OPTION FOR {} FROM {role_sql}{}{}",
            ident(group.as_str()),
            granted_by_sql(granted_by.as_ref()),
            cascade_sql(cascade)
        )),
        Change::RevokeMembership {
            group,
            granted_by,
            cascade,
        } => Statement::plain(format!(
            "REVOKE {} FROM {role_sql}{}{}",
            ident(group.as_str()),
            granted_by_sql(granted_by.as_ref()),
            cascade_sql(cascade)
        )),
        Change::SetSetting {
            scope, name, to, ..
        } => Statement::plain(format!(
            "ALTER ROLE {role_sql}{} SET {} TO {}",
            scope_sql(scope),
            setting_name(name),
            setting_value(name, to)
        )),
        Change::ResetSetting { scope, name, .. } => Statement::plain(format!(
            "ALTER ROLE {role_sql}{} RESET {}",
            scope_sql(scope),
            setting_name(name)
        )),
        Change::Grant {
            database,
            kind,
            objects,
            privileges,
            grant_option,
        } => Statement::plain(format!(
            "GRANT {} ON {} TO {role_sql}{}",
            privileges_sql(privileges, objects),
            objects_sql(database, *kind, objects),
            if *grant_option {
                " WITH GRANT OPTION"
            } else {
                ""
            }
        )),
        Change::Revoke {
            database,
            kind,
            objects,
            privileges,
            granted_by,
            grant_option_only,
            cascade,
        } => Statement::plain(format!(
            // REVOKE only removes the grants of the role it runs as, and GRANTED BY accepts
            // only the current user before PostgreSQL 16; so it runs as the grantor.
            "SET ROLE {grantor}; REVOKE {}{} ON {} FROM {role_sql}{}; RESET ROLE",
            option_for(*grant_option_only),
            privileges_sql(privileges, objects),
            objects_sql(database, *kind, objects),
            if cascade.is_empty() { "" } else { " CASCADE" },
            grantor = ident(granted_by.as_str())
        )),
        Change::GrantDefault {
            owner,
            schema,
            kind,
            privileges,
            grant_option,
            ..
        } => Statement::plain(format!(
            "{} GRANT {} ON {} TO {role_sql}{}",
            default_prefix(owner, schema.as_deref()),
            privileges.join(", "),
            default_kind(*kind),
            if *grant_option {
                " WITH GRANT OPTION"
            } else {
                ""
            }
        )),
        Change::RevokeDefault {
            owner,
            schema,
            kind,
            privileges,
            grant_option_only,
            ..
        } => Statement::plain(format!(
            "{} REVOKE {}{} ON {} FROM {role_sql}",
            default_prefix(owner, schema.as_deref()),
            option_for(*grant_option_only),
            privileges.join(", "),
            default_kind(*kind)
        )),
        Change::PrepareDrop {
            disable_login,
            grant_to_admin,
        } => {
            let mut sql = Vec::new();
            if *disable_login {
                sql.push(format!("ALTER ROLE {role_sql} WITH NOLOGIN"));
            }
            if let Some(admin) = grant_to_admin {
                sql.push(format!("GRANT {role_sql} TO {}", ident(admin.as_str())));
            }
            Statement::plain(sql.join("; "))
        }
        Change::EndSessions => Statement::plain(format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE usename = {} AND pid <> pg_backend_pid()",
            literal(role_name)
        )),
        Change::DropOwned { reassign_to, .. } => Statement::plain(match reassign_to {
            Some(successor) => format!(
                "REASSIGN OWNED BY {role_sql} TO {}; DROP OWNED BY {role_sql}",
                ident(successor.as_str())
            ),
            // The plan saw nothing it owns here: DROP OWNED must not drop an object created
            // since, so the transaction stops instead.
            None => format!(
                "DO {}; DROP OWNED BY {role_sql}",
                literal(&format!(
                    "BEGIN IF EXISTS (SELECT FROM pg_shdepend d JOIN pg_database db ON db.oid = d.dbid \
                     WHERE d.refclassid = 'pg_authid'::regclass AND d.deptype = 'o' \
                     AND d.refobjid = to_regrole({}) AND db.datname = current_database()) \
                     THEN RAISE EXCEPTION 'role % owns objects here that the plan did not see; plan again', {}; \
                     END IF; END",
                    literal(role_sql),
                    literal(role_name)
                ))
            ),
        }),
        Change::DropRole => Statement::plain(format!("DROP ROLE {role_sql}")),
    }
}

fn option_for(grant_option_only: bool) -> &'static str {
    if grant_option_only {
        "GRANT OPTION FOR "
    } else {
        ""
    }
}

/// Privilege names come from a fixed list (validated in config, or read from `aclexplode`),
/// so they are written as keywords; column privileges carry their columns (`UPDATE (a, b)`),
/// all of one table (the planner groups them so).
fn privileges_sql(privileges: &[String], objects: &GrantObjects) -> String {
    let columns: Vec<String> = match objects {
        GrantObjects::Objects { objects } => objects
            .iter()
            .filter_map(|o| o.column.as_deref().map(ident))
            .collect(),
        GrantObjects::AllInSchema { .. } => Vec::new(),
    };
    if columns.is_empty() {
        return privileges.join(", ");
    }
    let columns = columns.join(", ");
    privileges
        .iter()
        .map(|p| format!("{p} ({columns})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// On PostgreSQL 16+ a membership has one grant per grantor, and without GRANTED BY a revoke
/// reaches only the admin's own (the server warns and does nothing for the others).
fn granted_by_sql(grantor: Option<&RoleName>) -> String {
    grantor.map_or_else(String::new, |g| {
        format!(" GRANTED BY {}", ident(g.as_str()))
    })
}

/// `CASCADE` only when the revoke removes grants that depend on it (PostgreSQL 16+): the plan
/// lists them, and a revoke with nothing dependent stays the plain one.
fn cascade_sql(dependents: &[DependentMembership]) -> &'static str {
    if dependents.is_empty() {
        ""
    } else {
        " CASCADE"
    }
}

/// `WITH ADMIN OPTION` works on every version; INHERIT and SET (PostgreSQL 16+) only reach here
/// when the planner saw a server that has them.
fn membership_options(options: &MembershipOptions) -> String {
    let mut parts = Vec::new();
    if options.admin {
        parts.push("ADMIN TRUE".to_string());
    }
    if let Some(inherit) = options.inherit {
        parts.push(format!(
            "INHERIT {}",
            if inherit { "TRUE" } else { "FALSE" }
        ));
    }
    if let Some(set) = options.set {
        parts.push(format!("SET {}", if set { "TRUE" } else { "FALSE" }));
    }
    match parts.as_slice() {
        [] => String::new(),
        [only] if only == "ADMIN TRUE" => " WITH ADMIN OPTION".to_string(),
        _ => format!(" WITH {}", parts.join(", ")),
    }
}

/// Functions are addressed as routines so that procedures are covered too (PostgreSQL 11+).
fn object_keyword(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Function => "ROUTINE",
        other => other.keyword(),
    }
}

/// `TABLE "s"."t", "s"."u"` or `ALL TABLES IN SCHEMA "s"`; for columns their one table.
fn objects_sql(database: &str, kind: ObjectKind, objects: &GrantObjects) -> String {
    match objects {
        GrantObjects::AllInSchema { schema } => {
            let plural = match kind {
                ObjectKind::Function => "ROUTINES",
                other => other.plural(),
            };
            format!("ALL {plural} IN SCHEMA {}", ident(schema))
        }
        GrantObjects::Objects { objects } => {
            let mut names: Vec<String> = objects.iter().map(|o| object_sql(database, o)).collect();
            names.dedup();
            format!("{} {}", object_keyword(kind), names.join(", "))
        }
    }
}

fn object_sql(database: &str, object: &ObjectRef) -> String {
    let name = match object.kind {
        // The connection's own database: the name is the one the catalog gave.
        ObjectKind::Database => ident(if object.name.is_empty() {
            database
        } else {
            &object.name
        }),
        // An OID is a number, not a name; one that is not (never from the catalog or a
        // validated config) is still quoted, so it fails instead of being read as SQL.
        ObjectKind::LargeObject => match object.name.parse::<u32>() {
            Ok(oid) => oid.to_string(),
            Err(_) => ident(&object.name),
        },
        // `extension.name`: each part an identifier.
        ObjectKind::Parameter => object
            .name
            .split('.')
            .map(ident)
            .collect::<Vec<_>>()
            .join("."),
        _ => match &object.schema {
            Some(schema) => format!("{}.{}", ident(schema), ident(&object.name)),
            None => ident(&object.name),
        },
    };
    match &object.arguments {
        // Identity arguments as PostgreSQL prints them (types already quoted by the server).
        Some(arguments) => format!("{name}({arguments})"),
        None => name,
    }
}

fn default_prefix(owner: &RoleName, schema: Option<&str>) -> String {
    let in_schema = schema
        .map(|s| format!(" IN SCHEMA {}", ident(s)))
        .unwrap_or_default();
    format!(
        "ALTER DEFAULT PRIVILEGES FOR ROLE {}{in_schema}",
        ident(owner.as_str())
    )
}

fn default_kind(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Function => "ROUTINES",
        other => other.plural(),
    }
}

/// pgroster's advisory lock: 0x7067726f73746572 is "pgroster" in ASCII.
pub const LOCK_KEY: i64 = 8_099_568_277_853_070_706;

/// Opens a unit's transaction. Concurrent runs are kept apart by the cluster-wide session lock
/// the run already holds (`fleet::lock`); a lock taken here as well would wait for that very
/// lock when a target database is the lock database. `lock_timeout`: a unit that waits for a
/// row or table another session holds fails and rolls back, instead of holding the run.
pub(crate) fn begin() -> &'static str {
    "BEGIN; SET LOCAL lock_timeout = '30s'"
}

/// Takes pgroster's lock if it is free; answers whether it did.
pub(crate) fn try_lock() -> String {
    format!("SELECT pg_try_advisory_lock({LOCK_KEY})")
}

/// Waits up to `timeout_ms` (0: for ever) for pgroster's lock, then holds it for the session.
/// The role's own `statement_timeout` would cut the wait short, and its `idle_session_timeout`
/// (PostgreSQL 14+) would close the idle lock connection, and so release the lock, mid-run.
pub(crate) fn lock_waiting(timeout_ms: u64) -> String {
    format!(
        "SET statement_timeout = 0; SET lock_timeout = {}; \
         SELECT set_config(name, '0', false) FROM pg_settings WHERE name = 'idle_session_timeout'; \
         SELECT pg_advisory_lock({LOCK_KEY})",
        literal(&format!("{timeout_ms}ms"))
    )
}

/// Releases pgroster's lock, held by this session.
pub(crate) fn unlock() -> String {
    format!("SELECT pg_advisory_unlock({LOCK_KEY})")
}

/// Keeps the rest of the transaction out of the server's statement log, run before statements
/// that carry a password verifier (issue 9). Also the statement-on-error log: a failing CREATE
/// ROLE would otherwise be logged with its verifier.
pub const SILENCE_STATEMENT_LOG: &str = "SET LOCAL log_statement = 'none'; \
     SET LOCAL log_min_duration_statement = -1; SET LOCAL log_min_error_statement = 'panic'";

pub const COMMIT: &str = "COMMIT";
pub const ROLLBACK: &str = "ROLLBACK";

fn with_password(prefix: String, verifier: Option<&Secret>) -> Statement {
    match verifier {
        Some(v) => Statement {
            sql: format!("{prefix} PASSWORD {}", literal(v.expose())),
            redacted: format!("{prefix} PASSWORD (sensitive)"),
        },
        None => Statement::plain(prefix),
    }
}

/// Options of `CREATE ROLE`: only those that differ from PostgreSQL's defaults, because a
/// CREATEROLE admin on PostgreSQL 15 may not even mention some superuser-only options.
fn create_options(attributes: &Attributes) -> String {
    let defaults = Attributes::default().values();
    let options: String = attributes
        .values()
        .into_iter()
        .zip(defaults)
        .filter(|((_, value), (_, default))| value != default)
        .map(|((attribute, value), _)| option(attribute, &value))
        .collect();
    if options.is_empty() {
        String::new()
    } else {
        format!(" WITH{options}")
    }
}

fn alter_option(change: &AttributeChange) -> String {
    option(change.attribute, &change.to)
}

fn option(attribute: &str, value: &AttributeValue) -> String {
    match value {
        AttributeValue::Flag(on) => {
            let keyword = attribute.to_ascii_uppercase();
            if *on {
                format!(" {keyword}")
            } else {
                format!(" NO{keyword}")
            }
        }
        AttributeValue::Limit(n) => format!(" CONNECTION LIMIT {n}"),
        AttributeValue::Expiry(Some(t)) => format!(" VALID UNTIL {}", literal(t)),
        AttributeValue::Expiry(None) => " VALID UNTIL 'infinity'".to_string(),
    }
}

fn scope_sql(scope: &SettingScope) -> String {
    match scope {
        SettingScope::AllDatabases => String::new(),
        SettingScope::Database(db) => format!(" IN DATABASE {}", ident(db)),
    }
}

/// Setting names are identifiers, possibly dotted (`auto_explain.log_min_duration`).
fn setting_name(name: &str) -> String {
    name.split('.').map(ident).collect::<Vec<_>>().join(".")
}

fn setting_value(name: &str, value: &str) -> String {
    if is_identifier_list(name) {
        let elements: Vec<String> = parse_identifier_list(value)
            .iter()
            .map(|e| ident(e))
            .collect();
        elements.join(", ")
    } else {
        literal(value)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plan::PasswordSource;
    use crate::render::fixture;
    use std::fmt::Write;

    /// Every statement of the fixture plan, in plan order, as `plan` and the audit log show
    /// them. The changes that set a password get a verifier, as `apply` gives them.
    #[test]
    fn fixture_plan_statements() {
        let plan = fixture::plan();
        let verifier = fixture::verifier();
        let mut out = String::new();
        for cluster in &plan.clusters {
            writeln!(out, "-- cluster {}", cluster.cluster).unwrap();
            for role in &cluster.roles {
                for change in &role.changes {
                    let sets_password = matches!(
                        change,
                        Change::CreateRole {
                            password: Some(_),
                            ..
                        } | Change::ResetPassword { .. }
                    );
                    let s = statement(&role.role, change, sets_password.then_some(&verifier));
                    assert_eq!(s.sql().contains(fixture::VERIFIER), sets_password, "{s}");
                    writeln!(out, "-- {} {}", role.role, change.action_name()).unwrap();
                    writeln!(out, "{s};").unwrap();
                }
            }
            for change in &cluster.public {
                writeln!(out, "-- PUBLIC {}", change.action_name()).unwrap();
                writeln!(out, "{};", public_statement(change)).unwrap();
            }
        }
        assert!(!out.contains(fixture::VERIFIER));
        insta::assert_snapshot!("fixture_plan_statements", out);
    }

    #[test]
    fn create_role_lists_non_default_attributes_and_redacts_the_password() {
        let change = Change::CreateRole {
            attributes: Attributes {
                login: true,
                connection_limit: 20,
                valid_until: Some("2027-03-31T00:00:00Z".into()),
                ..Attributes::default()
            },
            password: Some(PasswordSource::Generated),
        };
        let s = statement(
            &RoleName::existing("evil SUPERUSER"),
            &change,
            Some(&Secret::new("SCRAM-SHA-256$x")),
        );
        assert_eq!(
            s.redacted,
            "CREATE ROLE \"evil SUPERUSER\" WITH LOGIN CONNECTION LIMIT 20 VALID UNTIL '2027-03-31T00:00:00Z' PASSWORD (sensitive)"
        );
        assert!(s.sql().ends_with("PASSWORD 'SCRAM-SHA-256$x'"));
        assert!(!format!("{s} {s:?}").contains("SCRAM"));
    }

    #[test]
    fn the_advisory_lock_key_spells_pgroster() {
        assert_eq!(LOCK_KEY.to_be_bytes(), *b"pgroster");
        for sql in [try_lock(), lock_waiting(300_000), unlock()] {
            assert!(sql.ends_with(&format!("lock({LOCK_KEY})")), "{sql}");
        }
        assert!(lock_waiting(300_000).contains("SET lock_timeout = '300000ms'"));
        // A unit's transaction takes no lock of its own: the run holds the cluster's.
        assert!(!begin().contains("advisory"));
    }

    #[test]
    fn settings_quote_names_lists_and_values() {
        let role = RoleName::existing("a\"b");
        let set = Change::SetSetting {
            scope: SettingScope::Database("My DB".into()),
            name: "search_path".into(),
            from: None,
            to: "app, \"JSmith\"".into(),
        };
        assert_eq!(
            statement(&role, &set, None).sql(),
            "ALTER ROLE \"a\"\"b\" IN DATABASE \"My DB\" SET \"search_path\" TO \"app\", \"JSmith\""
        );
        let timeout = Change::SetSetting {
            scope: SettingScope::AllDatabases,
            name: "statement_timeout".into(),
            from: None,
            to: "30s'; --".into(),
        };
        assert_eq!(
            statement(&role, &timeout, None).sql(),
            "ALTER ROLE \"a\"\"b\" SET \"statement_timeout\" TO '30s''; --'"
        );
    }
}
