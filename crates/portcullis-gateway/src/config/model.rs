//! The config file's shape, exactly as users write it. Every struct refuses unknown keys: a typo
//! must never silently switch a protection off. Defaults are the secure ones.
//!
//! These types are only parsed here; [`crate::config::validate`] checks what types cannot, and
//! [`crate::runtime::Runtime`] compiles the result.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::secret::SecretRef;
use super::units::{ByteSize, DurationValue};

pub use super::auth_model::*;
pub use super::openapi_model::*;
pub use super::rate_limit_model::*;

/// The whole gateway config (one YAML file).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Sockets the gateway accepts client traffic on.
    pub listeners: Vec<ListenerConfig>,
    /// The admin listener (health, metrics, reload). Absent: no admin listener.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// Connection and request limits and timeouts (slowloris, oversized requests).
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Peers (CIDRs) whose X-Forwarded-For / Forwarded / X-Forwarded-Proto / X-Forwarded-Host /
    /// X-Request-Id headers are trusted. Everyone else's are replaced.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Security headers added to every response.
    #[serde(default)]
    pub security_headers: SecurityHeadersConfig,
    /// The JSON access log.
    #[serde(default)]
    pub access_log: AccessLogConfig,
    /// Named upstream services.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// The APIs the gateway serves, each with its routes.
    #[serde(default)]
    pub apis: Vec<ApiConfig>,
    /// Client IP allow/deny lists applied to every route (before authentication).
    #[serde(default)]
    pub ip_filter: IpFilterConfig,
    /// Where state that must outlive a restart is kept (API keys).
    #[serde(default)]
    pub state: StateConfig,
    /// Where security events (authentication and authorization failures, lockouts) go.
    #[serde(default)]
    pub security_events: SecurityEventsConfig,
    /// Rate limits applied to every route (scope `global` unless set).
    #[serde(default)]
    pub rate_limits: Vec<RateLimitConfig>,
    /// Automatic bans of clients that keep exceeding rate limits (absent: only manual bans).
    #[serde(default)]
    pub bans: Option<BanConfig>,
}

/// The embedded state store.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// redb file for API keys (relative to the config file). Needed by `api_key` providers with
    /// `store: true`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Where rate-limit counters live: `embedded` (this process) or `redis` (shared).
    #[serde(default)]
    pub backend: StateBackend,
    /// Redis connection (with `backend: redis`).
    #[serde(default)]
    pub redis: Option<RedisConfig>,
    /// Most rate-limit keys kept in memory (embedded backend).
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
}

fn default_max_keys() -> usize {
    1_000_000
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            path: None,
            backend: StateBackend::Embedded,
            redis: None,
            max_keys: default_max_keys(),
        }
    }
}

/// The security event stream.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityEventsConfig {
    /// Write events (they are always counted in metrics).
    pub enabled: bool,
    /// `stderr`, `stdout` or a file path (relative to the config file), appended.
    pub path: String,
}

impl Default for SecurityEventsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: "stderr".into(),
        }
    }
}

/// One listening socket.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// A name used in logs and metrics.
    pub name: String,
    /// `IP:PORT` to bind, e.g. `127.0.0.1:8443` (port 0 picks a free port).
    pub bind: String,
    /// Serve HTTPS with this certificate. Absent: plain HTTP (check warns) unless
    /// `redirect_https` is set.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Answer every request with a 308 redirect to HTTPS on this port, keeping host, path and
    /// query. A redirect listener serves nothing else.
    #[serde(default)]
    pub redirect_https: Option<RedirectConfig>,
}

/// TLS settings of a listener.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain (leaf first). Reloaded when the file changes or on SIGHUP.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1). Reloaded with the certificate.
    pub key: PathBuf,
    /// Lowest TLS version accepted: `"1.2"` (default) or `"1.3"`. Older versions are never offered.
    #[serde(default)]
    pub min_version: TlsVersion,
    /// CA bundle that client certificates must chain to (enables mutual TLS).
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: `optional` (verified when presented) or `required` (handshake fails
    /// without one).
    #[serde(default)]
    pub client_auth: ClientAuth,
}

/// Whether a TLS listener demands a client certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientAuth {
    /// Verified when presented; routes decide whether they need one.
    #[default]
    Optional,
    /// No handshake without a valid client certificate.
    Required,
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (and 1.3).
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    Tls13,
}

/// Where the HTTP-to-HTTPS redirect points.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectConfig {
    /// The HTTPS port clients are sent to (443 is left out of the URL).
    pub port: u16,
}

/// The admin listener.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// `IP:PORT` to bind. Keep it on loopback or a management network.
    pub bind: String,
    /// Bearer token required on every admin endpoint except `/healthz` and `/readyz`.
    pub token: SecretRef,
}

/// Limits and timeouts applied to every client connection.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request head (request line and headers) in bytes; larger gets 431. Minimum 8KiB.
    pub max_header_bytes: ByteSize,
    /// Most header fields in a request; more gets 431.
    pub max_headers: usize,
    /// Longest request target (path and query) in bytes; longer gets 414.
    pub max_uri_bytes: usize,
    /// Default largest request body; a route may set its own. Larger gets 413.
    pub max_body_bytes: ByteSize,
    /// Time allowed to receive a request head (slowloris defence); the connection is closed after.
    pub header_read_timeout: DurationValue,
    /// Time allowed to receive a whole request body; slower gets 408.
    pub request_timeout: DurationValue,
    /// A connection with no request in flight and no bytes moving is closed after this.
    pub idle_timeout: DurationValue,
    /// Most client connections open at once; further ones wait in the kernel backlog.
    pub max_connections: usize,
    /// Most connections from one client IP; further ones are closed at once.
    pub max_connections_per_ip: usize,
    /// HTTP/2: most concurrent streams per connection.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2: most streams reset by the client before being answered that are tolerated
    /// (rapid-reset, CVE-2023-44487); beyond it the connection is closed.
    pub h2_max_pending_accept_reset_streams: usize,
    /// HTTP/2: most streams the server may reset because of client errors before closing the
    /// connection (CVE-2024-27316-style floods).
    pub h2_max_local_error_reset_streams: usize,
    /// How long a graceful shutdown waits for in-flight requests.
    pub drain_timeout: DurationValue,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_header_bytes: ByteSize::kib(16),
            max_headers: 100,
            max_uri_bytes: 8192,
            max_body_bytes: ByteSize::mib(1),
            header_read_timeout: DurationValue::secs(10),
            request_timeout: DurationValue::secs(30),
            idle_timeout: DurationValue::secs(60),
            max_connections: 10_000,
            max_connections_per_ip: 256,
            h2_max_concurrent_streams: 128,
            h2_max_pending_accept_reset_streams: 20,
            h2_max_local_error_reset_streams: 256,
            drain_timeout: DurationValue::secs(30),
        }
    }
}

/// Security headers added to every response (proxied or refused).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityHeadersConfig {
    /// Strict-Transport-Security, sent on TLS responses only. `max_age: 0` turns it off.
    pub hsts: HstsConfig,
    /// Headers set on every response, replacing an upstream's. Set a value to `""` to stop
    /// sending one of the defaults.
    pub set: BTreeMap<String, String>,
    /// Headers removed from upstream responses (they identify the software behind the gateway).
    pub remove: Vec<String>,
}

impl Default for SecurityHeadersConfig {
    fn default() -> Self {
        Self {
            hsts: HstsConfig::default(),
            set: BTreeMap::new(),
            remove: vec!["server".into(), "x-powered-by".into()],
        }
    }
}

/// Strict-Transport-Security settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HstsConfig {
    /// `max-age` in seconds (default one year). 0 disables the header.
    pub max_age: u64,
    /// Adds `includeSubDomains`.
    pub include_subdomains: bool,
    /// Adds `preload`.
    pub preload: bool,
}

impl Default for HstsConfig {
    fn default() -> Self {
        Self {
            max_age: 31_536_000,
            include_subdomains: true,
            preload: false,
        }
    }
}

/// The access log: one JSON line per request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLogConfig {
    /// Write the access log at all.
    pub enabled: bool,
    /// `stdout` (default) or a file path (appended to).
    pub path: String,
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            path: "stdout".into(),
        }
    }
}

/// An upstream service: one or more targets behind a load balancer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Target base URLs, `http://host:port` or `https://host:port`, all the same scheme.
    pub targets: Vec<String>,
    /// How a target is chosen.
    #[serde(default)]
    pub balance: Balance,
    /// Protocol spoken to the targets: `http1` (default) or `h2` (with TLS: ALPN; without: h2c
    /// prior knowledge).
    #[serde(default)]
    pub protocol: UpstreamProtocol,
    /// Extra PEM CA file trusted for `https` targets (instead of the public web roots).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Time allowed to open a connection to a target.
    #[serde(default = "defaults::connect_timeout")]
    pub connect_timeout: DurationValue,
    /// Time allowed for a target to send response headers; after it, 504.
    #[serde(default = "defaults::response_timeout")]
    pub response_timeout: DurationValue,
    /// Pooled keep-alive connections idle longer than this are not reused.
    #[serde(default = "defaults::idle_timeout")]
    pub idle_timeout: DurationValue,
    /// Most idle pooled connections kept per target.
    #[serde(default = "defaults::max_idle_per_target")]
    pub max_idle_per_target: usize,
    /// Extra attempts, each on another target, for idempotent requests without a body when an
    /// attempt could not connect or timed out (none with a single target).
    #[serde(default = "defaults::retries")]
    pub retries: u32,
    /// Passive health checking.
    #[serde(default)]
    pub health: HealthConfig,
    /// Send the client's Host header to the upstream instead of the target's host.
    #[serde(default)]
    pub preserve_host: bool,
    /// Most requests in flight to this upstream, all routes together (beyond: 503 `overloaded`).
    #[serde(default)]
    pub max_in_flight: Option<usize>,
}

mod defaults {
    use super::DurationValue;

    pub fn connect_timeout() -> DurationValue {
        DurationValue::secs(5)
    }
    pub fn response_timeout() -> DurationValue {
        DurationValue::secs(30)
    }
    pub fn idle_timeout() -> DurationValue {
        DurationValue::secs(60)
    }
    pub fn max_idle_per_target() -> usize {
        64
    }
    pub fn retries() -> u32 {
        1
    }
}

/// Load-balancing algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Balance {
    /// Each target in turn.
    #[default]
    RoundRobin,
    /// The target with the fewest requests in flight.
    LeastRequests,
}

/// Protocol to the upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UpstreamProtocol {
    /// HTTP/1.1 with keep-alive.
    #[default]
    Http1,
    /// HTTP/2.
    H2,
}

/// Passive health checking: a target that fails repeatedly is ejected for a while.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Consecutive failures (connect errors, timeouts, 5xx from the target) that eject a target.
    pub max_failures: u32,
    /// How long an ejected target is left out before it is tried again.
    pub eject_for: DurationValue,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            max_failures: 5,
            eject_for: DurationValue::secs(10),
        }
    }
}

/// An API: a set of routes served under some hosts, to one upstream by default.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Unique name, used in logs and metrics.
    pub name: String,
    /// Hosts this API answers: exact (`api.example.com`), wildcard (`*.example.com`) or `*`
    /// (any host, the default).
    #[serde(default = "any_host")]
    pub hosts: Vec<String>,
    /// Prefix prepended to every route path (e.g. `/v1`).
    #[serde(default)]
    pub base_path: String,
    /// Default upstream (a key of `upstreams`) for routes that name none.
    #[serde(default)]
    pub upstream: Option<String>,
    /// Serve this API without authentication. Default deny: an API that is not public refuses
    /// every request (403) until an authentication block is configured.
    #[serde(default)]
    pub public: bool,
    /// Identity providers and the default access rule of this API's routes.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Rate limits for every route of this API (scope `api` unless set).
    #[serde(default)]
    pub rate_limits: Vec<RateLimitConfig>,
    /// Quotas for every route of this API (one counter per API and key).
    #[serde(default)]
    pub quotas: Vec<QuotaConfig>,
    /// Rate-limit headers sent: `ietf`, `x-ratelimit` (default both; `[]` for none).
    #[serde(default = "default_header_styles")]
    pub rate_limit_headers: Vec<RateLimitHeaderStyle>,
    /// The routes (with `openapi`: none; the spec's operations are the routes).
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Enforce an OpenAPI spec: its operations become the routes, requests are validated
    /// against it and responses filtered by it.
    #[serde(default)]
    pub openapi: Option<OpenApiConfig>,
    /// Policies of spec operations, by `operationId` (with `openapi`).
    #[serde(default)]
    pub operations: BTreeMap<String, OperationConfig>,
    /// Mask personal data and secrets in JSON responses.
    #[serde(default)]
    pub pii: Option<PiiConfig>,
    /// Run a web application firewall (the built-in rules or OWASP CRS) on requests and
    /// responses.
    #[serde(default)]
    pub waf: Option<super::waf_model::WafConfig>,
}

fn any_host() -> Vec<String> {
    vec!["*".into()]
}

/// A route: a path (template or prefix) and the methods it accepts.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Unique name within the API (defaults to `METHODS path`).
    #[serde(default)]
    pub name: Option<String>,
    /// Exact path or template such as `/users/{id}`; or a prefix written `/static/*`.
    pub path: String,
    /// Methods accepted. Default: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS. TRACE, CONNECT
    /// and non-standard methods are refused unless listed. HEAD is allowed wherever GET is.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Upstream for this route (overrides the API's).
    #[serde(default)]
    pub upstream: Option<String>,
    /// Largest request body for this route (overrides `limits.max_body_bytes`).
    #[serde(default)]
    pub max_body_bytes: Option<ByteSize>,
    /// Remove this prefix from the path before proxying (e.g. the API's base path).
    #[serde(default)]
    pub strip_prefix: Option<String>,
    /// Pass upstream 5xx bodies to the client unchanged. Default: replaced by a problem+json
    /// body with the request id, so stack traces never leak.
    #[serde(default)]
    pub expose_upstream_errors: bool,
    /// Access rule of this route (replaces the API's `auth.default`).
    #[serde(default)]
    pub auth: Option<RuleConfig>,
    /// Rate limits of this route (scope `route` unless set), on top of the API's and global ones.
    #[serde(default)]
    pub rate_limits: Vec<RateLimitConfig>,
    /// Caps on requests in flight on this route.
    #[serde(default)]
    pub concurrency: Option<ConcurrencyConfig>,
    /// Quotas of this route (one counter per route and key).
    #[serde(default)]
    pub quotas: Vec<QuotaConfig>,
    /// Mask PII in this route's responses when the API has a `pii` block (default true).
    #[serde(default = "default_true")]
    pub pii_masking: bool,
}

fn default_true() -> bool {
    true
}

/// Caps on requests in flight on a route (beyond them: 503 `overloaded`).
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyConfig {
    /// Most requests in flight on the route.
    #[serde(default)]
    pub max: Option<usize>,
    /// Most requests in flight from one client IP.
    #[serde(default)]
    pub per_ip: Option<usize>,
}
