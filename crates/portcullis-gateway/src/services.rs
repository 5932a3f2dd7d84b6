//! Long-lived services that outlive a config reload: the security event stream, brute-force
//! counters and the key store. A runtime built from a new config uses the same ones, so a
//! reload neither forgets a lockout nor reopens the state file.

use std::net::IpAddr;
use std::sync::Arc;

use crate::metrics::Metrics;
use crate::security_events::SecurityEvents;
use crate::state::key_store::KeyStore;
use crate::state::limiter::Limiter;
use crate::state::lockout::Lockout;
use crate::state::memory_limiter::MemoryLimiter;
use crate::state::quota_store::QuotaStore;

/// Most sources tracked by each brute-force counter.
pub const LOCKOUT_MAX_ENTRIES: usize = 100_000;

/// What every runtime of a gateway shares.
pub struct Services {
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// Security events.
    pub events: Arc<SecurityEvents>,
    /// Failed authentications by client IP.
    pub lockout_ips: Arc<Lockout<IpAddr>>,
    /// Failed authentications by claimed identity (`provider/key:prefix`, `provider/user:name`).
    pub lockout_identities: Arc<Lockout<String>>,
    /// The API key store, when `state.path` is set.
    pub key_store: Option<Arc<KeyStore>>,
    /// Rate-limit counters (embedded or Redis).
    pub limiter: Arc<Limiter>,
    /// Banned client IPs (automatic and manual).
    pub bans: Arc<Lockout<IpAddr>>,
    /// Quota counters of the embedded backend (persisted with the state file).
    pub quotas: Arc<QuotaStore>,
    /// Bans written to the state file, when there is one.
    pub ban_store: Option<Arc<crate::state::ban_store::BanStore>>,
    /// False for `check`: nothing is opened, providers needing live resources are only checked.
    pub serving: bool,
}

impl Services {
    /// Services for serving.
    pub fn new(
        metrics: Arc<Metrics>,
        events: Arc<SecurityEvents>,
        key_store: Option<Arc<KeyStore>>,
    ) -> Self {
        Self {
            metrics,
            events,
            limiter: Arc::new(Limiter::Memory(MemoryLimiter::new(1_000_000))),
            bans: Arc::new(Lockout::new(LOCKOUT_MAX_ENTRIES)),
            quotas: Arc::new(QuotaStore::in_memory()),
            ban_store: None,
            lockout_ips: Arc::new(Lockout::new(LOCKOUT_MAX_ENTRIES)),
            lockout_identities: Arc::new(Lockout::new(LOCKOUT_MAX_ENTRIES)),
            key_store,
            serving: true,
        }
    }

    /// Uses `quotas` for quota counters.
    pub fn with_quotas(mut self, quotas: QuotaStore) -> Self {
        self.quotas = Arc::new(quotas);
        self
    }

    /// Persists bans in `store`.
    pub fn with_ban_store(mut self, store: Option<crate::state::ban_store::BanStore>) -> Self {
        self.ban_store = store.map(Arc::new);
        self
    }

    /// Uses `limiter` for rate limits.
    pub fn with_limiter(mut self, limiter: Limiter) -> Self {
        self.limiter = Arc::new(limiter);
        self
    }

    /// Services for `check`: fresh metrics, events only counted, no state file.
    pub fn for_check() -> Self {
        let metrics = Arc::new(Metrics::new());
        let events = Arc::new(SecurityEvents::counted_only(metrics.clone()));
        Self {
            serving: false,
            ..Self::new(metrics, events, None)
        }
    }
}
