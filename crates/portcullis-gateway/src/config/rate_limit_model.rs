//! The config's rate-limit shape: limits (global, per API, per route) and the state backend
//! they count in.

use schemars::JsonSchema;
use serde::Deserialize;

use super::secret::SecretRef;
use super::units::DurationValue;

/// One rate limit (GCRA): `rate` requests per period, `burst` at once, counted per `key`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Name (in headers, metrics and logs); default: derived from key and rate.
    #[serde(default)]
    pub name: Option<String>,
    /// What is counted: any of `ip`, `principal`, `api_key`, `route`, `header:NAME`, combined.
    pub key: Vec<String>,
    /// `N/s`, `N/m`, `N/h` or `N/d`.
    pub rate: String,
    /// Requests allowed at once (default: N, a full period's worth).
    #[serde(default)]
    pub burst: Option<u64>,
    /// Which requests share the counter: `route`, `api` or `global` (default: where the limit is
    /// declared).
    #[serde(default)]
    pub scope: Option<LimitScope>,
    /// During a Redis outage: `closed` (503, the default) or `open` (let requests through).
    #[serde(default)]
    pub fail: FailMode,
    /// Throttle instead of refusing at once: a request over the limit waits up to this long for
    /// its turn (then 429).
    #[serde(default)]
    pub delay: Option<DurationValue>,
    /// With `delay`: most requests of one key waiting at once; beyond it, 429 at once.
    #[serde(default = "default_queue")]
    pub queue: usize,
}

fn default_queue() -> usize {
    10
}

/// Which requests share a limit's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LimitScope {
    /// Each route counts separately.
    Route,
    /// All routes of the API share the counter.
    Api,
    /// Every route of every API shares it.
    Global,
}

/// What a limit does when its backend cannot answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailMode {
    /// Refuse (503 with Retry-After).
    #[default]
    Closed,
    /// Let the request through (logged and counted).
    Open,
}

/// Which rate-limit headers an API sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RateLimitHeaderStyle {
    /// `RateLimit-Policy` and `RateLimit` (IETF httpapi draft).
    Ietf,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`.
    XRatelimit,
}

/// Where rate-limit counters live.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StateBackend {
    /// In this process.
    #[default]
    Embedded,
    /// In Redis, shared by every replica.
    Redis,
}

/// The Redis connection.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` (a secret reference when it has a password).
    pub url: SecretRef,
    /// Deadline of one call (connect and answer).
    #[serde(default = "default_redis_timeout")]
    pub timeout: DurationValue,
    /// Namespace of every key.
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn default_redis_timeout() -> DurationValue {
    DurationValue(std::time::Duration::from_millis(100))
}

fn default_prefix() -> String {
    "portcullis".into()
}

/// The default header styles: both.
pub fn default_header_styles() -> Vec<RateLimitHeaderStyle> {
    vec![RateLimitHeaderStyle::Ietf, RateLimitHeaderStyle::XRatelimit]
}

/// Temporary bans of clients that keep exceeding rate limits.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BanConfig {
    /// Rate-limit refusals (429) of one client IP within `window` that trigger a ban.
    pub after: u32,
    /// Counting window.
    pub window: DurationValue,
    /// First ban; each further one doubles, up to `max_ban`.
    pub ban: DurationValue,
    /// Longest ban.
    pub max_ban: DurationValue,
}

impl Default for BanConfig {
    fn default() -> Self {
        Self {
            after: 20,
            window: DurationValue::secs(60),
            ban: DurationValue::secs(300),
            max_ban: DurationValue::secs(24 * 3600),
        }
    }
}

/// A quota: at most `limit` requests per calendar period, per `key`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    /// Name (in counter keys, logs and the admin API); default: derived from key and period.
    #[serde(default)]
    pub name: Option<String>,
    /// What is counted (as for rate limits): `principal`, `api_key`, `ip`, `route`, `header:NAME`.
    pub key: Vec<String>,
    /// Requests allowed per period.
    pub limit: u64,
    /// `day`, `week` (ISO, Monday first) or `month`.
    pub per: QuotaPeriod,
    /// Where periods start: `UTC` (default), a fixed offset such as `+02:00`, or an IANA time
    /// zone such as `Europe/Paris` (daylight saving followed).
    #[serde(default = "default_zone")]
    pub time_zone: String,
}

/// A quota period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QuotaPeriod {
    /// A calendar day.
    Day,
    /// An ISO week.
    Week,
    /// A calendar month.
    Month,
}

fn default_zone() -> String {
    "UTC".into()
}
