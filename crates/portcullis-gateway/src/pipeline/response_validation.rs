//! Response filtering by the API's OpenAPI spec: a status the spec does not document has its
//! body replaced by a problem body; a JSON body is checked against the documented schema and,
//! by the API's choice, stripped of undeclared properties, refused (502), or only reported.

use std::sync::Arc;

use bytes::Bytes;
use http::response::Parts as ResponseParts;
use http::{header, Method, Response};
use portcullis_openapi::{Operation, ResponseMode, ResponsePlan};

use super::{Exchange, Flow, Stage, StageContext, Step};
use crate::body::ProxyBody;
use crate::config::model::UndocumentedResponses;
use crate::problem::Refusal;
use crate::security_events::{EventKind, RouteEvents};

/// Checks the responses of one operation.
pub struct ResponseValidation {
    operation: Arc<Operation>,
    mode: ResponseMode,
    undocumented: UndocumentedResponses,
    events: RouteEvents,
}

impl ResponseValidation {
    /// The stage for `operation`.
    pub fn new(
        operation: Arc<Operation>,
        mode: ResponseMode,
        undocumented: UndocumentedResponses,
        ctx: &StageContext<'_>,
    ) -> Self {
        Self {
            operation,
            mode,
            undocumented,
            events: RouteEvents::for_route(ctx),
        }
    }

    fn plan(&self, head: &ResponseParts) -> ResponsePlan {
        let ct = head
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        self.operation.response_plan(head.status.as_u16(), ct)
    }
}

impl Stage for ResponseValidation {
    fn name(&self) -> &'static str {
        "response_validation"
    }

    fn on_request<'a>(&'a self, ex: &'a mut Exchange<'_>) -> Step<'a> {
        // The body must come back readable: no compression negotiated with the upstream.
        ex.request.headers.remove(header::ACCEPT_ENCODING);
        Step::Done(Flow::Continue)
    }

    fn on_response(&self, ex: &Exchange<'_>, response: &mut Response<ProxyBody>) {
        if self.undocumented != UndocumentedResponses::Replace {
            return;
        }
        let ct = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let status = response.status().as_u16();
        if self.operation.response_plan(status, ct) == ResponsePlan::Undocumented {
            self.events
                .emit(ex, EventKind::ResponseFiltered, "undocumented_status", None);
            super::error_masking::replace_body(
                response,
                Refusal::UndocumentedResponse,
                ex.request_id,
            );
        }
    }

    fn reads_response_body(&self, ex: &Exchange<'_>, head: &ResponseParts) -> bool {
        ex.request.method != Method::HEAD
            && head.status.as_u16() != 204
            && head.status.as_u16() != 304
            && matches!(self.plan(head), ResponsePlan::Json(_))
    }

    fn on_response_body(
        &self,
        ex: &Exchange<'_>,
        head: &mut ResponseParts,
        body: &mut Bytes,
    ) -> Flow {
        let ResponsePlan::Json(schema) = self.plan(head) else {
            return Flow::Continue;
        };
        if body.is_empty() {
            return Flow::Continue;
        }
        if head.headers.contains_key(header::CONTENT_ENCODING) && self.mode != ResponseMode::Report
        {
            // A compressed body cannot be checked; the gateway asked for identity, so refuse.
            self.events
                .emit(ex, EventKind::ResponseFiltered, "encoded_body", None);
            return Flow::from(Refusal::InvalidResponse);
        }
        let verdict = self.operation.check_response(schema, body, self.mode);
        if verdict.refuse {
            let pointers: Vec<&str> = verdict
                .violations
                .iter()
                .map(|v| v.pointer.as_str())
                .collect();
            self.events.emit(
                ex,
                EventKind::ResponseFiltered,
                "blocked",
                Some(&pointers.join(" ")),
            );
            return Flow::from(Refusal::InvalidResponse);
        }
        if let Some(new) = verdict.rewritten {
            self.events.emit(
                ex,
                EventKind::ResponseFiltered,
                "undeclared_fields",
                Some(&format!("{} properties removed", verdict.removed)),
            );
            *body = Bytes::from(new);
            head.headers.remove(header::ETAG);
        }
        let mismatches: Vec<&str> = verdict
            .violations
            .iter()
            .map(|v| v.pointer.as_str())
            .collect();
        if !mismatches.is_empty() {
            self.events.emit(
                ex,
                EventKind::ResponseFiltered,
                "schema_mismatch",
                Some(&mismatches.join(" ")),
            );
        }
        Flow::Continue
    }
}
