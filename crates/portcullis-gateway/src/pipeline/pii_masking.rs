//! PII masking: personal data and secrets in JSON responses are masked (by detection and by
//! configured JSON pointers), counted in metrics, and reported as a security event.

use std::sync::Arc;

use bytes::Bytes;
use http::response::Parts as ResponseParts;
use http::{header, Method};
use portcullis_openapi::pii::Masker;

use super::{Exchange, Flow, Stage, StageContext, Step};
use crate::metrics::Metrics;
use crate::security_events::{EventKind, RouteEvents};

/// Masks one route's JSON responses.
pub struct PiiMasking {
    masker: Arc<Masker>,
    metrics: Arc<Metrics>,
    events: RouteEvents,
}

impl PiiMasking {
    /// The stage masking with `masker`.
    pub fn new(masker: Arc<Masker>, ctx: &StageContext<'_>) -> Self {
        Self {
            masker,
            metrics: ctx.services.metrics.clone(),
            events: RouteEvents::for_route(ctx),
        }
    }
}

/// Whether a response head announces a JSON body.
pub fn is_json(head: &ResponseParts) -> bool {
    head.headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(portcullis_openapi::is_json_media_type)
}

impl Stage for PiiMasking {
    fn name(&self) -> &'static str {
        "pii_masking"
    }

    fn on_request<'a>(&'a self, ex: &'a mut Exchange<'_>) -> Step<'a> {
        // The body must come back readable: no compression negotiated with the upstream.
        ex.request.headers.remove(header::ACCEPT_ENCODING);
        Step::Done(Flow::Continue)
    }

    fn reads_response_body(&self, ex: &Exchange<'_>, head: &ResponseParts) -> bool {
        ex.request.method != Method::HEAD
            && !head.headers.contains_key(header::CONTENT_ENCODING)
            && is_json(head)
    }

    fn on_response_body(
        &self,
        ex: &Exchange<'_>,
        head: &mut ResponseParts,
        body: &mut Bytes,
    ) -> Flow {
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) else {
            return Flow::Continue;
        };
        let masked = self.masker.mask(&mut value);
        if masked.total() == 0 {
            return Flow::Continue;
        }
        let mut detail = String::new();
        for (kind, n) in &masked.counts {
            self.metrics
                .pii_masked(&self.events.api, kind.name(), *n as u64);
            if !detail.is_empty() {
                detail.push(' ');
            }
            detail.push_str(&format!("{}={n}", kind.name()));
        }
        self.events
            .emit(ex, EventKind::DataMasked, "pii", Some(&detail));
        *body = Bytes::from(value.to_string());
        head.headers.remove(header::ETAG);
        Flow::Continue
    }
}
