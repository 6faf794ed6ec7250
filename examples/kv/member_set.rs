//! `MemberSet`: a set whose random member can be removed in constant time (`SPOP`).

use std::collections::HashMap;
use std::sync::Arc;

/// A set of byte strings.
///
/// Members live in a vector (for picking one at random) and in a map from member to its
/// position (for lookups); both share each member's bytes through an `Arc`. Removing swaps the
/// last member into the hole, so every operation is O(1). A plain `HashSet` cannot pick at
/// random: taking its first member over and over scans ever more empty buckets, so emptying a
/// large set with `SPOP` would cost quadratic time.
#[derive(Default)]
pub(crate) struct MemberSet {
    /// Every member, in no particular order.
    members: Vec<Arc<[u8]>>,
    /// Each member's position in `members`.
    index: HashMap<Arc<[u8]>, usize>,
}

impl MemberSet {
    /// Adds `member`; returns whether it was new.
    pub(crate) fn insert(&mut self, member: &[u8]) -> bool {
        if self.index.contains_key(member) {
            return false;
        }
        let member: Arc<[u8]> = Arc::from(member);
        self.index.insert(Arc::clone(&member), self.members.len());
        self.members.push(member);
        true
    }

    /// How many members there are.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// Every member, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.members.iter().map(|m| &m[..])
    }

    /// Removes and returns the member at position `pick % len`, `None` if empty.
    pub(crate) fn pop_at(&mut self, pick: u64) -> Option<Vec<u8>> {
        if self.members.is_empty() {
            return None;
        }
        let at = (pick % self.members.len() as u64) as usize;
        let member = self.members.swap_remove(at);
        self.index.remove(&member[..]);
        if let Some(moved) = self.members.get(at) {
            if let Some(position) = self.index.get_mut(&moved[..]) {
                *position = at;
            }
        }
        Some(member.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Popping every member, whatever the picks, gives each member back exactly once.
    #[test]
    fn pops_each_member_once() {
        let mut set = MemberSet::default();
        for i in 0..100u32 {
            assert!(set.insert(&i.to_le_bytes()));
            assert!(!set.insert(&i.to_le_bytes()));
        }
        let mut popped: Vec<Vec<u8>> = (0..100u64)
            .map(|i| set.pop_at(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).unwrap())
            .collect();
        assert!(set.pop_at(0).is_none());
        popped.sort();
        popped.dedup();
        assert_eq!(popped.len(), 100);
        assert!(set.insert(b"again"));
    }
}
