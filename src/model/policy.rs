//! How far a plan goes: what it may take away (`mode`), what it says about roles nobody
//! declared (`unmanaged_roles`), and how early it warns of expiring access (`expiry_warning`).

use serde::{Deserialize, Serialize};

/// `authoritative` converges everything pgroster manages; `additive` never revokes, drops or
/// removes a setting (a safe first run on a hand-made cluster).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Authoritative,
    Additive,
}

/// What the plan does with a role that is neither declared, managed nor ignored.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UnmanagedRoles {
    /// Listed; the exit code is unchanged.
    #[default]
    Report,
    /// Listed, and counted as drift by `plan --detailed-exitcode`.
    Drift,
    /// Not listed.
    Ignore,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanPolicy {
    pub mode: Mode,
    pub unmanaged_roles: UnmanagedRoles,
    /// Declared roles whose `valid_until` falls within this are warned about.
    pub expiry_warning: jiff::SignedDuration,
}

impl Default for PlanPolicy {
    fn default() -> Self {
        PlanPolicy {
            mode: Mode::default(),
            unmanaged_roles: UnmanagedRoles::default(),
            expiry_warning: jiff::SignedDuration::from_hours(14 * 24),
        }
    }
}
