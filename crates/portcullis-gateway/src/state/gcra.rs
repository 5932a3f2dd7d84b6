//! GCRA (the generic cell rate algorithm), the rate limiter both backends run: a key's whole
//! state is one number, its theoretical arrival time (TAT). A policy of `rate` requests per
//! `period` with `burst` allows `burst` requests at once and then one every `period / rate`.
//!
//! All times are microseconds on one clock (the process clock embedded, Redis `TIME` shared).

use std::time::Duration;

/// A rate: `rate` requests per `period`, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Requests per period.
    pub rate: u64,
    /// The period.
    pub period: Duration,
    /// Requests allowed at once (at least 1).
    pub burst: u64,
}

impl Policy {
    /// Emission interval: time one request "costs", in µs (at least 1).
    pub fn interval_us(&self) -> u64 {
        (self.period.as_micros() as u64 / self.rate.max(1)).max(1)
    }

    /// Tolerance: how far ahead of now the TAT may run, in µs.
    pub fn tolerance_us(&self) -> u64 {
        self.interval_us() * self.burst.max(1).saturating_sub(1)
    }
}

/// The outcome for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may pass.
    pub allowed: bool,
    /// Requests still allowed right now after this one.
    pub remaining: u64,
    /// µs until the limit is fully replenished (the `reset` of the RateLimit headers).
    pub reset_us: u64,
    /// µs until a request would be allowed again (0 when allowed).
    pub retry_after_us: u64,
}

/// Decides a request at `now` for a key whose stored TAT is `tat` (None: never seen). Returns the
/// decision and the TAT to store (unchanged when denied).
pub fn decide(policy: &Policy, tat: Option<u64>, now: u64) -> (Decision, u64) {
    let interval = policy.interval_us();
    let tolerance = policy.tolerance_us();
    let tat = tat.unwrap_or(now).max(now);
    if tat - now > tolerance {
        let retry = tat - now - tolerance;
        let decision = Decision {
            allowed: false,
            remaining: 0,
            reset_us: tat - now,
            retry_after_us: retry,
        };
        return (decision, tat);
    }
    let new_tat = tat + interval;
    let ahead = new_tat - now;
    let capacity = tolerance + interval;
    let decision = Decision {
        allowed: true,
        remaining: capacity.saturating_sub(ahead) / interval,
        reset_us: ahead,
        retry_after_us: 0,
    };
    (decision, new_tat)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000;

    #[test]
    fn burst_then_steady_rate() {
        let p = Policy {
            rate: 10,
            period: Duration::from_secs(1),
            burst: 3,
        };
        let mut tat = None;
        let mut remaining = Vec::new();
        for _ in 0..3 {
            let (d, t) = decide(&p, tat, 0);
            assert!(d.allowed);
            remaining.push(d.remaining);
            tat = Some(t);
        }
        assert_eq!(remaining, [2, 1, 0]);
        let (d, _) = decide(&p, tat, 0);
        assert!(!d.allowed);
        assert_eq!(
            d.retry_after_us,
            SECOND / 10,
            "one interval until the next slot"
        );
        let (d, t) = decide(&p, tat, SECOND / 10);
        assert!(d.allowed, "one more after one interval");
        assert_eq!(d.remaining, 0);
        let (d, _) = decide(&p, Some(t), 10 * SECOND);
        assert!(d.allowed);
        assert_eq!(d.remaining, 2, "fully replenished after a long pause");
    }

    #[test]
    fn long_run_admits_rate_times_time_plus_burst() {
        let p = Policy {
            rate: 100,
            period: Duration::from_secs(1),
            burst: 10,
        };
        let (mut tat, mut allowed) = (None, 0);
        // One attempt every 1 ms for 2 s: 2000 attempts.
        for ms in 0..2000u64 {
            let (d, t) = decide(&p, tat, ms * 1000);
            tat = Some(t);
            allowed += u64::from(d.allowed);
        }
        assert!((209..=211).contains(&allowed), "{allowed}");
    }
}
