//! Brute-force protection: failed authentications are counted per client IP and per claimed
//! identity (key prefix, user name). Past `max_failures` within `window` the source is locked
//! out for `lockout`, doubling with each further lockout up to `max_lockout`; a success clears
//! an identity's count (not an IP's: one valid key must not whitewash a scanner).
//!
//! Memory is bounded: at most `max_entries` sources are tracked; idle ones are swept first.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lockout policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures allowed in a window.
    pub max_failures: u32,
    /// Counting window.
    pub window: Duration,
    /// First lockout.
    pub lockout: Duration,
    /// Longest lockout.
    pub max_lockout: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
    strikes: u32,
    last_seen: Instant,
}

/// What a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Still counting.
    Counted,
    /// This failure locked the source out for this long.
    LockedOut(Duration),
}

/// Failure counters and lockouts for a set of sources (client IPs, claimed identities).
pub struct Lockout<K> {
    entries: Mutex<Table<K>>,
    max_entries: usize,
    /// Entries held, updated after each change: a lookup on an empty table (the usual case for
    /// bans) takes no lock.
    len_hint: AtomicUsize,
}

struct Table<K> {
    map: HashMap<K, Entry>,
    last_sweep: Option<Instant>,
}

/// Least time between two sweeps of a full table, so a flood of new sources (IPv6 makes them
/// free) cannot make every failure scan the whole table.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl<K: Hash + Eq + Clone> Lockout<K> {
    /// Tracks at most `max_entries` sources.
    pub fn new(max_entries: usize) -> Self {
        Self {
            entries: Mutex::new(Table {
                map: HashMap::new(),
                last_sweep: None,
            }),
            max_entries,
            len_hint: AtomicUsize::new(0),
        }
    }

    /// Time left on `source`'s lockout, if it is locked.
    pub fn locked(&self, source: &K) -> Option<Duration> {
        if self.len_hint.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let until = entries.map.get(source)?.locked_until?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Counts a failure for `source`.
    pub fn fail(&self, source: &K, policy: &LockoutPolicy) -> FailureOutcome {
        let now = Instant::now();
        let mut table = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let Table { map, last_sweep } = &mut *table;
        if map.len() >= self.max_entries && !map.contains_key(source) {
            if last_sweep.is_none_or(|t| now.duration_since(t) >= SWEEP_EVERY) {
                *last_sweep = Some(now);
                sweep(map, now, policy);
            }
            if map.len() >= self.max_entries {
                // Full of active sources: forget one (O(1); memory stays bounded).
                if let Some(victim) = map.keys().next().cloned() {
                    map.remove(&victim);
                }
            }
        }
        if !map.contains_key(source) {
            map.insert(
                source.clone(),
                Entry {
                    failures: 0,
                    window_start: now,
                    locked_until: None,
                    strikes: 0,
                    last_seen: now,
                },
            );
            self.len_hint.store(map.len(), Ordering::Relaxed);
        }
        let Some(e) = map.get_mut(source) else {
            return FailureOutcome::Counted;
        };
        e.last_seen = now;
        if now.duration_since(e.window_start) > policy.window {
            e.failures = 0;
            e.window_start = now;
        }
        e.failures += 1;
        if e.failures < policy.max_failures {
            return FailureOutcome::Counted;
        }
        let factor = 1u32.checked_shl(e.strikes.min(20)).unwrap_or(u32::MAX);
        let lock = policy
            .lockout
            .saturating_mul(factor)
            .min(policy.max_lockout);
        e.strikes += 1;
        e.failures = 0;
        e.window_start = now;
        e.locked_until = Some(now + lock);
        FailureOutcome::LockedOut(lock)
    }

    /// Locks `source` out for `duration` now (a manual ban), whatever its count.
    pub fn ban(&self, source: &K, duration: Duration) {
        let now = Instant::now();
        let mut table = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let e = table.map.entry(source.clone()).or_insert(Entry {
            failures: 0,
            window_start: now,
            locked_until: None,
            strikes: 0,
            last_seen: now,
        });
        e.locked_until = Some(now + duration);
        e.last_seen = now;
        self.len_hint.store(table.map.len(), Ordering::Relaxed);
    }

    /// Lifts `source`'s lockout and forgets its history; false when it was not locked.
    pub fn unban(&self, source: &K) -> bool {
        let mut table = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let removed = table.map.remove(source);
        self.len_hint.store(table.map.len(), Ordering::Relaxed);
        removed.is_some_and(|e| e.locked_until.is_some_and(|u| u > now))
    }

    /// Every locked source with the time it has left.
    pub fn locked_sources(&self) -> Vec<(K, Duration)> {
        let now = Instant::now();
        let table = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        table
            .map
            .iter()
            .filter_map(|(k, e)| {
                let left = e.locked_until?.checked_duration_since(now)?;
                (!left.is_zero()).then(|| (k.clone(), left))
            })
            .collect()
    }

    /// Clears `source`'s failure count (its strikes stay, so the next lockout is longer).
    pub fn succeed(&self, source: &K) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = entries.map.get_mut(source) {
            e.failures = 0;
        }
    }

    /// Sources tracked (for tests).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    /// True when nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Forgets sources that are neither locked nor failed recently.
fn sweep<K>(entries: &mut HashMap<K, Entry>, now: Instant, policy: &LockoutPolicy) {
    entries.retain(|_, e| {
        e.locked_until.is_some_and(|u| u > now)
            || now.duration_since(e.last_seen) < policy.window
            || (e.strikes > 0 && now.duration_since(e.last_seen) < policy.max_lockout)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            max_failures: 3,
            window: Duration::from_secs(60),
            lockout: Duration::from_millis(40),
            max_lockout: Duration::from_millis(100),
        }
    }

    #[test]
    fn locks_after_threshold_escalates_and_ends() {
        let l = Lockout::new(100);
        let p = policy();
        assert_eq!(l.fail(&"ip:a", &p), FailureOutcome::Counted);
        assert_eq!(l.fail(&"ip:a", &p), FailureOutcome::Counted);
        assert_eq!(
            l.fail(&"ip:a", &p),
            FailureOutcome::LockedOut(Duration::from_millis(40))
        );
        assert!(l.locked(&"ip:a").is_some());
        assert!(l.locked(&"ip:b").is_none());
        std::thread::sleep(Duration::from_millis(50));
        assert!(l.locked(&"ip:a").is_none(), "lockout ends");
        l.fail(&"ip:a", &p);
        l.fail(&"ip:a", &p);
        assert_eq!(
            l.fail(&"ip:a", &p),
            FailureOutcome::LockedOut(Duration::from_millis(80)),
            "second lockout doubles"
        );
        l.fail(&"ip:a", &p);
        l.fail(&"ip:a", &p);
        assert_eq!(
            l.fail(&"ip:a", &p),
            FailureOutcome::LockedOut(Duration::from_millis(100)),
            "capped"
        );
    }

    #[test]
    fn memory_is_bounded() {
        let l = Lockout::new(50);
        for i in 0..5000 {
            l.fail(&i, &policy());
        }
        assert!(l.len() <= 50);
    }
}
