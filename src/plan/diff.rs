//! The diff of one cluster: desired roles against the roles read from its catalog.

use super::cascade;
use super::drops::plan_drops;
use super::memberships::{check_memberships, membership_graph};
use super::policy::{apply_mode, expiring, unmanaged};
use super::privileges::{
    cascaded, diff_database, missing_everywhere, Cascaded, Context, DatabaseIndex,
};
use super::public::diff_public;
use super::{
    Change, ClusterPlan, DependentMembership, PasswordSource, PlanError, RoleAction, RolePlan,
};
use crate::model::policy::PlanPolicy;
use crate::model::privileges::GrantSpec;
use crate::model::public::{PublicPolicy, PublicState};
use crate::model::{
    CurrentCluster, CurrentRole, DesiredCluster, DesiredRole, DropSettings, Marker,
    MembershipOptions, PasswordPolicy, RoleName, SettingScope,
};
use crate::registry::NameGlob;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

pub struct DiffInput<'a> {
    pub desired: &'a DesiredCluster,
    pub current: &'a CurrentCluster,
    /// Objects and privileges of each target database on the cluster, by database name.
    pub databases: &'a BTreeMap<String, DatabaseIndex<'a>>,
    /// `settings.public_privileges`; `None`: PUBLIC is never touched.
    pub public_policy: Option<&'a PublicPolicy>,
    /// PUBLIC's privileges and the system-schema grants of each target database, by name.
    pub public: &'a BTreeMap<String, PublicState>,
    pub ignore_roles: &'a [NameGlob],
    /// Whether undeclared memberships in ignored roles other than the predefined ones are
    /// revoked (`revoke_ignored_memberships`).
    pub revoke_ignored_memberships: bool,
    /// True when `--target` narrowed the plan: undeclared managed roles are then not dropped,
    /// since they may be declared for targets outside the selection.
    pub narrowed: bool,
    /// How roles no longer declared are dropped.
    pub drops: &'a DropSettings,
    /// The mode, unmanaged roles, expiry warnings.
    pub policy: &'a PlanPolicy,
    /// When the plan is made, for expiry warnings (the planner reads no clock).
    pub now: jiff::Timestamp,
}

impl DiffInput<'_> {
    /// Whether a declared role's undeclared membership in `group` is left in place. Memberships
    /// in provider roles (`rds_iam` and friends) are granted by the provider, so they stay unless
    /// the setting says otherwise. A predefined `pg_*` role is ignored only in that pgroster never
    /// alters it: membership in one grants server-wide powers (`pg_write_all_data`,
    /// `pg_execute_server_program`), so an undeclared one is revoked like any other (issue 10).
    /// So is an undeclared membership in a SUPERUSER role, `postgres` among them: it makes the
    /// member a superuser whenever it likes (`SET ROLE`).
    pub(super) fn keeps_undeclared_membership(&self, group: &RoleName) -> bool {
        // PostgreSQL reserves the `pg_` prefix: no role made with CREATE ROLE can carry it.
        let predefined = group.as_str().starts_with("pg_");
        let superuser = self
            .current
            .roles
            .get(group)
            .is_some_and(|g| g.attributes.superuser);
        !predefined
            && !superuser
            && !self.revoke_ignored_memberships
            && self.ignore_roles.iter().any(|g| g.matches(group.as_str()))
    }
}

fn sets_password(role: &RolePlan) -> bool {
    role.changes.iter().any(|c| {
        matches!(
            c,
            Change::CreateRole {
                password: Some(_),
                ..
            } | Change::ResetPassword { .. }
        )
    })
}

/// The plan of `cluster`, which the registry calls `name`.
pub(crate) fn diff_cluster(
    cluster: crate::model::ClusterKey,
    name: String,
    input: &DiffInput,
) -> ClusterPlan {
    let DiffInput {
        desired, current, ..
    } = input;
    let mut plan = ClusterPlan {
        name,
        cluster,
        targets: desired.targets.iter().cloned().collect(),
        server_version_num: Some(current.server_version_num),
        roles: Vec::new(),
        public: Vec::new(),
        notes: Vec::new(),
        unmanaged: unmanaged(input),
        expiring: expiring(input),
        errors: Vec::new(),
    };
    check_cluster(input, &mut plan.errors);
    let cascaded = cascades(input);
    let in_scope: BTreeSet<SettingScope> = std::iter::once(SettingScope::AllDatabases)
        .chain(
            desired
                .targets
                .iter()
                .map(|t| SettingScope::Database(t.database.clone())),
        )
        .collect();
    let membership_options_supported = current.server_version_num >= 160000;
    let membership_cascades = removed_by_cascades(input);
    // Both sides are sorted by name: one walk pairs them, instead of a search per role.
    let mut current_roles = current.roles.values().peekable();
    let mut membership_graph = membership_graph(input);
    for role in desired.roles.values() {
        let role = &*supported_options(role, membership_options_supported, &mut plan.notes);
        while current_roles.next_if(|r| r.name < role.name).is_some() {}
        let existing = current_roles.next_if(|r| r.name == role.name);
        let mut plan_for_role = match existing {
            None => create(role),
            Some(existing) => update(role, existing, &in_scope, input, &membership_cascades),
        };
        let privilege_changes =
            privileges(role, input, &cascaded, &mut plan.notes, &mut plan.errors);
        if !privilege_changes.is_empty() {
            let role_plan = plan_for_role.get_or_insert_with(|| {
                let action = if existing.is_some_and(CurrentRole::is_managed) {
                    RoleAction::Update
                } else {
                    RoleAction::Adopt
                };
                role_plan(role, action, Vec::new())
            });
            role_plan.changes.extend(privilege_changes);
        }
        check_memberships(
            input,
            &role.name,
            plan_for_role.as_mut(),
            &mut membership_graph,
            &mut plan.errors,
        );
        if let Some(role_plan) = plan_for_role {
            check_role(input, role, &role_plan, &mut plan.errors);
            plan.roles.push(role_plan);
        }
    }
    cascade::mark_dependents(current, &mut plan.roles);
    let admin_acts_as = |grantor: &RoleName| {
        current.admin.superuser || current.roles.get(grantor).is_some_and(|r| r.admin_acts_as)
    };
    for state in input.public.values() {
        let public = diff_public(
            input.public_policy,
            state,
            &|role| desired.roles.contains_key(role),
            &admin_acts_as,
        );
        plan.public.extend(public.changes);
        plan.notes.extend(public.notes);
        plan.errors.extend(public.errors);
    }
    plan_drops(input, &mut plan.roles, &mut plan.errors);
    apply_mode(input, &mut plan);
    if plan
        .roles
        .iter()
        .flat_map(|r| &r.changes)
        .chain(&plan.public)
        .any(|c| c.database().is_some())
    {
        plan.notes.push(
            "role changes run in one transaction on the cluster (markers past 2,000 in batches right after); \
             grants then run in one transaction per database, over that database's own connection"
                .to_string(),
        );
    }
    let log = current.admin.statement_log;
    if log.logs_statements && !log.admin_may_silence && plan.roles.iter().any(sets_password) {
        plan.notes.push(format!(
            "the server logs statements and admin \"{}\" may not turn that off for its \
             transaction: the SCRAM verifiers of the passwords set here will be in the server log, \
             which allows offline guessing of a chosen password; apply as a superuser, or GRANT SET \
             ON PARAMETER log_statement, log_min_duration_statement, log_min_error_statement to it",
            current.admin.name
        ));
    }
    plan
}

/// What the privilege diff needs to know about the cluster and its admin.
fn privilege_context<'a>(input: &'a DiffInput, cluster_wide_here: bool) -> Context<'a> {
    Context {
        server_version_num: input.current.server_version_num,
        admin_acts_as: Box::new(move |owner: &RoleName| {
            input.current.admin.superuser
                || input
                    .current
                    .roles
                    .get(owner)
                    .is_some_and(|r| r.admin_acts_as)
        }),
        role_known: Box::new(move |name: &RoleName| {
            input.current.roles.contains_key(name) || input.desired.roles.contains_key(name)
        }),
        cluster_wide_here,
    }
}

/// In each target database, the grants the plan's revokes remove by cascade.
fn cascades<'a>(input: &'a DiffInput) -> BTreeMap<&'a str, Cascaded> {
    input
        .databases
        .iter()
        .map(|(database, index)| {
            let roles: Vec<(&RoleName, &[GrantSpec])> = input
                .desired
                .roles
                .values()
                .map(|r| (&r.name, grants_in(r, database)))
                .collect();
            let context = privilege_context(input, true);
            (database.as_str(), cascaded(&roles, index, &context))
        })
        .collect()
}

/// What `role` is declared in `database`: its grants in its targets, nothing elsewhere.
fn grants_in<'a>(role: &'a DesiredRole, database: &str) -> &'a [GrantSpec] {
    if role.targets.iter().any(|t| t.database == database) {
        &role.grants
    } else {
        &[]
    }
}

/// The role's privilege changes in each registered database of this cluster.
fn privileges(
    role: &DesiredRole,
    input: &DiffInput,
    cascaded: &BTreeMap<&str, Cascaded>,
    notes: &mut Vec<String>,
    errors: &mut Vec<PlanError>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    let targeted: BTreeSet<&str> = role.targets.iter().map(|t| t.database.as_str()).collect();
    // Every registered database of the cluster that was read, the role's targets first: in the
    // others it is declared nothing, so what it holds there is revoked (narrowing `targets`
    // must not leave access behind, issue 11). Cluster-wide privileges are diffed once, in the
    // first target.
    let untargeted = input
        .databases
        .keys()
        .map(String::as_str)
        .filter(|d| !targeted.contains(d));
    let mut indexes = Vec::new();
    // A database missing from the cluster is already an error of the cluster.
    for (position, database) in targeted
        .iter()
        .copied()
        .chain(untargeted)
        .filter(|d| input.current.databases.contains(*d))
        .enumerate()
    {
        let Some(index) = input.databases.get(database) else {
            errors.push(PlanError::PrivilegesUnread {
                role: role.name.clone(),
                database: database.to_string(),
            });
            continue;
        };
        let is_target = targeted.contains(database);
        let diff = diff_database(
            &role.name,
            grants_in(role, database),
            index,
            &privilege_context(input, position == 0 && is_target),
            cascaded.get(database).unwrap_or(&Cascaded::new()),
        );
        if !is_target {
            changes.extend(diff.changes);
            errors.extend(diff.errors.into_iter().map(|error| PlanError::Privilege {
                role: role.name.clone(),
                error,
            }));
            continue;
        }
        indexes.push(index);
        changes.extend(diff.changes);
        notes.extend(
            diff.notes
                .into_iter()
                .map(|n| format!("role \"{}\": {n}", role.name)),
        );
        errors.extend(diff.errors.into_iter().map(|error| PlanError::Privilege {
            role: role.name.clone(),
            error,
        }));
    }
    errors.extend(
        missing_everywhere(&role.grants, &indexes)
            .into_iter()
            .map(|error| PlanError::Privilege {
                role: role.name.clone(),
                error,
            }),
    );
    changes
}

fn marker_of(role: &DesiredRole) -> String {
    Marker {
        profile: role.profile.clone(),
        rotation: role.password.rotation().map(str::to_string),
    }
    .to_comment()
}

fn password_source(policy: &PasswordPolicy) -> Option<PasswordSource> {
    match policy {
        PasswordPolicy::Generate { .. } => Some(PasswordSource::Generated),
        PasswordPolicy::Env { var, .. } => Some(PasswordSource::Env { var: var.clone() }),
        PasswordPolicy::None => None,
    }
}

fn create(role: &DesiredRole) -> Option<RolePlan> {
    let mut changes = vec![Change::CreateRole {
        attributes: role.attributes.clone(),
        password: password_source(&role.password),
    }];
    changes.extend(
        role.member_of
            .iter()
            .map(|(group, options)| Change::GrantMembership {
                group: group.clone(),
                options: *options,
                from: None,
                escalation: Vec::new(),
                granted_by: None,
            }),
    );
    for (scope, values) in &role.settings {
        for (name, value) in values {
            changes.push(Change::SetSetting {
                scope: scope.clone(),
                name: name.clone(),
                from: None,
                to: value.clone(),
            });
        }
    }
    changes.push(Change::SetMarker {
        from: None,
        to: marker_of(role),
    });
    Some(role_plan(role, RoleAction::Create, changes))
}

fn update(
    role: &DesiredRole,
    existing: &CurrentRole,
    in_scope: &BTreeSet<SettingScope>,
    input: &DiffInput,
    cascaded: &BTreeSet<DependentMembership>,
) -> Option<RolePlan> {
    let mut changes = Vec::new();
    if existing.attributes != role.attributes {
        changes.push(Change::AlterAttributes {
            changes: existing.attributes.diff(&role.attributes),
        });
    }
    // A role that already exists gets no new password unless its rotation key changed.
    if let (Some(rotation), Some(marker), Some(source)) = (
        role.password.rotation(),
        existing.marker(),
        password_source(&role.password),
    ) {
        if marker.rotation.as_deref() != Some(rotation) {
            changes.push(Change::ResetPassword {
                password: source,
                from_rotation: marker.rotation.clone(),
                to_rotation: Some(rotation.to_string()),
            });
        }
    }
    diff_memberships(role, existing, input, cascaded, &mut changes);
    diff_settings(role, existing, in_scope, &mut changes);
    let wanted_marker = marker_of(role);
    if existing.comment.as_deref() != Some(wanted_marker.as_str()) {
        changes.push(Change::SetMarker {
            from: existing.comment.clone(),
            to: wanted_marker,
        });
    }
    if changes.is_empty() {
        return None;
    }
    let action = if existing.is_managed() {
        RoleAction::Update
    } else {
        RoleAction::Adopt
    };
    Some(role_plan(role, action, changes))
}

/// Before PostgreSQL 16 a membership has no INHERIT or SET option: say so once per role and
/// plan without them rather than pretend.
fn supported_options<'r>(
    role: &'r DesiredRole,
    supported: bool,
    notes: &mut Vec<String>,
) -> Cow<'r, DesiredRole> {
    let unsupported = |o: &MembershipOptions| o.inherit.is_some() || o.set.is_some();
    if supported || !role.member_of.values().any(unsupported) {
        return Cow::Borrowed(role);
    }
    let mut role = role.clone();
    let mut dropped = Vec::new();
    for (group, options) in role.member_of.iter_mut() {
        if options.inherit.take().is_some() | options.set.take().is_some() {
            dropped.push(format!("\"{group}\""));
        }
    }
    if !dropped.is_empty() {
        notes.push(format!(
            "role \"{}\": the inherit/set options of its membership in {} need PostgreSQL 16; \
             this server does not support them, so they are not applied",
            role.name,
            dropped.join(", ")
        ));
    }
    Cow::Owned(role)
}

/// The grants of declared roles that another role's revoke removes with `CASCADE` (PostgreSQL
/// 16+; see `cascade`). The membership changes are replayed until what the plan grants again
/// no longer changes what the cascades remove: a member granted the ADMIN OPTION again keeps
/// the grants it made. Each round only grants back what the one before found removed, so a few
/// rounds settle it; the cap only guards against a case not thought of.
fn removed_by_cascades(input: &DiffInput) -> BTreeSet<DependentMembership> {
    const MAX_ROUNDS: usize = 8;
    let mut cascaded = BTreeSet::new();
    if input.current.server_version_num < 160000 {
        return cascaded;
    }
    for _ in 0..MAX_ROUNDS {
        let mut planned: Vec<(&RoleName, Vec<Change>)> = Vec::new();
        for role in input.desired.roles.values() {
            if let Some(existing) = input.current.roles.get(&role.name) {
                let mut changes = Vec::new();
                diff_memberships(role, existing, input, &cascaded, &mut changes);
                planned.push((&role.name, changes));
            }
        }
        let changes: Vec<(&RoleName, &Change)> = planned
            .iter()
            .flat_map(|(role, changes)| changes.iter().map(move |c| (*role, c)))
            .collect();
        let next = cascade::removed(input.current, &changes);
        if next == cascaded {
            break;
        }
        cascaded = next;
    }
    cascaded
}

fn diff_memberships(
    role: &DesiredRole,
    existing: &CurrentRole,
    input: &DiffInput,
    cascaded: &BTreeSet<DependentMembership>,
    changes: &mut Vec<Change>,
) {
    // A grant another revoke removes with CASCADE is gone by the time this role's revokes run:
    // revoked again it would fail, and a declared membership is granted again by the admin.
    let stays = |group: &RoleName, grantor: &RoleName| {
        cascaded.is_empty()
            || !cascaded.contains(&DependentMembership {
                member: existing.name.clone(),
                group: group.clone(),
                grantor: grantor.clone(),
            })
    };
    // One grant per membership before 16 (no grantor needed); from 16 one per grantor, and a
    // statement without GRANTED BY reaches only the admin's own, so each is named.
    let grants = |group: &RoleName| -> Vec<(Option<RoleName>, MembershipOptions)> {
        match existing.membership_grants.get(group) {
            Some(grants) if !grants.is_empty() => grants
                .iter()
                .filter(|g| stays(group, &g.grantor))
                .map(|g| (Some(g.grantor.clone()), g.options))
                .collect(),
            _ => vec![(
                None,
                existing.member_of.get(group).copied().unwrap_or_default(),
            )],
        }
    };
    // The membership as the cascades leave it: what its remaining grants give together.
    let held = |group: &RoleName| -> Option<MembershipOptions> {
        let have = existing.member_of.get(group).copied()?;
        match existing.membership_grants.get(group) {
            Some(all) if all.iter().any(|g| !stays(group, &g.grantor)) => all
                .iter()
                .filter(|g| stays(group, &g.grantor))
                .map(|g| g.options)
                .reduce(MembershipOptions::union),
            _ => Some(have),
        }
    };
    for (group, want) in &role.member_of {
        let Some(have) = held(group) else {
            changes.push(Change::GrantMembership {
                group: group.clone(),
                options: *want,
                from: None,
                escalation: Vec::new(),
                granted_by: None,
            });
            continue;
        };
        // An option left unset is the server's business; only declared ones are compared.
        let differs = |w: Option<bool>, h: Option<bool>| w.is_some() && h.is_some() && w != h;
        let grants = grants(group);
        // The member has an option if any grant gives it. An option declared false is taken
        // from each grant that gives it, as that grant's grantor; what is missing is then added
        // with the admin's own grant, so a grantor it may not act as is not needed for it.
        let mut changed = false;
        let mut admin_added = have.admin || !want.admin;
        let takes = |w: Option<bool>, h: Option<bool>| w == Some(false) && h == Some(true);
        for (grantor, options) in &grants {
            if takes(want.inherit, options.inherit) || takes(want.set, options.set) {
                // Before 16 the one grant is the admin's to change: the missing ADMIN OPTION
                // goes with it.
                let adds_admin = grantor.is_none() && !admin_added;
                admin_added |= adds_admin;
                changed = true;
                changes.push(Change::GrantMembership {
                    group: group.clone(),
                    options: MembershipOptions {
                        admin: adds_admin,
                        ..*want
                    },
                    from: Some(*options),
                    escalation: Vec::new(),
                    granted_by: grantor.clone(),
                });
            }
        }
        let lacks_true = differs(want.inherit, have.inherit) || differs(want.set, have.set);
        if !admin_added || (lacks_true && !changed) {
            changes.push(Change::GrantMembership {
                group: group.clone(),
                options: MembershipOptions {
                    admin: !admin_added,
                    ..*want
                },
                from: Some(have),
                escalation: Vec::new(),
                granted_by: None,
            });
        }
        if have.admin && !want.admin {
            for (grantor, options) in &grants {
                if options.admin {
                    changes.push(Change::RevokeMembershipAdmin {
                        group: group.clone(),
                        granted_by: grantor.clone(),
                        cascade: Vec::new(),
                    });
                }
            }
        }
    }
    for group in existing.member_of.keys() {
        if !role.member_of.contains_key(group) && !input.keeps_undeclared_membership(group) {
            for (grantor, _) in grants(group) {
                changes.push(Change::RevokeMembership {
                    group: group.clone(),
                    granted_by: grantor,
                    cascade: Vec::new(),
                });
            }
        }
    }
}

fn diff_settings(
    role: &DesiredRole,
    existing: &CurrentRole,
    in_scope: &BTreeSet<SettingScope>,
    changes: &mut Vec<Change>,
) {
    let empty = BTreeMap::new();
    for scope in in_scope {
        let wanted = role.settings.get(scope).unwrap_or(&empty);
        let have = existing.settings.get(scope).unwrap_or(&empty);
        for (name, value) in wanted {
            if have.get(name) != Some(value) {
                changes.push(Change::SetSetting {
                    scope: scope.clone(),
                    name: name.clone(),
                    from: have.get(name).cloned(),
                    to: value.clone(),
                });
            }
        }
        for (name, value) in have {
            if !wanted.contains_key(name) {
                changes.push(Change::ResetSetting {
                    scope: scope.clone(),
                    name: name.clone(),
                    from: value.clone(),
                });
            }
        }
    }
}

pub(super) fn role_plan(role: &DesiredRole, action: RoleAction, changes: Vec<Change>) -> RolePlan {
    RolePlan {
        role: role.name.clone(),
        action,
        profile: role.profile.clone(),
        targets: role.targets.clone(),
        changes,
    }
}

/// Problems that make the whole cluster unappliable: found before anything runs.
fn check_cluster(input: &DiffInput, errors: &mut Vec<PlanError>) {
    let admin = &input.current.admin;
    if !admin.superuser && !admin.createrole {
        errors.push(PlanError::AdminCannotManageRoles {
            admin: admin.name.clone(),
        });
    }
    for target in &input.desired.targets {
        if !input.current.databases.contains(&target.database) {
            errors.push(PlanError::MissingDatabase {
                target: target.clone(),
            });
        }
    }
}

fn check_role(input: &DiffInput, role: &DesiredRole, plan: &RolePlan, errors: &mut Vec<PlanError>) {
    let current = input.current;
    let admin = &current.admin;
    let unknown_settings = role
        .settings
        .values()
        .flat_map(BTreeMap::keys)
        .filter(|name| !name.contains('.') && !current.setting_names.contains(*name))
        .collect::<BTreeSet<_>>();
    for name in unknown_settings {
        errors.push(PlanError::UnknownSetting {
            role: role.name.clone(),
            name: name.clone(),
            suggestion: crate::model::spelling::nearest(
                name,
                current.setting_names.iter().map(String::as_str),
            )
            .map(str::to_string),
        });
    }
    for change in &plan.changes {
        let group = match change {
            Change::GrantMembership { group, .. }
            | Change::RevokeMembership { group, .. }
            | Change::RevokeMembershipAdmin { group, .. } => group,
            _ => continue,
        };
        let granted_by = match change {
            Change::GrantMembership { granted_by, .. }
            | Change::RevokeMembership { granted_by, .. }
            | Change::RevokeMembershipAdmin { granted_by, .. } => granted_by.as_ref(),
            _ => None,
        };
        // GRANTED BY needs the grantor's privileges; the admin is always itself.
        if let Some(grantor) = granted_by.filter(|g| !admin.superuser && g.as_str() != admin.name) {
            if !current.roles.get(grantor).is_some_and(|r| r.admin_acts_as) {
                errors.push(PlanError::MembershipGrantorNotActable {
                    role: role.name.clone(),
                    admin: admin.name.clone(),
                    group: group.clone(),
                    grantor: grantor.clone(),
                });
            }
        }
        match current.roles.get(group) {
            None if !input.desired.roles.contains_key(group) => {
                errors.push(PlanError::UnknownGroup {
                    role: role.name.clone(),
                    group: group.clone(),
                    at: role.member_of_at.clone(),
                })
            }
            // Before 16, CREATEROLE may grant any group but a superuser one; from 16, only
            // those it holds ADMIN OPTION on. Each refusal names its own cause.
            Some(existing) if !admin.superuser && existing.attributes.superuser => {
                errors.push(PlanError::MembershipInSuperuser {
                    role: role.name.clone(),
                    admin: admin.name.clone(),
                    group: group.clone(),
                })
            }
            Some(existing) if !admin.superuser && !existing.admin_can_alter => {
                errors.push(PlanError::MembershipNeedsAdminOption {
                    role: role.name.clone(),
                    admin: admin.name.clone(),
                    group: group.clone(),
                })
            }
            _ => {}
        }
    }
    if admin.superuser {
        return;
    }
    let a = &role.attributes;
    let needs_superuser: Vec<&str> = [
        ("SUPERUSER", a.superuser),
        ("REPLICATION", a.replication),
        ("BYPASSRLS", a.bypassrls),
    ]
    .into_iter()
    .filter(|(_, wanted)| *wanted)
    .map(|(name, _)| name)
    .collect();
    let touches_attributes = plan.changes.iter().any(|c| {
        matches!(
            c,
            Change::CreateRole { .. } | Change::AlterAttributes { .. }
        )
    });
    if touches_attributes && !needs_superuser.is_empty() {
        errors.push(PlanError::NeedsSuperuser {
            role: role.name.clone(),
            attributes: needs_superuser,
            admin: admin.name.clone(),
        });
    }
    if let Some(existing) = current.roles.get(&role.name) {
        if existing.attributes.superuser {
            errors.push(PlanError::CannotAlterSuperuser {
                role: role.name.clone(),
                admin: admin.name.clone(),
            });
        } else if !existing.admin_can_alter {
            errors.push(PlanError::CannotAlterRole {
                role: role.name.clone(),
                admin: admin.name.clone(),
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
