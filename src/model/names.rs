//! Validated names: roles, targets (env/database) and clusters (host:port).

use serde::{Deserialize, Serialize};

/// PostgreSQL truncates identifiers to NAMEDATALEN-1 bytes (docs: Lexical Structure, Identifiers).
const MAX_IDENTIFIER_BYTES: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("role name is empty")]
    Empty,
    #[error("role name `{0}` is {1} bytes; PostgreSQL allows at most 63")]
    TooLong(String, usize),
    #[error("role name `{0}` contains a NUL or control character")]
    Control(String),
    #[error("role name `{0}` is reserved by PostgreSQL (names starting with `pg_`, and {} cannot be created)", RESERVED_ROLE_NAMES.join(", "))]
    Reserved(String),
}

/// Names a role statement reads as something else: PUBLIC (every role), NONE, and the keywords
/// that name the session's roles (docs: CREATE ROLE, and the role specifications of GRANT and
/// ALTER ROLE). Refused in any case, as the names read the same to a reviewer.
const RESERVED_ROLE_NAMES: &[&str] = &[
    "public",
    "none",
    "current_user",
    "session_user",
    "current_role",
];

/// A role name exactly as the user wrote it: case-sensitive, always quoted in SQL. Read back
/// from a saved plan as it was written there, like a catalog's name (`existing`).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct RoleName(String);

impl RoleName {
    /// Validates a name pgroster may create: any characters but control ones, at most 63 bytes,
    /// not one of the names PostgreSQL reserves.
    pub fn new(name: &str) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_IDENTIFIER_BYTES {
            return Err(NameError::TooLong(name.to_string(), name.len()));
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::Control(name.to_string()));
        }
        let reserved = RESERVED_ROLE_NAMES
            .iter()
            .any(|r| name.eq_ignore_ascii_case(r));
        if name.starts_with("pg_") || reserved {
            return Err(NameError::Reserved(name.to_string()));
        }
        Ok(RoleName(name.to_string()))
    }

    /// A name read from the catalog (or a group referenced by `member_of`): trusted as it is.
    pub fn existing(name: impl Into<String>) -> Self {
        RoleName(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registry entry's address: `env/database`.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct TargetName {
    pub env: String,
    pub database: String,
}

impl std::fmt::Display for TargetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.env, self.database)
    }
}

/// A PostgreSQL cluster, the unit that owns roles.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct ClusterKey {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hostile_but_valid_names_verbatim() {
        for name in [
            "JSmith",
            "evil SUPERUSER",
            "a\"b",
            "'; drop role x; --",
            "é",
        ] {
            assert_eq!(RoleName::new(name).map(|n| n.0), Ok(name.to_string()));
        }
    }

    #[test]
    fn rejects_invalid_names() {
        assert!(matches!(RoleName::new(""), Err(NameError::Empty)));
        assert!(matches!(
            RoleName::new(&"x".repeat(64)),
            Err(NameError::TooLong(_, 64))
        ));
        assert!(RoleName::new(&"x".repeat(63)).is_ok());
        assert!(matches!(RoleName::new("a\nb"), Err(NameError::Control(_))));
        assert!(matches!(RoleName::new("pg_x"), Err(NameError::Reserved(_))));
        for reserved in [
            "Public",
            "none",
            "NONE",
            "current_user",
            "session_user",
            "current_role",
        ] {
            assert!(
                matches!(RoleName::new(reserved), Err(NameError::Reserved(_))),
                "{reserved}"
            );
        }
    }
}
