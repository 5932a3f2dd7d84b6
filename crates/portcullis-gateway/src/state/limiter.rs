//! The rate limiter a gateway uses: embedded (default) or Redis (several replicas), chosen by
//! `state.backend`. Both run [`super::gcra`].

use super::gcra::{Decision, Policy};
use super::memory_limiter::MemoryLimiter;
use super::quota_store::QuotaStore;
use super::redis_limiter::{RedisLimitError, RedisLimiter};

/// A rate-limit backend.
#[non_exhaustive]
pub enum Limiter {
    /// In process.
    Memory(MemoryLimiter),
    /// Shared through Redis.
    Redis(RedisLimiter),
}

impl Limiter {
    /// The backend `state` asks for. Redis connections are opened lazily: a gateway starts while
    /// Redis is down and each limit's `fail` decides meanwhile.
    pub fn from_config(
        state: &crate::config::model::StateConfig,
        base_dir: &std::path::Path,
    ) -> Result<Self, String> {
        use crate::config::model::StateBackend;
        match (state.backend, &state.redis) {
            (StateBackend::Redis, Some(r)) => {
                let url = r
                    .url
                    .resolve(base_dir)
                    .map_err(|e| format!("state.redis.url: {e}"))?;
                Ok(Self::Redis(RedisLimiter::new(
                    url.secret_str(),
                    &r.prefix,
                    r.timeout.0,
                )?))
            }
            (StateBackend::Redis, None) => {
                Err("state.backend is redis: set state.redis.url".into())
            }
            _ => Ok(Self::Memory(MemoryLimiter::new(state.max_keys))),
        }
    }

    /// Backend name for metrics and logs.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Memory(_) => "embedded",
            Self::Redis(_) => "redis",
        }
    }

    /// The decision without waiting, when the backend is in process.
    pub fn check_now(&self, key: &str, policy: &Policy) -> Option<Decision> {
        match self {
            Self::Memory(m) => Some(m.check(key, policy)),
            Self::Redis(_) => None,
        }
    }

    /// Counts one request against a quota (the embedded backend keeps quotas in `store`):
    /// (allowed, used after).
    pub async fn take_quota(
        &self,
        store: &QuotaStore,
        key: &str,
        limit: u64,
        end: i64,
    ) -> Result<(bool, u64), RedisLimitError> {
        match self {
            Self::Memory(_) => Ok(store.take(key, limit, end)),
            Self::Redis(r) => r.take_quota(key, limit, end).await,
        }
    }

    /// A quota counter's use so far and its end (Unix seconds), if it exists.
    pub async fn quota_usage(
        &self,
        store: &QuotaStore,
        key: &str,
    ) -> Result<Option<(u64, i64)>, RedisLimitError> {
        match self {
            Self::Memory(_) => Ok(store.usage(key)),
            Self::Redis(r) => r.quota_usage(key).await,
        }
    }

    /// Resets a quota counter; false when there was none.
    pub async fn reset_quota(
        &self,
        store: &QuotaStore,
        key: &str,
    ) -> Result<bool, RedisLimitError> {
        match self {
            Self::Memory(_) => Ok(store.reset(key)),
            Self::Redis(r) => r.reset_quota(key).await,
        }
    }

    /// Shares a failure of `source` with the other replicas (Redis backend only): when the
    /// shared count locks the source, `local` learns the lock, so this replica refuses it too
    /// without asking Redis on every request. Runs in the background; successes never call out.
    pub fn share_failure<K>(
        self: &std::sync::Arc<Self>,
        local: &std::sync::Arc<super::lockout::Lockout<K>>,
        key: K,
        source: String,
        policy: super::lockout::LockoutPolicy,
    ) where
        K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    {
        if !matches!(**self, Self::Redis(_)) {
            return;
        }
        let (limiter, local) = (self.clone(), local.clone());
        tokio::spawn(async move {
            let Self::Redis(redis) = &*limiter else {
                return;
            };
            match redis.record_failure(&source, &policy).await {
                Ok(Some(left)) => local.ban(&key, left),
                Ok(None) => {}
                Err(e) => tracing::warn!(event = "shared_lockout_failed", "{e}"),
            }
        });
    }

    /// Decides one request for `key`.
    pub async fn check(&self, key: &str, policy: &Policy) -> Result<Decision, RedisLimitError> {
        match self {
            Self::Memory(m) => Ok(m.check(key, policy)),
            Self::Redis(r) => r.check(key, policy).await,
        }
    }
}
