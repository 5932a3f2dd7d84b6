//! A bounded cache of verified credentials keyed by a SHA-256 hash of the credential, so a
//! token is verified once and then served from memory until it expires. The credential itself
//! is never stored.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SHARDS: usize = 16;

/// The cache key: SHA-256 of the credential.
pub type CredentialHash = [u8; 32];

/// Hashes a credential for the cache (SHA-256 by aws-lc, the same assembly rustls uses).
pub fn hash(credential: &[u8]) -> CredentialHash {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, credential);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Verified values by credential hash, each with its own expiry; at most `capacity` entries.
pub struct TokenCache<V> {
    shards: Vec<Mutex<HashMap<CredentialHash, (V, Instant)>>>,
    per_shard: usize,
}

impl<V: Clone> TokenCache<V> {
    /// A cache holding at most `capacity` entries (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    fn shard(&self, key: &CredentialHash) -> &Mutex<HashMap<CredentialHash, (V, Instant)>> {
        &self.shards[usize::from(key[0]) % SHARDS]
    }

    /// The value for `key` if present and not expired.
    pub fn get(&self, key: &CredentialHash) -> Option<V> {
        let shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        match shard.get(key) {
            Some((v, until)) if *until > Instant::now() => Some(v.clone()),
            _ => None,
        }
    }

    /// Stores `value` for `ttl`. When the shard is full, expired entries go first, then an
    /// arbitrary one: memory stays bounded whatever clients send.
    pub fn insert(&self, key: CredentialHash, value: V, ttl: Duration) {
        if self.per_shard == 0 || ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut shard = self.shard(&key).lock().unwrap_or_else(|p| p.into_inner());
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, (_, until)| *until > now);
            if shard.len() >= self.per_shard {
                if let Some(victim) = shard.keys().next().copied() {
                    shard.remove(&victim);
                }
            }
        }
        shard.insert(key, (value, now + ttl));
    }

    /// Entries held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_memory_is_bounded() {
        let cache = TokenCache::new(32);
        cache.insert(hash(b"a"), 1, Duration::from_secs(60));
        cache.insert(hash(b"b"), 2, Duration::from_nanos(1));
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(cache.get(&hash(b"a")), Some(1));
        assert_eq!(cache.get(&hash(b"b")), None);
        for i in 0..10_000u32 {
            cache.insert(hash(&i.to_le_bytes()), 0, Duration::from_secs(60));
        }
        assert!(cache.len() <= 32, "cache grew to {}", cache.len());
    }
}
