//! Request validation against the API's OpenAPI spec: parameters when the head arrives, the
//! body once it has been read. A mismatch is a 400 listing what failed and where (bounded, and
//! never echoing the input), or a 415 for an undocumented content type.

use std::sync::Arc;

use bytes::Bytes;
use http::header;
use portcullis_openapi::{Operation, RequestParts, RequestRefusal};

use super::path_params::PathParams;
use super::{Answer, Exchange, Flow, Stage, StageContext, Step};
use crate::problem::Refusal;
use crate::security_events::{EventKind, RouteEvents};

/// Validates requests of one operation.
pub struct RequestValidation {
    operation: Arc<Operation>,
    params: PathParams,
    events: RouteEvents,
}

impl RequestValidation {
    /// The stage for `operation` on the route `ctx` describes.
    pub fn new(operation: Arc<Operation>, ctx: &StageContext<'_>) -> Self {
        Self {
            operation,
            params: PathParams::new(ctx.path),
            events: RouteEvents::for_route(ctx),
        }
    }

    fn refuse(&self, ex: &Exchange<'_>, refusal: RequestRefusal) -> Flow {
        match refusal {
            RequestRefusal::UnsupportedMediaType => {
                self.events
                    .emit(ex, EventKind::RequestInvalid, "media_type", None);
                Flow::from(Refusal::UnsupportedMediaType)
            }
            RequestRefusal::Invalid {
                violations,
                truncated,
            } => {
                let pointers: Vec<&str> = violations.iter().map(|v| v.pointer.as_str()).collect();
                self.events.emit(
                    ex,
                    EventKind::RequestInvalid,
                    "schema",
                    Some(&pointers.join(" ")),
                );
                let mut errors = serde_json::to_value(&violations).unwrap_or_default();
                if truncated {
                    if let Some(list) = errors.as_array_mut() {
                        list.push(serde_json::json!({
                            "pointer": "",
                            "reason": "more errors were found; fix these first",
                        }));
                    }
                }
                Flow::Respond(Answer {
                    errors: Some(Box::new(errors)),
                    ..Answer::from(Refusal::InvalidRequest)
                })
            }
        }
    }
}

/// Whether the request head announces a body.
fn has_body(head: &http::request::Parts) -> bool {
    head.headers.contains_key(header::TRANSFER_ENCODING)
        || head
            .headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

impl Stage for RequestValidation {
    fn name(&self) -> &'static str {
        "request_validation"
    }

    fn on_request<'a>(&'a self, ex: &'a mut Exchange<'_>) -> Step<'a> {
        let head = &*ex.request;
        let checked = self.params.with(head.uri.path(), |path_params| {
            self.operation.check_parameters(&RequestParts {
                path_params,
                query: head.uri.query(),
                headers: &head.headers,
            })
        });
        if let Err(refusal) = checked {
            return Step::Done(self.refuse(ex, refusal));
        }
        if !self.operation.accepts_body() && has_body(head) {
            return Step::Done(self.refuse(ex, RequestRefusal::UnsupportedMediaType));
        }
        Step::Done(Flow::Continue)
    }

    fn reads_request_body(&self) -> bool {
        self.operation.accepts_body()
    }

    fn on_request_body(&self, ex: &mut Exchange<'_>, body: &Bytes) -> Flow {
        let content_type = ex
            .request
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        match self.operation.check_body(content_type, body) {
            Ok(()) => Flow::Continue,
            Err(refusal) => self.refuse(ex, refusal),
        }
    }
}
