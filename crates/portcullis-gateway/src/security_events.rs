//! The security event stream: one JSON line for every authentication failure, authorization
//! denial, lockout and IP refusal, with a stable reason code, so a SIEM can alert on it.
//!
//! An event names what happened and to whom (route, client IP, principal when known, provider,
//! request id). It never carries a credential: no token, key, password or header value.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::json_line::JsonLine;
use crate::line_sink::LineSink;
use crate::metrics::Metrics;

/// What kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A credential was missing or invalid.
    AuthenticationFailed,
    /// An authenticated principal may not do this.
    AuthorizationDenied,
    /// A client IP or identity was locked out after repeated failures.
    LockedOut,
    /// The client IP is not allowed.
    IpDenied,
    /// A client IP was banned for exceeding rate limits.
    Banned,
    /// A request did not match the API's OpenAPI contract.
    RequestInvalid,
    /// An upstream response did not match the contract (stripped, refused or reported).
    ResponseFiltered,
    /// Personal data or secrets were masked in a response.
    DataMasked,
    /// The WAF refused a request or response.
    WafBlocked,
    /// The WAF (in detect mode) found what it would have refused, or rules matched below the
    /// threshold.
    WafDetected,
}

impl EventKind {
    /// The `kind` field and metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthenticationFailed => "authentication_failed",
            Self::AuthorizationDenied => "authorization_denied",
            Self::LockedOut => "locked_out",
            Self::IpDenied => "ip_denied",
            Self::Banned => "banned",
            Self::RequestInvalid => "request_invalid",
            Self::ResponseFiltered => "response_filtered",
            Self::DataMasked => "data_masked",
            Self::WafBlocked => "waf_blocked",
            Self::WafDetected => "waf_detected",
        }
    }
}

/// One security event.
pub struct SecurityEvent<'a> {
    /// What happened.
    pub kind: EventKind,
    /// Stable reason code (e.g. `expired`, `bad_signature`, `missing_scope`).
    pub reason: &'static str,
    /// API name.
    pub api: &'a str,
    /// Route name.
    pub route: &'a str,
    /// Client IP (after trusted-proxy processing).
    pub client_ip: std::net::IpAddr,
    /// Request id.
    pub request_id: &'a str,
    /// Identity provider involved, when known.
    pub provider: Option<&'a str>,
    /// Principal id (or claimed identity such as a key prefix), when known. Never a secret.
    pub principal: Option<&'a str>,
    /// More about what happened (pointers that failed validation, counts of masked values).
    /// Built from the gateway's own words and sanitised input names, never from values.
    pub detail: Option<&'a str>,
    /// What the WAF matched (`{"rules":[{"ruleId":942100,"msg":...}]}`): rule ids, messages
    /// and variable names, never the matched values.
    pub waf: Option<&'a serde_json::Value>,
}

/// Where security events go, and their counters.
pub struct SecurityEvents {
    sink: LineSink,
    metrics: Arc<Metrics>,
}

impl SecurityEvents {
    /// Events written to `path` (`stdout`, `stderr` or a file); `None` only counts them.
    pub fn open(path: Option<&Path>, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let sink = LineSink::open(path, "security-events", metrics.events_dropped())?;
        Ok(Self { sink, metrics })
    }

    /// Events only counted, never written (for `check` and tests).
    pub fn counted_only(metrics: Arc<Metrics>) -> Self {
        Self {
            sink: LineSink::disabled(metrics.events_dropped()),
            metrics,
        }
    }

    /// Records one event.
    pub fn emit(&self, event: &SecurityEvent<'_>) {
        self.metrics
            .security_event(event.kind.as_str(), event.reason);
        self.sink.write(|buf| {
            let mut line = JsonLine::new(buf);
            line.time("time", SystemTime::now());
            line.str("event", event.kind.as_str());
            line.str("reason", event.reason);
            line.str("api", event.api);
            line.str("route", event.route);
            line.str("client_ip", &event.client_ip.to_string());
            line.str("request_id", event.request_id);
            line.opt_str("provider", event.provider);
            line.opt_str("principal", event.principal);
            line.opt_str("detail", event.detail);
            if let Some(waf) = event.waf {
                line.raw("waf", &waf.to_string());
            }
            line.finish();
        });
    }
}

/// Emits events for one route: the API and route names filled in.
pub struct RouteEvents {
    /// API name.
    pub api: Arc<str>,
    /// Route name.
    pub route: Arc<str>,
    /// The event stream.
    pub events: Arc<SecurityEvents>,
}

impl RouteEvents {
    /// The events of the route `ctx` describes.
    pub fn for_route(ctx: &crate::pipeline::StageContext<'_>) -> Self {
        Self {
            api: ctx.api.clone(),
            route: ctx.route.clone(),
            events: ctx.services.events.clone(),
        }
    }

    /// Emits an event about the exchange `ex`.
    pub fn emit(
        &self,
        ex: &crate::pipeline::Exchange<'_>,
        kind: EventKind,
        reason: &'static str,
        detail: Option<&str>,
    ) {
        self.emit_with(ex, kind, reason, detail, None);
    }

    /// Emits an event about the exchange `ex`, with what the WAF matched.
    pub fn emit_with(
        &self,
        ex: &crate::pipeline::Exchange<'_>,
        kind: EventKind,
        reason: &'static str,
        detail: Option<&str>,
        waf: Option<&serde_json::Value>,
    ) {
        self.events.emit(&SecurityEvent {
            kind,
            reason,
            api: &self.api,
            route: &self.route,
            client_ip: ex.client_ip,
            request_id: ex.request_id,
            provider: ex.principal.as_ref().map(|p| &*p.provider),
            principal: ex.principal.as_ref().map(|p| p.id.as_str()),
            detail,
            waf,
        });
    }
}
