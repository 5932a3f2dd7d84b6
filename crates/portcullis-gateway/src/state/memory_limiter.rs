//! The embedded rate-limit backend: GCRA state (one TAT per key) in process memory, sharded to
//! keep lock hold times short, and bounded: a full shard first forgets keys whose TAT is in the
//! past (a fully replenished key is the same as an absent one), then any key.

use std::time::Instant;

use super::gcra::{decide, Decision, Policy};
use crate::bounded_map::BoundedMap;

/// Rate-limit state in memory.
pub struct MemoryLimiter {
    map: BoundedMap<String, u64>,
    epoch: Instant,
}

impl MemoryLimiter {
    /// A limiter tracking at most about `max_keys` keys.
    pub fn new(max_keys: usize) -> Self {
        Self {
            map: BoundedMap::new(max_keys.max(1)),
            epoch: Instant::now(),
        }
    }

    /// Decides one request for `key`.
    pub fn check(&self, key: &str, policy: &Policy) -> Decision {
        let now = self.epoch.elapsed().as_micros() as u64;
        self.map.with(key, |shard| {
            if let Some(tat) = shard.map.get_mut(key) {
                let (decision, new_tat) = decide(policy, Some(*tat), now);
                *tat = new_tat;
                return decision;
            }
            let (decision, new_tat) = decide(policy, None, now);
            shard.insert_bounded(key.to_owned(), new_tat, |tat| *tat <= now);
            decision
        })
    }

    /// Keys tracked (for tests).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
