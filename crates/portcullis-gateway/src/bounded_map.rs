//! A sharded hash map with a hard bound on its size, for state keyed by what clients send
//! (tokens, rate-limit keys): memory stays bounded whatever they send. When a shard is full,
//! stale entries (the caller says which) are dropped first, then an arbitrary one.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;

const SHARDS: usize = 16;

/// The map.
pub struct BoundedMap<K, V> {
    shards: Vec<Mutex<HashMap<K, V>>>,
    per_shard: usize,
    hasher: RandomState,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// A map holding at most about `capacity` entries (0: holds nothing).
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
            hasher: RandomState::new(),
        }
    }

    /// Runs `f` on the (locked) shard that holds `key`.
    pub fn with<Q, R>(&self, key: &Q, f: impl FnOnce(&mut Shard<'_, K, V>) -> R) -> R
    where
        Q: Hash + ?Sized,
    {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        let mut map = self.shards[index].lock().unwrap_or_else(|p| p.into_inner());
        f(&mut Shard {
            map: &mut map,
            per_shard: self.per_shard,
        })
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One locked shard.
pub struct Shard<'a, K, V> {
    /// The entries.
    pub map: &'a mut HashMap<K, V>,
    per_shard: usize,
}

impl<K: Hash + Eq + Clone, V> Shard<'_, K, V> {
    /// Inserts, making room first when the shard is full: stale entries go, then any one.
    /// Does nothing when the map holds nothing (capacity 0).
    pub fn insert_bounded(&mut self, key: K, value: V, stale: impl Fn(&V) -> bool) {
        if self.per_shard == 0 {
            return;
        }
        if self.map.len() >= self.per_shard && !self.map.contains_key(&key) {
            self.map.retain(|_, v| !stale(v));
            if self.map.len() >= self.per_shard {
                if let Some(victim) = self.map.keys().next().cloned() {
                    self.map.remove(&victim);
                }
            }
        }
        self.map.insert(key, value);
    }
}
