//! The order of changes inside one cluster's transaction, decided here once.
//!
//! Roles are created first so that memberships and settings can name them; memberships are
//! granted before any are revoked so a role never passes through a state with less access than
//! both the old and the new plan give (and a member whose grant a revoke's CASCADE removes is
//! granted the membership again before, see `cascade`); markers go last so a role is marked
//! managed only with or after everything else about it (past the first 2,000, see
//! `apply::prepare`, they run in batches of their own right after).
//!
//! Privileges run afterwards, in each database's own transaction over its own connection (the
//! roles they name are committed by then): grants before revokes, for the same reason, except
//! column grants, which go after them: a table-level REVOKE also takes the privilege off every
//! column.
//!
//! A dropped role (issue 11) is made NOLOGIN in the cluster's role transaction; its sessions
//! end in a transaction of their own once that committed; its objects and privileges go last
//! in each database; DROP ROLE runs after every database, so a drop that fails half-way never
//! leaves a live login, and the next apply finishes it.

use super::Change;
use crate::model::privileges::ObjectKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Create,
    Alter,
    Grant,
    Settings,
    Revoke,
    Mark,
    /// A dropped role's sessions, in a transaction of their own once its NOLOGIN committed.
    EndSessions,
    GrantPrivileges,
    RevokePrivileges,
    GrantColumnPrivileges,
    /// A dropped role's objects and privileges, last in each database.
    DropOwned,
    /// DROP ROLE, in a transaction of its own after every database.
    Drop,
}

pub(crate) fn phase(change: &Change) -> Phase {
    match change {
        Change::CreateRole { .. } => Phase::Create,
        Change::AlterAttributes { .. }
        | Change::ResetPassword { .. }
        | Change::PrepareDrop { .. } => Phase::Alter,
        Change::EndSessions => Phase::EndSessions,
        Change::DropOwned { .. } => Phase::DropOwned,
        Change::DropRole => Phase::Drop,
        Change::GrantMembership { .. } => Phase::Grant,
        Change::SetSetting { .. } | Change::ResetSetting { .. } => Phase::Settings,
        Change::RevokeMembership { .. } | Change::RevokeMembershipAdmin { .. } => Phase::Revoke,
        Change::SetMarker { .. } => Phase::Mark,
        Change::Grant {
            kind: ObjectKind::Column,
            ..
        } => Phase::GrantColumnPrivileges,
        Change::Grant { .. } | Change::GrantDefault { .. } => Phase::GrantPrivileges,
        Change::Revoke { .. } | Change::RevokeDefault { .. } => Phase::RevokePrivileges,
    }
}
