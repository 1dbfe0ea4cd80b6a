//! A small least-recently-used cache with string keys, as `k8s.io/utils/lru` (which the
//! event correlator's caches use): `get` and `insert` make an entry the most recent; an
//! insert beyond the capacity evicts the least recent entry.

use std::collections::{BTreeMap, HashMap};

/// A bounded map that forgets its least recently used entries.
#[derive(Debug)]
pub(crate) struct Lru<V> {
    capacity: usize,
    tick: u64,
    entries: HashMap<String, (V, u64)>,
    order: BTreeMap<u64, String>,
}

impl<V> Lru<V> {
    /// An empty cache holding at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), tick: 0, entries: HashMap::new(), order: BTreeMap::new() }
    }

    fn touch(&mut self, key: &str) -> u64 {
        self.tick += 1;
        let tick = self.tick;
        if let Some((_, t)) = self.entries.get_mut(key) {
            self.order.remove(t);
            *t = tick;
            self.order.insert(tick, key.to_owned());
        }
        tick
    }

    /// The value for `key`, made the most recent.
    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        if !self.entries.contains_key(key) {
            return None;
        }
        self.touch(key);
        self.entries.get_mut(key).map(|(v, _)| v)
    }

    /// Stores `value` under `key` as the most recent entry, evicting the least recent one
    /// when the cache is full.
    pub(crate) fn insert(&mut self, key: &str, value: V) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.0 = value;
            self.touch(key);
            return;
        }
        if self.entries.len() >= self.capacity
            && let Some((_, oldest)) = self.order.pop_first()
        {
            self.entries.remove(&oldest);
        }
        self.tick += 1;
        self.entries.insert(key.to_owned(), (value, self.tick));
        self.order.insert(self.tick, key.to_owned());
    }

    /// How many entries the cache holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut lru = Lru::new(2);
        lru.insert("a", 1);
        lru.insert("b", 2);
        assert_eq!(lru.get_mut("a").copied(), Some(1)); // a is now the most recent
        lru.insert("c", 3); // evicts b
        assert_eq!(lru.len(), 2);
        assert!(lru.get_mut("b").is_none());
        assert_eq!(lru.get_mut("a").copied(), Some(1));
        assert_eq!(lru.get_mut("c").copied(), Some(3));
        lru.insert("c", 4); // replacing does not evict
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.get_mut("c").copied(), Some(4));
    }
}
