//! The Redis rate-limit backend: the same GCRA as [`super::gcra`], run atomically by a Lua
//! script on the Redis server with Redis' own clock (`TIME`), so every gateway replica shares one
//! state and one clock. Keys are namespaced (`{prefix}:rl:...`) and expire when fully
//! replenished. Every call has a deadline; an error or a timeout is returned to the caller, which
//! applies the limit's `fail: open|closed`.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;

use super::gcra::{Decision, Policy};

/// GCRA on Redis; mirrors `gcra::decide` (the conformance tests run both).
const GCRA_LUA: &str = r"
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
if tat - now > tolerance then
  return {0, 0, tat - now, tat - now - tolerance}
end
local new_tat = tat + interval
local ahead = new_tat - now
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor(ahead / 1000) + 1)
local remaining = math.floor((tolerance + interval - ahead) / interval)
if remaining < 0 then remaining = 0 end
return {1, remaining, ahead, 0}
";

/// A quota counter: refuse at the limit, else count; the key expires with its period.
const QUOTA_LUA: &str = r"
local limit = tonumber(ARGV[1])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= limit then return {0, used} end
used = redis.call('INCR', KEYS[1])
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return {1, used}
";

/// A failure counted for a source shared by every replica: returns the lock time left in ms
/// (0: not locked). Escalation doubles per strike, up to the longest lock.
const FAILURE_LUA: &str = r"
local left = redis.call('PTTL', KEYS[2])
if left > 0 then return left end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n < tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
local strikes = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[4]) * 2)
local lock = tonumber(ARGV[3]) * (2 ^ math.min(strikes - 1, 20))
if lock > tonumber(ARGV[4]) then lock = tonumber(ARGV[4]) end
redis.call('SET', KEYS[2], '1', 'PX', math.floor(lock))
return math.floor(lock)
";

/// Why Redis did not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisLimitError {
    /// No answer before the deadline.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Connection or command error.
    #[error("redis error: {0}")]
    Redis(String),
}

/// Rate-limit state in Redis.
pub struct RedisLimiter {
    connection: ConnectionManager,
    script: Script,
    quota_script: Script,
    failure_script: Script,
    prefix: String,
    timeout: Duration,
}

impl RedisLimiter {
    /// A limiter on `url` (connections are opened lazily and re-established after an outage).
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid redis URL: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("redis connection manager: {e}"))?;
        Ok(Self {
            connection,
            script: Script::new(GCRA_LUA),
            quota_script: Script::new(QUOTA_LUA),
            failure_script: Script::new(FAILURE_LUA),
            prefix: prefix.to_owned(),
            timeout,
        })
    }

    /// Counts one request against a quota of `limit` ending at `end` (Unix seconds):
    /// (allowed, used after).
    pub async fn take_quota(
        &self,
        key: &str,
        limit: u64,
        end: i64,
    ) -> Result<(bool, u64), RedisLimitError> {
        let mut conn = self.connection.clone();
        let mut invocation = self
            .quota_script
            .key(format!("{}:quota:{key}", self.prefix));
        invocation.arg(limit).arg(end);
        let call = invocation.invoke_async::<(u64, u64)>(&mut conn);
        let (allowed, used) = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| RedisLimitError::Timeout(self.timeout))?
            .map_err(|e| RedisLimitError::Redis(e.to_string()))?;
        Ok((allowed == 1, used))
    }

    /// Counts a failure (failed authentication, rate-limit refusal) of `source` in the shared
    /// store; returns the lock time left when the source is locked across replicas.
    pub async fn record_failure(
        &self,
        source: &str,
        policy: &super::lockout::LockoutPolicy,
    ) -> Result<Option<Duration>, RedisLimitError> {
        let mut conn = self.connection.clone();
        let base = format!("{}:lockout:{source}", self.prefix);
        let mut invocation = self.failure_script.key(format!("{base}:n"));
        invocation
            .key(format!("{base}:lock"))
            .key(format!("{base}:strikes"))
            .arg(policy.window.as_millis() as u64)
            .arg(policy.max_failures)
            .arg(policy.lockout.as_millis() as u64)
            .arg(policy.max_lockout.as_millis() as u64);
        let call = invocation.invoke_async::<u64>(&mut conn);
        let left = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| RedisLimitError::Timeout(self.timeout))?
            .map_err(|e| RedisLimitError::Redis(e.to_string()))?;
        Ok((left > 0).then(|| Duration::from_millis(left)))
    }

    /// A quota counter's use so far and its end (Unix seconds), if it exists.
    pub async fn quota_usage(&self, key: &str) -> Result<Option<(u64, i64)>, RedisLimitError> {
        let mut conn = self.connection.clone();
        let full = format!("{}:quota:{key}", self.prefix);
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(&full).cmd("EXPIRETIME").arg(&full);
        let call = pipe.query_async::<(Option<u64>, i64)>(&mut conn);
        let (used, end) = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| RedisLimitError::Timeout(self.timeout))?
            .map_err(|e| RedisLimitError::Redis(e.to_string()))?;
        Ok(used.map(|u| (u, end)))
    }

    /// Resets a quota counter; false when there was none.
    pub async fn reset_quota(&self, key: &str) -> Result<bool, RedisLimitError> {
        let mut conn = self.connection.clone();
        let mut del = redis::cmd("DEL");
        del.arg(format!("{}:quota:{key}", self.prefix));
        let call = del.query_async::<u64>(&mut conn);
        let n = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| RedisLimitError::Timeout(self.timeout))?
            .map_err(|e| RedisLimitError::Redis(e.to_string()))?;
        Ok(n > 0)
    }

    /// Decides one request for `key`.
    pub async fn check(&self, key: &str, policy: &Policy) -> Result<Decision, RedisLimitError> {
        let mut conn = self.connection.clone();
        let full_key = format!("{}:rl:{key}", self.prefix);
        let mut invocation = self.script.key(full_key);
        invocation
            .arg(policy.interval_us())
            .arg(policy.tolerance_us());
        let call = invocation.invoke_async::<(u64, u64, u64, u64)>(&mut conn);
        let (allowed, remaining, reset_us, retry_after_us) =
            tokio::time::timeout(self.timeout, call)
                .await
                .map_err(|_| RedisLimitError::Timeout(self.timeout))?
                .map_err(|e| RedisLimitError::Redis(e.to_string()))?;
        Ok(Decision {
            allowed: allowed == 1,
            remaining,
            reset_us,
            retry_after_us,
        })
    }
}
