//! Values keyed by a role name they carry, as a Vec sorted by that name: roles by their name,
//! memberships by their group.

use super::RoleName;
use serde::Serialize;

/// A value that carries the role name it is keyed by in a [`RoleMap`].
pub trait Named {
    fn name(&self) -> &RoleName;
}

/// Roles sorted by name and found by binary search. The key is the role's own `name`, not a
/// second copy. A fleet has tens of thousands of roles, desired and current: a BTreeMap's
/// copied keys and its nodes (half empty when filled in order) doubled their memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleMap<R>(Vec<R>);

impl<R> Default for RoleMap<R> {
    fn default() -> Self {
        RoleMap(Vec::new())
    }
}

impl<R: Named> RoleMap<R> {
    pub fn new() -> Self {
        RoleMap(Vec::new())
    }

    fn position(&self, name: &RoleName) -> Result<usize, usize> {
        self.0.binary_search_by(|r| r.name().cmp(name))
    }

    pub fn get(&self, name: &RoleName) -> Option<&R> {
        self.position(name).ok().map(|i| &self.0[i])
    }

    pub fn get_mut(&mut self, name: &RoleName) -> Option<&mut R> {
        self.position(name).ok().map(|i| &mut self.0[i])
    }

    pub fn contains_key(&self, name: &RoleName) -> bool {
        self.position(name).is_ok()
    }

    /// Adds or replaces the role of that name; returns the one replaced.
    pub(crate) fn insert(&mut self, role: R) -> Option<R> {
        match self.position(role.name()) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i], role)),
            Err(i) => {
                self.0.insert(i, role);
                None
            }
        }
    }

    /// In name order.
    pub fn values(&self) -> std::slice::Iter<'_, R> {
        self.0.iter()
    }

    pub(crate) fn values_mut(&mut self) -> std::slice::IterMut<'_, R> {
        self.0.iter_mut()
    }

    pub fn keys(&self) -> impl Iterator<Item = &RoleName> {
        self.0.iter().map(Named::name)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Roles already sorted by name with no name twice (checked; sorted here if not).
    /// Of roles that share a name the last is kept, as collecting into a BTreeMap would.
    pub(crate) fn from_vec(mut roles: Vec<R>) -> Self {
        if !roles.is_sorted_by(|a, b| a.name() < b.name()) {
            // Stable, so that "the last" is the last given.
            roles.sort_by(|a, b| a.name().cmp(b.name()));
            roles.reverse();
            roles.dedup_by(|later, earlier| later.name() == earlier.name());
            roles.reverse();
        }
        RoleMap(roles)
    }
}

impl<R: Named> FromIterator<R> for RoleMap<R> {
    fn from_iter<I: IntoIterator<Item = R>>(iter: I) -> Self {
        RoleMap::from_vec(iter.into_iter().collect())
    }
}

impl<'a, R> IntoIterator for &'a RoleMap<R> {
    type Item = &'a R;
    type IntoIter = std::slice::Iter<'a, R>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<R: Named> std::ops::Index<&RoleName> for RoleMap<R> {
    type Output = R;

    /// Panics when no role has that name, as a BTreeMap's index does.
    fn index(&self, name: &RoleName) -> &R {
        match self.get(name) {
            Some(role) => role,
            None => panic!("no role named {name}"),
        }
    }
}

/// Serialized as the map it stands for: name -> role.
impl<R: Named + Serialize> Serialize for RoleMap<R> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|r| (r.name(), r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Role(RoleName, u8);

    impl Named for Role {
        fn name(&self) -> &RoleName {
            &self.0
        }
    }

    fn role(name: &str, tag: u8) -> Role {
        Role(RoleName::existing(name), tag)
    }

    #[test]
    fn sorted_by_name_and_the_last_of_a_name_wins() {
        let map: RoleMap<Role> = [role("b", 1), role("a", 1), role("b", 2), role("c", 1)]
            .into_iter()
            .collect();
        let names: Vec<&str> = map.keys().map(RoleName::as_str).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(map.get(&RoleName::existing("b")), Some(&role("b", 2)));
        assert!(!map.contains_key(&RoleName::existing("d")));
    }

    #[test]
    fn insert_keeps_the_order_and_replaces() {
        let mut map = RoleMap::new();
        assert_eq!(map.insert(role("m", 1)), None);
        assert_eq!(map.insert(role("a", 1)), None);
        assert_eq!(map.insert(role("z", 1)), None);
        assert_eq!(map.insert(role("m", 2)), Some(role("m", 1)));
        let tags: Vec<(&str, u8)> = map.values().map(|r| (r.0.as_str(), r.1)).collect();
        assert_eq!(tags, [("a", 1), ("m", 2), ("z", 1)]);
    }
}
