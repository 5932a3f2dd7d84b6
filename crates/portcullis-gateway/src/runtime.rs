//! The compiled, immutable form of a config: routes with their stages, upstream pools, limits
//! and headers. Built once per load; a reload builds a new one and swaps it atomically, and a
//! config that does not compile is refused whole while the old runtime keeps serving.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::model::LimitsConfig;
use crate::config::{Finding, LoadedConfig};
use crate::forwarding::TrustedProxies;
use crate::metrics::RouteMetrics;
use crate::pipeline::ip_filter::IpLists;
use crate::pipeline::security_headers::SecurityHeaders;
use crate::pipeline::{build_stages, Stage, StageContext};
use crate::route::{parse_methods, HostPattern, Router};
use crate::services::Services;
use crate::upstream::Upstream;

/// A compiled route.
pub struct Route {
    /// API name.
    pub api: Arc<str>,
    /// Route name.
    pub name: Arc<str>,
    /// Where requests go.
    pub upstream: Arc<Upstream>,
    /// Largest request body.
    pub max_body_bytes: u64,
    /// Prefix removed before proxying.
    pub strip_prefix: Option<String>,
    /// Stages in pipeline order.
    pub stages: Vec<Box<dyn Stage>>,
    /// A stage judges the request body: it is read whole before proxying.
    pub reads_request_body: bool,
    /// Largest upstream response body read when a stage judges it.
    pub max_response_bytes: u64,
    /// Metric handles.
    pub metrics: RouteMetrics,
}

/// Limits read on the data path.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request head.
    pub max_header_bytes: usize,
    /// Most headers.
    pub max_headers: usize,
    /// Longest request target.
    pub max_uri_bytes: usize,
    /// Time for a request head.
    pub header_read_timeout: Duration,
    /// Time for a request body.
    pub request_timeout: Duration,
    /// Idle connection lifetime.
    pub idle_timeout: Duration,
    /// HTTP/2 concurrent streams.
    pub h2_max_concurrent_streams: u32,
    /// HTTP/2 rapid-reset tolerance.
    pub h2_max_pending_accept_reset_streams: usize,
    /// HTTP/2 locally reset streams tolerance.
    pub h2_max_local_error_reset_streams: usize,
}

impl From<&LimitsConfig> for Limits {
    fn from(c: &LimitsConfig) -> Self {
        Self {
            max_header_bytes: c.max_header_bytes.as_usize(),
            max_headers: c.max_headers,
            max_uri_bytes: c.max_uri_bytes,
            header_read_timeout: c.header_read_timeout.0,
            request_timeout: c.request_timeout.0,
            idle_timeout: c.idle_timeout.0,
            h2_max_concurrent_streams: c.h2_max_concurrent_streams,
            h2_max_pending_accept_reset_streams: c.h2_max_pending_accept_reset_streams,
            h2_max_local_error_reset_streams: c.h2_max_local_error_reset_streams,
        }
    }
}

/// Counts for `check`'s summary.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Number of APIs.
    pub apis: usize,
    /// Number of routes.
    pub routes: usize,
    /// Number of upstreams.
    pub upstreams: usize,
}

/// Everything the data path needs, immutable.
pub struct Runtime {
    /// Host/path/method routing to compiled routes.
    pub router: Router<Route>,
    /// Trusted proxies.
    pub trusted_proxies: TrustedProxies,
    /// Limits and timeouts.
    pub limits: Limits,
    /// Security headers.
    pub security_headers: SecurityHeaders,
    /// Metrics for requests that matched no route.
    pub unmatched: RouteMetrics,
    /// What was compiled.
    pub summary: Summary,
    /// Each API's authentication, by API name.
    pub auths: BTreeMap<String, Arc<crate::auth::ApiAuth>>,
    /// Banned client IPs (shared with every runtime of the gateway).
    pub bans: Arc<crate::state::lockout::Lockout<std::net::IpAddr>>,
    /// Every route with what protects it (for `check`).
    pub inventory: Vec<crate::inventory::Entry>,
}

impl Runtime {
    /// The API key provider `provider` of API `api`.
    pub fn api_key_provider(
        &self,
        api: &str,
        provider: &str,
    ) -> Option<&crate::auth::api_key::ApiKeyProvider> {
        self.auths.get(api)?.providers.iter().find_map(|p| match p {
            crate::auth::Provider::ApiKey(k) if &*k.name == provider => Some(k),
            _ => None,
        })
    }
}

impl Runtime {
    /// Compiles a loaded config. Returns every error found, each at its YAML path.
    pub fn build(loaded: &LoadedConfig, services: &Services) -> Result<Self, Vec<Finding>> {
        let cfg = &loaded.config;
        let metrics = &services.metrics;
        let mut errors = Vec::new();
        let global_ip_filter = IpLists::parse(&cfg.ip_filter).unwrap_or_else(|m| {
            errors.push(Finding::error("ip_filter", m));
            IpLists::default()
        });

        let trusted_proxies =
            TrustedProxies::parse(&cfg.trusted_proxies).unwrap_or_else(|(i, m)| {
                errors.push(Finding::error(format!("trusted_proxies.{i}"), m));
                TrustedProxies::default()
            });
        let security_headers = SecurityHeaders::new(&cfg.security_headers).map_err(|m| {
            errors.push(Finding::error("security_headers", m));
        });
        errors.extend(limit_findings(&cfg.limits));

        let mut upstreams: BTreeMap<&str, Arc<Upstream>> = BTreeMap::new();
        let in_flight: BTreeMap<&str, Arc<crate::pipeline::concurrency::InFlight>> = cfg
            .upstreams
            .iter()
            .filter_map(|(name, up)| {
                up.max_in_flight.map(|max| {
                    (
                        name.as_str(),
                        crate::pipeline::concurrency::InFlight::new(max),
                    )
                })
            })
            .collect();
        for (name, up) in &cfg.upstreams {
            match Upstream::new(name, up, &loaded.base_dir) {
                Ok(u) => {
                    upstreams.insert(name, Arc::new(u));
                }
                Err(m) => errors.push(Finding::error(format!("upstreams.{name}"), m)),
            }
        }

        let mut router = Router::default();
        let mut summary = Summary {
            apis: cfg.apis.len(),
            routes: 0,
            upstreams: upstreams.len(),
        };
        let mut api_names = Vec::new();
        let mut auths = BTreeMap::new();
        let mut inventory = Vec::new();
        let mut waf_cache = crate::waf::WafCache::default();
        for (ai, api) in cfg.apis.iter().enumerate() {
            let at = format!("apis.{ai}");
            if api.name.is_empty() || api_names.contains(&api.name.as_str()) {
                errors.push(Finding::error(
                    format!("{at}.name"),
                    format!("API name {:?} is empty or used twice", api.name),
                ));
            }
            api_names.push(&api.name);
            if !api.base_path.is_empty()
                && (!api.base_path.starts_with('/') || api.base_path.ends_with('/'))
            {
                errors.push(Finding::error(
                    format!("{at}.base_path"),
                    "base_path must start with '/' and not end with '/' (e.g. /v1)",
                ));
            }
            let hosts: Vec<HostPattern> = api
                .hosts
                .iter()
                .enumerate()
                .filter_map(|(hi, h)| {
                    HostPattern::parse(h)
                        .map_err(|m| errors.push(Finding::error(format!("{at}.hosts.{hi}"), m)))
                        .ok()
                })
                .collect();
            let api_name: Arc<str> = Arc::from(api.name.as_str());
            let auth = match &api.auth {
                Some(_) if api.public => {
                    errors.push(Finding::error(
                        format!("{at}.public"),
                        "an API is either `public: true` or has an `auth` block, not both",
                    ));
                    None
                }
                Some(a) => crate::auth::compile::compile(
                    &api.name,
                    a,
                    &format!("{at}.auth"),
                    &loaded.base_dir,
                    services,
                )
                .map_err(|e| errors.extend(e))
                .ok(),
                None => None,
            };
            if let Some(a) = &auth {
                auths.insert(api.name.clone(), a.clone());
            }
            if api.routes.is_empty() && api.openapi.is_none() {
                errors.push(Finding::error(
                    format!("{at}.routes"),
                    "an API needs at least one route (or an `openapi` spec)",
                ));
            }
            if api.openapi.is_none() && !api.operations.is_empty() {
                errors.push(Finding::error(
                    format!("{at}.operations"),
                    "`operations` configures spec operations: add an `openapi` block",
                ));
            }
            let spec_routes = match &api.openapi {
                Some(o) => crate::contract::spec_routes(api, o, &at, &loaded.base_dir)
                    .map(|(_, routes)| routes)
                    .unwrap_or_else(|e| {
                        errors.extend(e);
                        Vec::new()
                    }),
                None => Vec::new(),
            };
            let pii = match &api.pii {
                Some(p) => pii_masker(p, &at).map_err(|e| errors.push(e)).ok(),
                None => None,
            };
            let waf = match &api.waf {
                Some(w) => {
                    crate::waf::compile(w, &format!("{at}.waf"), &loaded.base_dir, &mut waf_cache)
                        .map(Arc::new)
                        .map_err(|e| errors.extend(e))
                        .ok()
                }
                None => None,
            };
            let max_response_bytes = api
                .openapi
                .as_ref()
                .map_or(8 * 1024 * 1024, |o| o.max_response_bytes.0);
            let plain = api
                .routes
                .iter()
                .enumerate()
                .map(|(ri, rc)| (rc, format!("{at}.routes.{ri}"), None));
            let generated = spec_routes
                .iter()
                .map(|sr| (&sr.config, sr.at.clone(), Some(&sr.contract)));
            let mut route_names = Vec::new();
            for (rc, rat, contract) in plain.chain(generated) {
                let methods = match parse_methods(&rc.methods) {
                    Ok(m) => m,
                    Err(m) => {
                        errors.push(Finding::error(format!("{rat}.methods"), m));
                        continue;
                    }
                };
                let name = rc.name.clone().unwrap_or_else(|| {
                    let ms: Vec<&str> = rc.methods.iter().map(String::as_str).collect();
                    if ms.is_empty() {
                        rc.path.clone()
                    } else {
                        format!("{} {}", ms.join(","), rc.path)
                    }
                });
                if route_names.contains(&name) {
                    errors.push(Finding::error(
                        format!("{rat}.name"),
                        format!("route name {name:?} is used twice in API {:?}", api.name),
                    ));
                }
                route_names.push(name.clone());
                let (up_name, up_at) = match (&rc.upstream, &api.upstream) {
                    (Some(u), _) => (u.as_str(), format!("{rat}.upstream")),
                    (None, Some(u)) => (u.as_str(), format!("{at}.upstream")),
                    (None, None) => {
                        errors.push(Finding::error(
                            rat.clone(),
                            "route has no upstream: set `upstream` on the route or its API",
                        ));
                        continue;
                    }
                };
                let Some(upstream) = upstreams.get(up_name).cloned() else {
                    if !cfg.upstreams.contains_key(up_name) {
                        errors.push(Finding::error(
                            up_at,
                            format!(
                                "unknown upstream {up_name:?} (defined: {})",
                                names(&cfg.upstreams)
                            ),
                        ));
                    }
                    continue;
                };
                if let Some(p) = &rc.strip_prefix {
                    if !p.starts_with('/') {
                        errors.push(Finding::error(
                            format!("{rat}.strip_prefix"),
                            "strip_prefix must start with '/'",
                        ));
                    }
                }
                if rc.auth.is_some() && api.auth.is_none() {
                    errors.push(Finding::error(
                        format!("{rat}.auth"),
                        format!(
                            "route has an auth rule but API {:?} has no `auth` block with providers",
                            api.name
                        ),
                    ));
                    continue;
                }
                let full_path = format!("{}{}", api.base_path, rc.path);
                let route_name: Arc<str> = Arc::from(name.as_str());
                let ctx = StageContext {
                    api: &api_name,
                    route: &route_name,
                    path: &full_path,
                    auth: auth.as_ref(),
                    global_ip_filter: &global_ip_filter,
                    global_rate_limits: &cfg.rate_limits,
                    upstream_in_flight: in_flight.get(up_name).cloned(),
                    ban_policy: cfg
                        .bans
                        .as_ref()
                        .map(|b| crate::state::lockout::LockoutPolicy {
                            max_failures: b.after.max(1),
                            window: b.window.0,
                            lockout: b.ban.0,
                            max_lockout: b.max_ban.0.max(b.ban.0),
                        }),
                    services,
                    contract,
                    pii: pii.as_ref(),
                    waf: waf.as_ref(),
                };
                let stages = match build_stages(api, rc, &ctx) {
                    Ok(s) => s,
                    Err(es) => {
                        for (key, m) in es {
                            errors.push(Finding::error(stage_error_path(&at, &rat, rc, &key), m));
                        }
                        continue;
                    }
                };
                inventory.push(crate::inventory::Entry::new(
                    api,
                    rc,
                    &full_path,
                    &methods,
                    contract,
                    &cfg.rate_limits,
                ));
                let route = Arc::new(Route {
                    api: api_name.clone(),
                    name: route_name,
                    upstream,
                    max_body_bytes: rc.max_body_bytes.unwrap_or(cfg.limits.max_body_bytes).0,
                    strip_prefix: rc.strip_prefix.clone().filter(|p| p != "/"),
                    reads_request_body: stages.iter().any(|s| s.reads_request_body()),
                    stages,
                    max_response_bytes,
                    metrics: metrics.route(&api.name, &name),
                });
                for host in &hosts {
                    if let Err(m) = router.insert(host, &full_path, &methods, route.clone()) {
                        errors.push(Finding::error(format!("{rat}.path"), m));
                    }
                }
                summary.routes += 1;
            }
            if let Some(w) = &waf {
                for (i, r) in w.named_routes() {
                    if !route_names.iter().any(|n| n == r) {
                        errors.push(Finding::error(
                            format!("{at}.waf.exclusions.{i}.routes"),
                            format!("no route named {r:?} in API {:?}", api.name),
                        ));
                    }
                }
            }
        }

        match security_headers {
            Ok(security_headers) if errors.is_empty() => Ok(Self {
                router,
                trusted_proxies,
                limits: Limits::from(&cfg.limits),
                security_headers,
                unmatched: metrics.route("-", "-"),
                summary,
                auths,
                bans: services.bans.clone(),
                inventory,
            }),
            _ => Err(errors),
        }
    }
}

/// The config path of a stage-building error: `auth.*` keys are in the route's rule or the API's
/// default rule, `api.*` in the API, `global.*` at the top level, others in the route.
fn stage_error_path(
    api_at: &str,
    route_at: &str,
    route: &crate::config::model::RouteConfig,
    key: &str,
) -> String {
    if let Some(rest) = key.strip_prefix("auth.") {
        return match route.auth {
            Some(_) => format!("{route_at}.auth.{rest}"),
            None => format!("{api_at}.auth.default.{rest}"),
        };
    }
    if let Some(rest) = key.strip_prefix("api.") {
        return format!("{api_at}.{rest}");
    }
    if let Some(rest) = key.strip_prefix("global.") {
        return rest.to_owned();
    }
    format!("{route_at}.{key}")
}

/// The API's PII masker, or the finding that says what is wrong with its `pii` block.
fn pii_masker(
    p: &crate::config::model::PiiConfig,
    at: &str,
) -> Result<Arc<portcullis_openapi::pii::Masker>, Finding> {
    use portcullis_openapi::pii::{Kind, Masker};
    let mut kinds = Vec::new();
    for (i, name) in p.detect.iter().enumerate() {
        match Kind::parse(name) {
            Some(k) => kinds.push(k),
            None => {
                let known: Vec<&str> = Kind::DETECTED.iter().map(|k| k.name()).collect();
                return Err(Finding::error(
                    format!("{at}.pii.detect.{i}"),
                    format!("unknown kind {name:?} (one of {})", known.join(", ")),
                ));
            }
        }
    }
    Masker::new(&kinds, &p.fields)
        .map(Arc::new)
        .map_err(|m| Finding::error(format!("{at}.pii.fields"), m))
}

fn names<V>(map: &BTreeMap<String, V>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.keys().cloned().collect::<Vec<_>>().join(", ")
}

fn limit_findings(l: &LimitsConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    if l.max_header_bytes.0 < 8192 {
        out.push(Finding::error(
            "limits.max_header_bytes",
            "max_header_bytes must be at least 8KiB",
        ));
    }
    let positive: [(&str, u64); 7] = [
        ("max_headers", l.max_headers as u64),
        ("max_uri_bytes", l.max_uri_bytes as u64),
        ("max_connections", l.max_connections as u64),
        ("max_connections_per_ip", l.max_connections_per_ip as u64),
        (
            "h2_max_concurrent_streams",
            u64::from(l.h2_max_concurrent_streams),
        ),
        (
            "header_read_timeout",
            l.header_read_timeout.0.as_millis() as u64,
        ),
        ("request_timeout", l.request_timeout.0.as_millis() as u64),
    ];
    for (key, value) in positive {
        if value == 0 {
            out.push(Finding::error(
                format!("limits.{key}"),
                format!("{key} must be greater than 0"),
            ));
        }
    }
    out
}
