//! Upstream services: targets, balancing, pooled connections, timeouts, retries and passive
//! health.
//!
//! Posture: TLS to `https` targets is always verified (public web roots or a configured CA);
//! only idempotent requests without a body are retried, and only when the attempt failed before
//! a response started; a target that keeps failing is ejected for a while, and when every target
//! is ejected all are tried again rather than failing everything (Envoy's "panic mode").

mod health;
pub(crate) mod pool;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

pub use health::Health;
pub use pool::Checkin;

use crate::body::{BodyError, BodyFailure, RequestBody};
use crate::config::model::{Balance, UpstreamConfig, UpstreamProtocol};
use pool::{Connector, PoolError, TargetPool};

/// One target of an upstream.
pub struct Target {
    /// `host:port` as written, for logs.
    pub label: Arc<str>,
    scheme: Scheme,
    authority: Authority,
    /// Host header value when the client's is not preserved.
    pub host_header: HeaderValue,
    in_flight: AtomicUsize,
    health: Health,
    pool: Arc<TargetPool>,
}

/// What every target of an upstream shares when its pool is built.
struct PoolSettings {
    tls: TlsConnector,
    connect_timeout: std::time::Duration,
    h2: bool,
    max_idle: usize,
    idle_timeout: std::time::Duration,
}

impl Target {
    fn parse(url: &str, settings: &PoolSettings) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|_| format!("invalid target URL {url:?}"))?;
        let scheme = uri.scheme().cloned().ok_or_else(|| {
            format!("target {url:?} needs a scheme: http://host:port or https://host:port")
        })?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(format!("target {url:?}: scheme must be http or https"));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("target {url:?} has no host"))?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!(
                "target {url:?}: give only scheme, host and port (use strip_prefix for paths)"
            ));
        }
        if authority.as_str().contains('@') {
            return Err(format!(
                "target {url:?}: credentials in URLs are not allowed"
            ));
        }
        let host_header = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("target {url:?}: invalid host"))?;
        let https = scheme == Scheme::HTTPS;
        let tls = if https {
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            let name = ServerName::try_from(host.to_owned())
                .map_err(|_| format!("target {url:?}: invalid TLS server name"))?;
            Some((settings.tls.clone(), name))
        } else {
            None
        };
        let pool = TargetPool::new(
            Connector {
                address: pool::address_of(&authority, https),
                tls,
                connect_timeout: settings.connect_timeout,
                h2: settings.h2,
            },
            settings.max_idle,
            settings.idle_timeout,
        );
        Ok(Self {
            label: Arc::from(authority.as_str()),
            scheme,
            authority,
            host_header,
            in_flight: AtomicUsize::new(0),
            health: Health::default(),
            pool,
        })
    }
}

/// Why an upstream attempt failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The target could not be reached (refused, reset, TLS failure, DNS).
    Connect,
    /// No response headers within `response_timeout`.
    Timeout,
    /// The client's body failed (too large, too slow, client gone).
    Body(BodyFailure),
    /// The exchange failed after it started.
    Protocol,
}

impl UpstreamError {
    /// Short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Body(_) => "client_body",
            Self::Protocol => "protocol",
        }
    }
}

/// A compiled upstream: targets, a pooled client and the policies around it.
pub struct Upstream {
    /// The upstream's name.
    pub name: Arc<str>,
    targets: Vec<Target>,
    balance: Balance,
    protocol: UpstreamProtocol,
    next: AtomicUsize,
    response_timeout: Duration,
    /// Extra attempts allowed for retryable requests.
    pub retries: u32,
    max_failures: u32,
    eject_for: Duration,
    /// Send the client's Host header instead of the target's.
    pub preserve_host: bool,
}

impl Upstream {
    /// Builds an upstream from its config. Relative CA paths are taken from `base_dir`.
    pub fn new(
        name: &str,
        cfg: &UpstreamConfig,
        base_dir: &std::path::Path,
    ) -> Result<Self, String> {
        if cfg.targets.is_empty() {
            return Err("an upstream needs at least one target".into());
        }
        let mut tls = crate::tls::client_config(cfg.ca.as_deref().map(|p| base_dir.join(p)))?;
        tls.alpn_protocols = match cfg.protocol {
            UpstreamProtocol::H2 => vec![b"h2".to_vec()],
            _ => vec![b"http/1.1".to_vec()],
        };
        let settings = PoolSettings {
            tls: TlsConnector::from(Arc::new(tls)),
            connect_timeout: cfg.connect_timeout.0,
            h2: cfg.protocol == UpstreamProtocol::H2,
            max_idle: cfg.max_idle_per_target,
            idle_timeout: cfg.idle_timeout.0,
        };
        let targets = cfg
            .targets
            .iter()
            .map(|t| Target::parse(t, &settings))
            .collect::<Result<Vec<_>, _>>()?;
        if targets.iter().any(|t| t.scheme != targets[0].scheme) {
            return Err("all targets of an upstream must use the same scheme".into());
        }
        Ok(Self {
            name: Arc::from(name),
            targets,
            balance: cfg.balance,
            protocol: cfg.protocol,
            next: AtomicUsize::new(0),
            response_timeout: cfg.response_timeout.0,
            retries: cfg.retries,
            max_failures: cfg.health.max_failures.max(1),
            eject_for: cfg.health.eject_for.0,
            preserve_host: cfg.preserve_host,
        })
    }

    /// Picks a target, skipping ejected ones and those in `tried` (a bit set of indexes).
    pub fn pick(&self, tried: u64) -> usize {
        let n = self.targets.len();
        let usable = |i: usize, allow_ejected: bool| {
            (i >= 64 || tried & (1 << i) == 0)
                && (allow_ejected || !self.targets[i].health.is_ejected())
        };
        for allow_ejected in [false, true] {
            let choice = match self.balance {
                Balance::RoundRobin => {
                    let start = self.next.fetch_add(1, Ordering::Relaxed);
                    (0..n)
                        .map(|k| (start + k) % n)
                        .find(|&i| usable(i, allow_ejected))
                }
                Balance::LeastRequests => (0..n)
                    .filter(|&i| usable(i, allow_ejected))
                    .min_by_key(|&i| self.targets[i].in_flight.load(Ordering::Relaxed)),
            };
            if let Some(i) = choice {
                return i;
            }
        }
        self.next.fetch_add(1, Ordering::Relaxed) % n
    }

    /// True when the upstream speaks HTTP/2.
    pub fn is_h2(&self) -> bool {
        self.protocol == UpstreamProtocol::H2
    }

    /// The target at `index`.
    pub fn target(&self, index: usize) -> &Target {
        &self.targets[index]
    }

    /// Number of targets.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True when there are no targets (never, after `new`).
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The URI of `path_and_query` on target `index`: origin form for HTTP/1.1, absolute for
    /// HTTP/2 (which carries scheme and authority as pseudo-headers).
    pub fn uri(&self, index: usize, path_and_query: &str) -> Result<Uri, http::Error> {
        if !self.is_h2() {
            return Uri::builder().path_and_query(path_and_query).build();
        }
        let t = &self.targets[index];
        Uri::builder()
            .scheme(t.scheme.clone())
            .authority(t.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }

    /// Sends one request to target `index`, waiting at most `response_timeout` for headers.
    /// Updates in-flight counts and passive health. The [`Checkin`] (HTTP/1.1) must travel with
    /// the response body so the connection is reused once the body is read.
    pub async fn send(
        &self,
        index: usize,
        req: Request<RequestBody>,
    ) -> Result<(Response<Incoming>, Option<Checkin>), UpstreamError> {
        let target = &self.targets[index];
        target.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = tokio::time::timeout(self.response_timeout, target.pool.send(req)).await;
        target.in_flight.fetch_sub(1, Ordering::Relaxed);
        let outcome = match result {
            Err(_) => Err(UpstreamError::Timeout),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(PoolError::Connect)) => Err(UpstreamError::Connect),
            Ok(Err(PoolError::Exchange(e))) => Err(classify(&e)),
        };
        match &outcome {
            Ok((resp, _)) if resp.status().is_server_error() => {
                target.health.failure(self.max_failures, self.eject_for)
            }
            Ok(_) => target.health.success(),
            Err(UpstreamError::Body(_)) => {}
            Err(_) => target.health.failure(self.max_failures, self.eject_for),
        }
        outcome
    }
}

fn classify(e: &hyper::Error) -> UpstreamError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<BodyError>() {
            return UpstreamError::Body(b.failure());
        }
        source = s.source();
    }
    UpstreamError::Protocol
}
