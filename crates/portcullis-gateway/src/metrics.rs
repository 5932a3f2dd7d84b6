//! Prometheus metrics. One registry for the process; routes hold pre-resolved handles so the
//! data path never hashes label sets. Labels never carry secrets or client-controlled values
//! other than bounded ones (status class, configured names, refusal codes).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::problem::Refusal;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    api: String,
    route: String,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    api: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamErrorLabels {
    upstream: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    kind: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackendFailureLabels {
    backend: &'static str,
    fail: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MaskLabels {
    api: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs .. ~6.5 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RouteLabels>,
    upstream_errors: Family<UpstreamErrorLabels, Counter>,
    connections: Family<ListenerLabels, Gauge>,
    refusals: Family<ReasonLabels, Counter>,
    reloads: Family<OutcomeLabels, Counter>,
    access_log_dropped: Counter,
    security_events: Family<EventLabels, Counter>,
    events_dropped: Counter,
    limiter_failures: Family<BackendFailureLabels, Counter>,
    masked: Family<MaskLabels, Counter>,
}

/// Handles for one route (or for requests that matched none).
#[derive(Clone)]
pub struct RouteMetrics {
    by_class: [Counter; 5],
    /// Request duration, arrival to last body byte.
    pub latency: Histogram,
}

impl RouteMetrics {
    /// Counts one response with `status`.
    pub fn count(&self, status: u16) {
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        self.by_class[class].inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily<RouteLabels> = Family::new_with_constructor(latency_histogram);
        let upstream_errors = Family::<UpstreamErrorLabels, Counter>::default();
        let connections = Family::<ListenerLabels, Gauge>::default();
        let refusals = Family::<ReasonLabels, Counter>::default();
        let reloads = Family::<OutcomeLabels, Counter>::default();
        let access_log_dropped = Counter::default();
        let security_events = Family::<EventLabels, Counter>::default();
        let events_dropped = Counter::default();
        let limiter_failures = Family::<BackendFailureLabels, Counter>::default();
        let masked = Family::<MaskLabels, Counter>::default();
        registry.register(
            "pii_masked_values",
            "Values masked in responses (personal data, secrets), by API and kind",
            masked.clone(),
        );
        registry.register(
            "rate_limit_backend_failures",
            "Rate-limit checks the backend could not answer, by backend and what was done (open: allowed, closed: refused)",
            limiter_failures.clone(),
        );
        registry.register(
            "security_events",
            "Security events (authentication, authorization, lockout) by kind and reason",
            security_events.clone(),
        );
        registry.register(
            "security_events_dropped_lines",
            "Security-event lines dropped because the writer fell behind",
            events_dropped.clone(),
        );
        registry.register(
            "requests",
            "Requests by API, route and status class",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Request duration from arrival to the last body byte",
            latency.clone(),
        );
        registry.register(
            "upstream_errors",
            "Failed upstream attempts by upstream and kind",
            upstream_errors.clone(),
        );
        registry.register(
            "active_connections",
            "Open client connections by listener",
            connections.clone(),
        );
        registry.register(
            "refusals",
            "Requests refused by the gateway, by reason",
            refusals.clone(),
        );
        registry.register(
            "config_reloads",
            "Config reloads by outcome",
            reloads.clone(),
        );
        registry.register(
            "access_log_dropped_lines",
            "Access-log lines dropped because the writer fell behind",
            access_log_dropped.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            upstream_errors,
            connections,
            refusals,
            reloads,
            access_log_dropped,
            security_events,
            events_dropped,
            limiter_failures,
            masked,
        }
    }

    /// Resolves the handles for one route (`"-"` names stand for "no route").
    pub fn route(&self, api: &str, route: &str) -> RouteMetrics {
        let class = |c: &'static str| {
            self.requests
                .get_or_create(&RequestLabels {
                    api: api.to_owned(),
                    route: route.to_owned(),
                    status_class: c,
                })
                .clone()
        };
        RouteMetrics {
            by_class: [
                class("1xx"),
                class("2xx"),
                class("3xx"),
                class("4xx"),
                class("5xx"),
            ],
            latency: self
                .latency
                .get_or_create(&RouteLabels {
                    api: api.to_owned(),
                    route: route.to_owned(),
                })
                .clone(),
        }
    }

    /// The counter of one refusal reason.
    pub fn refusal(&self, refusal: Refusal) -> Counter {
        self.refusals
            .get_or_create(&ReasonLabels {
                reason: refusal.code(),
            })
            .clone()
    }

    /// Counts a failed upstream attempt.
    pub fn upstream_error(&self, upstream: &str, kind: &'static str) {
        self.upstream_errors
            .get_or_create(&UpstreamErrorLabels {
                upstream: upstream.to_owned(),
                kind,
            })
            .inc();
    }

    /// The open-connections gauge of a listener.
    pub fn connections(&self, listener: &str) -> Gauge {
        self.connections
            .get_or_create(&ListenerLabels {
                listener: listener.to_owned(),
            })
            .clone()
    }

    /// Counts a reload attempt.
    pub fn reload(&self, ok: bool) {
        let outcome = if ok { "applied" } else { "refused" };
        self.reloads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Counts one security event.
    pub fn security_event(&self, kind: &'static str, reason: &'static str) {
        self.security_events
            .get_or_create(&EventLabels { kind, reason })
            .inc();
    }

    /// Counts `n` values of `kind` masked in a response of `api`.
    pub fn pii_masked(&self, api: &str, kind: &'static str, n: u64) {
        self.masked
            .get_or_create(&MaskLabels {
                api: api.to_owned(),
                kind,
            })
            .inc_by(n);
    }

    /// Counts a rate-limit check the backend could not answer.
    pub fn limiter_failure(&self, backend: &'static str, fail: &'static str) {
        self.limiter_failures
            .get_or_create(&BackendFailureLabels { backend, fail })
            .inc();
    }

    /// Counter of security-event lines dropped by the writer.
    pub fn events_dropped(&self) -> Counter {
        self.events_dropped.clone()
    }

    /// Counter of access-log lines dropped by the writer.
    pub fn access_log_dropped(&self) -> Counter {
        self.access_log_dropped.clone()
    }

    /// Text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
