//! The embedded rate-limit backend: GCRA state (one TAT per key) in process memory, sharded to
//! keep lock hold times short, and bounded: a full shard first forgets keys whose TAT is in the
//! past (a fully replenished key is the same as an absent one), then any key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::gcra::{decide, Decision, Policy};

const SHARDS: usize = 16;

/// Rate-limit state in memory.
pub struct MemoryLimiter {
    shards: Vec<Mutex<HashMap<String, u64>>>,
    per_shard: usize,
    epoch: Instant,
}

impl MemoryLimiter {
    /// A limiter tracking at most `max_keys` keys.
    pub fn new(max_keys: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: max_keys.div_ceil(SHARDS).max(1),
            epoch: Instant::now(),
        }
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn shard(&self, key: &str) -> &Mutex<HashMap<String, u64>> {
        // FNV-1a: cheap, and the shard only spreads lock contention (the map itself is SipHash).
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        &self.shards[(h as usize) % SHARDS]
    }

    /// Decides one request for `key`.
    pub fn check(&self, key: &str, policy: &Policy) -> Decision {
        let now = self.now_us();
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tat) = shard.get_mut(key) {
            let (decision, new_tat) = decide(policy, Some(*tat), now);
            *tat = new_tat;
            return decision;
        }
        let (decision, new_tat) = decide(policy, None, now);
        if shard.len() >= self.per_shard {
            shard.retain(|_, tat| *tat > now);
            if shard.len() >= self.per_shard {
                if let Some(victim) = shard.keys().next().cloned() {
                    shard.remove(&victim);
                }
            }
        }
        shard.insert(key.to_owned(), new_tat);
        decision
    }

    /// Keys tracked (for tests).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// True when no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
