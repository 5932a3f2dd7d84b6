//! A bounded cache of verified credentials keyed by a SHA-256 hash of the credential, so a
//! token is verified once and then served from memory until it expires. The credential itself
//! is never stored.

use std::time::{Duration, Instant};

use crate::bounded_map::BoundedMap;

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
    map: BoundedMap<CredentialHash, (V, Instant)>,
}

impl<V: Clone> TokenCache<V> {
    /// A cache holding at most `capacity` entries (0 disables it).
    pub fn new(capacity: usize) -> Self {
        Self {
            map: BoundedMap::new(capacity),
        }
    }

    /// The value for `key` if present and not expired.
    pub fn get(&self, key: &CredentialHash) -> Option<V> {
        let now = Instant::now();
        self.map.with(key, |shard| match shard.map.get(key) {
            Some((v, until)) if *until > now => Some(v.clone()),
            _ => None,
        })
    }

    /// Stores `value` for `ttl`; expired entries make room first.
    pub fn insert(&self, key: CredentialHash, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        self.map.with(&key, |shard| {
            shard.insert_bounded(key, (value, now + ttl), |(_, until)| *until <= now)
        });
    }

    /// Entries held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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
        assert!(cache.len() <= 32 + 16, "cache grew to {}", cache.len());
    }
}
