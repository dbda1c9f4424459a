//! PUBLIC's privileges under the opt-in `public_privileges` policy, and the grants held in the
//! system schemas: the desired policy and what one database holds.
//!
//! Without the policy pgroster never touches PUBLIC. With it, the privileges it names are
//! revoked from PUBLIC in every active target database; turning it off re-grants nothing.

use super::privileges::ObjectRef;
use super::RoleName;
use serde::Serialize;
use std::collections::BTreeSet;

/// Routines that create a large object, from SQL or over libpq's fast path (which checks
/// EXECUTE too). `lo_import` is not PUBLIC-executable by default (docs: Large Objects,
/// Server-Side Functions).
/// `lo_creat(integer)`, `lo_create(oid)` and `lo_from_bytea(oid, bytea)`, in `pg_catalog`.
pub const LARGE_OBJECT_CREATORS: &[&str] = &["lo_creat", "lo_create", "lo_from_bytea"];

/// `[settings.public_privileges]`: what PUBLIC must not hold in each registered database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicPolicy {
    /// TEMPORARY on the database itself.
    pub revoke_temporary: bool,
    /// CREATE on these schemas.
    pub revoke_create_on_schemas: BTreeSet<String>,
    /// EXECUTE on every routine in these schemas, and on the routines their owners create later.
    pub revoke_execute_in_schemas: BTreeSet<String>,
    /// EXECUTE on [`LARGE_OBJECT_CREATORS`].
    pub revoke_large_object_create: bool,
}

/// A privilege PUBLIC holds, and who granted it (a REVOKE names each grantor).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PublicHeld {
    pub object: ObjectRef,
    pub privilege: String,
    pub grantor: RoleName,
}

/// A privilege a role holds directly on an object in `pg_catalog` or `information_schema`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SystemGrant {
    pub grantee: RoleName,
    pub object: ObjectRef,
    pub privilege: String,
}

/// What one database holds that the policy and the system-schema warnings are about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PublicState {
    pub database: String,
    /// The policy's schemas that exist in the database.
    pub schemas: BTreeSet<String>,
    /// PUBLIC's privileges on the objects the policy names.
    pub held: BTreeSet<PublicHeld>,
    /// Roles whose routines created later would be PUBLIC-executable (their global default
    /// privileges on routines still include PUBLIC): the owners of the routines in the policy's
    /// schemas, and those schemas' owners.
    pub execute_by_default: BTreeSet<RoleName>,
    pub system_grants: BTreeSet<SystemGrant>,
}
