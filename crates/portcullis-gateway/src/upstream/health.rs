//! Passive health: consecutive failures eject a target for a while.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Milliseconds since the first call, a cheap monotonic clock for ejection deadlines.
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Health state of one target.
#[derive(Default)]
pub struct Health {
    consecutive_failures: AtomicU32,
    /// 0: not ejected; otherwise `now_ms()` until which the target is left out (+1).
    ejected_until: AtomicU64,
}

impl Health {
    /// True while the target is ejected.
    pub fn is_ejected(&self) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0 && now_ms() < until
    }

    /// Records a success: the failure streak ends.
    pub fn success(&self) {
        if self.consecutive_failures.load(Ordering::Relaxed) != 0 {
            self.consecutive_failures.store(0, Ordering::Relaxed);
        }
        if self.ejected_until.load(Ordering::Relaxed) != 0 {
            self.ejected_until.store(0, Ordering::Relaxed);
        }
    }

    /// Records a failure; the `max_failures`-th in a row ejects the target for `eject_for`.
    pub fn failure(&self, max_failures: u32, eject_for: Duration) {
        let n = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= max_failures {
            let ms = u64::try_from(eject_for.as_millis()).unwrap_or(u64::MAX);
            self.ejected_until
                .store(now_ms().saturating_add(ms).max(1), Ordering::Relaxed);
            self.consecutive_failures.store(0, Ordering::Relaxed);
            tracing::warn!(
                event = "upstream_target_ejected",
                eject_ms = ms,
                "target ejected after consecutive failures"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ejects_after_the_threshold_and_returns_after_the_period() {
        let h = Health::default();
        h.failure(2, Duration::from_millis(30));
        assert!(!h.is_ejected());
        h.failure(2, Duration::from_millis(30));
        assert!(h.is_ejected());
        std::thread::sleep(Duration::from_millis(40));
        assert!(!h.is_ejected());
    }

    #[test]
    fn a_success_resets_the_streak() {
        let h = Health::default();
        h.failure(2, Duration::from_secs(10));
        h.success();
        h.failure(2, Duration::from_secs(10));
        assert!(!h.is_ejected());
    }
}
