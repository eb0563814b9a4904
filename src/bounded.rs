//! A map of bounded size, for what an isolate keeps in memory per key, connection or token. An
//! isolate can live for hours and see any number of distinct keys; each such map holds at most its
//! cap. When a new key would exceed the cap the map is emptied first: what these maps hold can be
//! rebuilt (looked up again, counted afresh), and emptying is O(1) amortized with no bookkeeping on
//! the hot path, where an LRU would need some on every read.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug)]
pub struct BoundedMap<K, V> {
    map: HashMap<K, V>,
    cap: usize,
}

impl<K: Eq + Hash, V> BoundedMap<K, V> {
    pub fn new(cap: usize) -> Self {
        BoundedMap { map: HashMap::new(), cap: cap.max(1) }
    }

    pub fn get<Q: Eq + Hash + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key)
    }

    pub fn remove<Q: Eq + Hash + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.map.remove(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn retain(&mut self, keep: impl FnMut(&K, &mut V) -> bool) {
        self.map.retain(keep);
    }

    /// Whether `key` can be added without emptying the map (it is there already, or there is room).
    pub fn has_room_for<Q: Eq + Hash + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.len() < self.cap || self.map.contains_key(key)
    }

    pub fn insert(&mut self, key: K, value: V) {
        self.make_room(&key);
        self.map.insert(key, value);
    }

    /// The value under `key`, added as `V::default()` if missing.
    pub fn entry_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        self.make_room(&key);
        self.map.entry(key).or_default()
    }

    fn make_room(&mut self, key: &K) {
        if !self.has_room_for(key) {
            self.map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_through_distinct_keys_never_holds_more_than_the_cap() {
        let mut m = BoundedMap::new(100);
        for i in 0..100_000u32 {
            *m.entry_or_default(format!("key-{i}")) += 1u64;
            m.insert(format!("other-{i}"), 0);
            assert!(m.len() <= 100);
        }
        assert!(!m.is_empty());
    }

    #[test]
    fn known_keys_are_updated_in_place_even_when_full() {
        let mut m = BoundedMap::new(2);
        m.insert("a", 1);
        m.insert("b", 2);
        assert!(m.has_room_for("a") && !m.has_room_for("c"));
        m.insert("a", 3);
        *m.entry_or_default("b") += 1;
        assert_eq!((m.get("a"), m.get("b"), m.len()), (Some(&3), Some(&3), 2), "nothing was dropped");
        m.insert("c", 4);
        assert_eq!((m.get("a"), m.get("c"), m.len()), (None, Some(&4), 1), "a new key past the cap empties it first");
        assert_eq!(m.remove("c"), Some(4));
    }
}
