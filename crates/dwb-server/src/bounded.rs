//! The one shape of this node's in-process caches (accounts, verified
//! tokens, workspaces, schema versions): a map read under a shared lock
//! that holds at most a fixed number of entries and starts over when full.
//! Starting over costs a burst of store reads, never a wrong answer, and
//! needs no bookkeeping on a hit.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{RwLock, RwLockWriteGuard};

/// A map of at most `MAX` entries.
pub struct Bounded<K, V, const MAX: usize> {
    entries: RwLock<HashMap<K, V>>,
}

/// The map held for writing, for changes that must happen under the lock
/// together with the caller's own bookkeeping.
pub struct Writing<'a, K, V, const MAX: usize> {
    map: RwLockWriteGuard<'a, HashMap<K, V>>,
}

impl<K, V, const MAX: usize> Default for Bounded<K, V, MAX> {
    fn default() -> Self {
        Self {
            entries: RwLock::default(),
        }
    }
}

impl<K: Eq + Hash, V, const MAX: usize> Bounded<K, V, MAX> {
    /// What `f` makes of `key`'s entry, under the shared lock.
    pub fn read<R>(&self, key: &K, f: impl FnOnce(&V) -> Option<R>) -> Option<R> {
        // A panic under the lock cannot leave the map half-changed (each
        // change is one `HashMap` call), so a poisoned lock is still usable.
        let map = self.entries.read().unwrap_or_else(|p| p.into_inner());
        map.get(key).and_then(f)
    }

    /// A copy of `key`'s entry.
    pub fn get(&self, key: &K) -> Option<V>
    where
        V: Clone,
    {
        self.read(key, |v| Some(v.clone()))
    }

    pub fn insert(&self, key: K, value: V) {
        self.write().insert(key, value);
    }

    pub fn write(&self) -> Writing<'_, K, V, MAX> {
        Writing {
            map: self.entries.write().unwrap_or_else(|p| p.into_inner()),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl<K: Eq + Hash, V, const MAX: usize> Writing<'_, K, V, MAX> {
    /// Keeps `value` for `key`; a full map is emptied first.
    pub fn insert(&mut self, key: K, value: V) {
        if self.map.len() >= MAX && !self.map.contains_key(&key) {
            self.map.clear();
        }
        self.map.insert(key, value);
    }

    pub fn remove(&mut self, key: &K) {
        self.map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_starts_over_and_a_replaced_entry_does_not_empty_it() {
        let map = Bounded::<_, _, 2>::default();
        map.insert(1, "one");
        map.insert(2, "two");
        map.insert(2, "deux");
        assert_eq!(
            (map.len(), map.get(&1), map.get(&2)),
            (2, Some("one"), Some("deux"))
        );
        map.insert(3, "three");
        assert_eq!(
            (map.len(), map.get(&1), map.get(&3)),
            (1, None, Some("three"))
        );
    }

    #[test]
    fn read_sees_the_entry_and_removed_entries_are_gone() {
        let map = Bounded::<_, _, 10>::default();
        map.insert("key", 7);
        assert_eq!(map.read(&"key", |v| (*v > 5).then_some("big")), Some("big"));
        assert_eq!(map.read(&"key", |v| (*v > 9).then_some("big")), None);
        map.write().remove(&"key");
        assert_eq!(map.get(&"key"), None);
    }
}
