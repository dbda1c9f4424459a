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
//! column grants, which go last: a table-level REVOKE also takes the privilege off every column.

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
    GrantPrivileges,
    RevokePrivileges,
    GrantColumnPrivileges,
}

pub(crate) fn phase(change: &Change) -> Phase {
    match change {
        Change::CreateRole { .. } => Phase::Create,
        Change::AlterAttributes { .. } | Change::ResetPassword { .. } => Phase::Alter,
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
