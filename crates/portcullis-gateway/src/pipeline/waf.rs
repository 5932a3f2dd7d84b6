//! The WAF stage: the API's rule set (built-in or OWASP CRS) over each exchange. Phases 1 and
//! 2 run on the request head and body, phases 3 and 4 on the upstream's response, phase 5 at
//! the end. A block is a 403 problem+json (400 for a body the WAF cannot parse); the matched
//! rules and anomaly scores go to the security event, never into the response.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::response::Parts as ResponseParts;
use http::{header, HeaderMap, Method, Response, Version};
use portcullis_waf::engine::actions::Ctl;
use portcullis_waf::engine::{Interruption, RequestHead, Transaction};

use super::{Exchange, Flow, Stage, StageContext, Step};
use crate::body::ProxyBody;
use crate::config::waf_model::WafMode;
use crate::problem::Refusal;
use crate::security_events::{EventKind, RouteEvents};
use crate::waf::ApiWaf;

/// The WAF of one route.
pub struct WafStage {
    api: Arc<ApiWaf>,
    controls: Vec<Ctl>,
    events: RouteEvents,
}

/// The transaction of one exchange, kept with the exchange between the hooks, and how many of
/// its matches were already reported.
struct WafState(Mutex<(Transaction, usize)>);

impl WafStage {
    /// The stage for the route `ctx` describes.
    pub fn new(api: Arc<ApiWaf>, ctx: &StageContext<'_>) -> Self {
        let controls = api.controls_for(ctx.route);
        Self {
            api,
            controls,
            events: RouteEvents::for_route(ctx),
        }
    }

    fn state<'e>(ex: &'e Exchange<'_>) -> Option<&'e WafState> {
        ex.guards.iter().find_map(|g| g.downcast_ref::<WafState>())
    }

    /// Reports what the rules found; the refusal when they stopped the exchange.
    fn verdict(
        &self,
        ex: &Exchange<'_>,
        state: &mut (Transaction, usize),
        stop: Option<Interruption>,
    ) -> Flow {
        let Some(stop) = stop else {
            return Flow::Continue;
        };
        state.1 = state.0.logged().len();
        self.report(ex, &state.0, EventKind::WafBlocked, "anomaly_score");
        Flow::from(match stop.status {
            400 => Refusal::BadRequest,
            413 => Refusal::PayloadTooLarge,
            _ => Refusal::WafBlocked,
        })
    }

    fn report(&self, ex: &Exchange<'_>, tx: &Transaction, kind: EventKind, reason: &'static str) {
        let rules: Vec<serde_json::Value> = tx
            .logged()
            .iter()
            .map(|l| {
                serde_json::json!({
                    "ruleId": l.id,
                    "msg": l.msg,
                    "severity": &*l.severity,
                    "matched": l.matched,
                })
            })
            .collect();
        let score = |name: &str| {
            tx.tx(name)
                .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let ids: Vec<String> = tx.logged().iter().map(|l| l.id.to_string()).collect();
        let detail = format!(
            "rules={} inbound_score={} outbound_score={}",
            ids.join(","),
            score("blocking_inbound_anomaly_score").max(score("inbound_anomaly_score")),
            score("blocking_outbound_anomaly_score").max(score("outbound_anomaly_score")),
        );
        let waf = serde_json::json!({ "rules": rules });
        self.events
            .emit_with(ex, kind, reason, Some(&detail), Some(&waf));
    }

    /// In detect mode, an event for matches not reported yet.
    fn detected(&self, ex: &Exchange<'_>, state: &mut (Transaction, usize)) {
        if self.api.mode == WafMode::Detect && state.0.logged().len() > state.1 {
            state.1 = state.0.logged().len();
            self.report(ex, &state.0, EventKind::WafDetected, "detected");
        }
    }

    /// Ends the transaction: phase 5, and the detect-mode event.
    fn finish(&self, ex: &Exchange<'_>, state: &mut (Transaction, usize)) {
        state.0.logging();
        self.detected(ex, state);
    }
}

fn pairs(headers: &HeaderMap) -> Vec<(Vec<u8>, Vec<u8>)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// The client address as `REMOTE_ADDR` holds it. An IPv4 address is written octet by octet:
/// `to_string` goes through the formatting machinery, ~3,000 instructions per request.
fn address_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        text.push_str(itoa::Buffer::new().format(octet));
    }
    text
}

fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

impl Stage for WafStage {
    fn name(&self) -> &'static str {
        "waf"
    }

    fn on_request<'a>(&'a self, ex: &'a mut Exchange<'_>) -> Step<'a> {
        let head = RequestHead {
            method: ex.request.method.as_str().to_owned(),
            target: ex
                .request
                .uri
                .path_and_query()
                .map_or(b"/".to_vec(), |p| p.as_str().as_bytes().to_vec()),
            protocol: protocol(ex.request.version).to_owned(),
            headers: pairs(&ex.request.headers),
            remote_addr: address_text(ex.client_ip),
        };
        let mut tx = self.api.waf.transaction(head);
        for c in &self.controls {
            tx.control(c);
        }
        let stop = tx.request_headers().cloned();
        let mut state = (tx, 0);
        let flow = self.verdict(ex, &mut state, stop);
        ex.guards.push(Box::new(WafState(Mutex::new(state))));
        Step::Done(flow)
    }

    fn reads_request_body(&self) -> bool {
        true
    }

    fn on_request_body(&self, ex: &mut Exchange<'_>, body: &Bytes) -> Flow {
        let Some(state) = Self::state(ex) else {
            return Flow::Continue;
        };
        let mut state = state.0.lock().unwrap_or_else(|p| p.into_inner());
        let stop = state.0.request_body(body).cloned();
        let flow = self.verdict(ex, &mut state, stop);
        if flow == Flow::Continue {
            self.detected(ex, &mut state);
        } else {
            self.finish(ex, &mut state);
        }
        flow
    }

    fn on_response(&self, ex: &Exchange<'_>, response: &mut Response<ProxyBody>) {
        let Some(state) = Self::state(ex) else {
            return;
        };
        let mut state = state.0.lock().unwrap_or_else(|p| p.into_inner());
        let stop = state
            .0
            .response_headers(response.status().as_u16(), pairs(response.headers()))
            .cloned();
        if let Flow::Respond(answer) = self.verdict(ex, &mut state, stop) {
            self.finish(ex, &mut state);
            *response = answer.refusal.respond(ex.request_id);
            return;
        }
        if !inspectable(ex, response.headers(), response.status().as_u16(), &state.0) {
            let stop = state.0.response_body(b"").cloned();
            if let Flow::Respond(answer) = self.verdict(ex, &mut state, stop) {
                *response = answer.refusal.respond(ex.request_id);
            }
            self.finish(ex, &mut state);
        }
    }

    fn reads_response_body(&self, ex: &Exchange<'_>, head: &ResponseParts) -> bool {
        Self::state(ex).is_some_and(|state| {
            let state = state.0.lock().unwrap_or_else(|p| p.into_inner());
            inspectable(ex, &head.headers, head.status.as_u16(), &state.0)
        })
    }

    fn reads_partial_response_body(&self) -> bool {
        true
    }

    fn on_response_body(
        &self,
        ex: &Exchange<'_>,
        _head: &mut ResponseParts,
        body: &mut Bytes,
    ) -> Flow {
        let Some(state) = Self::state(ex) else {
            return Flow::Continue;
        };
        let mut state = state.0.lock().unwrap_or_else(|p| p.into_inner());
        let stop = state.0.response_body(body).cloned();
        let flow = self.verdict(ex, &mut state, stop);
        self.finish(ex, &mut state);
        flow
    }
}

/// Whether the response body is one the outbound rules read: not for HEAD, 204 or 304, not
/// compressed, of a type the rule set inspects, and not announced larger than the rule set's
/// response body limit (such a body streams through uninspected, as ModSecurity's
/// `ProcessPartial` would inspect only its start; buffering it whole is not worth the memory).
fn inspectable(ex: &Exchange<'_>, headers: &HeaderMap, status: u16, tx: &Transaction) -> bool {
    let limit = tx.waf().settings().response_body_limit;
    let too_large = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > limit);
    ex.request.method != Method::HEAD
        && status != 204
        && status != 304
        && !too_large
        && !headers.contains_key(header::CONTENT_ENCODING)
        && tx.wants_response_body()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_std_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = ip.parse().expect("an address");
            assert_eq!(address_text(ip), ip.to_string());
        }
    }
}
