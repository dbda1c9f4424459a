//! The digests a saved plan is checked with: one per config file, and one per cluster of the
//! state it was planned against (a fingerprint).

use crate::config::SourceFile;
use crate::model::privileges::DatabaseState;
use crate::model::public::PublicState;
use crate::model::{CurrentCluster, MembershipGrant, RoleName};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// `sha256:` and the hex digest of `bytes`.
fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `sha256:` and the hex digest of `value`'s JSON, hashed as it is written: the read state of
/// a 10,000-role cluster is megabytes of JSON that need not be held.
fn sha256_json(value: &impl Serialize) -> String {
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hashing = Hashing(Sha256::new());
    // Serializing plain data into a writer that cannot fail does not fail.
    let _ = serde_json::to_writer(&mut hashing, value);
    hex(&hashing.0.finalize())
}

fn hex(digest: &[u8]) -> String {
    let mut text = String::with_capacity(7 + 2 * digest.len());
    text.push_str("sha256:");
    for byte in digest.iter() {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Every config file a plan was made from, by path relative to the config directory, with
/// the digest of its content; `digest` covers them all, paths included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigDigest {
    pub digest: String,
    pub files: BTreeMap<String, String>,
}

impl ConfigDigest {
    /// The digest of the files read from the config directory `dir`.
    pub fn new(dir: &Path, files: &[SourceFile]) -> ConfigDigest {
        let files: BTreeMap<String, String> = files
            .iter()
            .map(|file| {
                let path = file.path.strip_prefix(dir).unwrap_or(&file.path);
                (path.display().to_string(), sha256(file.text().as_bytes()))
            })
            .collect();
        // The map's JSON is unambiguous where a plain concatenation of paths and texts is not.
        let digest = sha256_json(&files);
        ConfigDigest { digest, files }
    }

    /// What differs from `now`, one phrase per file: `roles.toml changed`, `a.yaml added`.
    pub fn differences(&self, now: &ConfigDigest) -> Vec<String> {
        let mut differences = Vec::new();
        for (path, digest) in &self.files {
            match now.files.get(path) {
                None => differences.push(format!("{path} removed")),
                Some(now) if now != digest => differences.push(format!("{path} changed")),
                Some(_) => {}
            }
        }
        for path in now.files.keys() {
            if !self.files.contains_key(path) {
                differences.push(format!("{path} added"));
            }
        }
        differences
    }
}

/// Everything the planner looked at on one cluster, in one canonical order.
#[derive(Serialize)]
struct ReadState<'a> {
    current: &'a CurrentCluster,
    /// The grants behind each membership (PostgreSQL 16+), which `CurrentRole` does not
    /// serialize; sorted here, as the catalog returns them in no fixed order.
    membership_grants: Vec<(&'a RoleName, &'a RoleName, &'a MembershipGrant)>,
    databases: &'a BTreeMap<String, DatabaseState>,
    public: &'a BTreeMap<String, PublicState>,
}

/// The fingerprint of a cluster's state as read for a plan: any change that could change the
/// plan (a role, membership, setting, privilege, default privilege, object or owner, a
/// database created or dropped, the admin's own rights) changes it. Nothing in the state is
/// volatile (no timestamps, pids or statistics), so reading an unchanged cluster twice gives
/// the same fingerprint.
pub fn fingerprint(
    current: &CurrentCluster,
    databases: &BTreeMap<String, DatabaseState>,
    public: &BTreeMap<String, PublicState>,
) -> String {
    let mut membership_grants: Vec<_> = current
        .roles
        .values()
        .flat_map(|role| {
            role.membership_grants
                .iter()
                .flat_map(move |(group, grants)| {
                    grants.iter().map(move |grant| (&role.name, group, grant))
                })
        })
        .collect();
    membership_grants.sort();
    let state = ReadState {
        current,
        membership_grants,
        databases,
        public,
    };
    sha256_json(&state)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Format;
    use crate::model::{CurrentRole, MembershipOptions, Memberships};

    fn role(name: &str, grants: &[(&str, &str)]) -> CurrentRole {
        let mut membership_grants: BTreeMap<RoleName, Vec<MembershipGrant>> = BTreeMap::new();
        for (group, grantor) in grants {
            membership_grants
                .entry(RoleName::existing(*group))
                .or_default()
                .push(MembershipGrant {
                    grantor: RoleName::existing(*grantor),
                    options: MembershipOptions::default(),
                });
        }
        CurrentRole {
            member_of: grants
                .iter()
                .map(|(group, _)| (RoleName::existing(*group), MembershipOptions::default()))
                .collect::<Memberships>(),
            membership_grants,
            ..CurrentRole::bare(name)
        }
    }

    fn cluster(roles: Vec<CurrentRole>) -> CurrentCluster {
        CurrentCluster {
            databases: ["app".to_string()].into(),
            ..CurrentCluster::bare(160000, "postgres", roles)
        }
    }

    #[test]
    fn a_fingerprint_sees_a_membership_grantor_and_not_the_order_grants_were_read_in() {
        let print = |roles| fingerprint(&cluster(roles), &BTreeMap::new(), &BTreeMap::new());
        let one = print(vec![role("a", &[("g", "x"), ("g", "y")])]);
        assert_eq!(one, print(vec![role("a", &[("g", "y"), ("g", "x")])]));
        assert_ne!(one, print(vec![role("a", &[("g", "x"), ("g", "z")])]));
        assert_ne!(one, print(vec![role("a", &[("g", "x")])]));
        let mut privileges = BTreeMap::new();
        privileges.insert("app".to_string(), DatabaseState::default());
        let roles = cluster(vec![role("a", &[("g", "x"), ("g", "y")])]);
        assert_ne!(one, fingerprint(&roles, &privileges, &BTreeMap::new()));
    }

    fn files(texts: &[(&str, &str)]) -> Vec<SourceFile> {
        texts
            .iter()
            .map(|(path, text)| {
                SourceFile::new(
                    &Path::new("/cfg").join(path),
                    Format::Toml,
                    text.to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn a_config_digest_names_each_file_that_changed_appeared_or_went() {
        let dir = Path::new("/cfg");
        let before = ConfigDigest::new(dir, &files(&[("a.toml", "x"), ("b.toml", "y")]));
        let same = ConfigDigest::new(dir, &files(&[("a.toml", "x"), ("b.toml", "y")]));
        assert_eq!(before, same);
        assert!(before.differences(&same).is_empty());
        assert!(before.files.contains_key("a.toml"), "{:?}", before.files);
        let after = ConfigDigest::new(dir, &files(&[("a.toml", "x2"), ("c.toml", "y")]));
        assert_ne!(before.digest, after.digest);
        assert_eq!(
            before.differences(&after),
            ["a.toml changed", "b.toml removed", "c.toml added"]
        );
    }

    #[test]
    fn moving_text_between_files_changes_the_config_digest() {
        let dir = Path::new("/cfg");
        let one = ConfigDigest::new(dir, &files(&[("a.toml", "xy"), ("b.toml", "")]));
        let other = ConfigDigest::new(dir, &files(&[("a.toml", "x"), ("b.toml", "y")]));
        assert_ne!(one.digest, other.digest);
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
