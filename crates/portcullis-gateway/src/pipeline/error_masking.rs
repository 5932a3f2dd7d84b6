//! Error masking: an upstream 5xx body (stack traces, SQL errors, internal hostnames) is replaced
//! by a problem+json body carrying the request id. The status code is kept. A route opts out
//! with `expose_upstream_errors: true`.

use http::{header, HeaderValue, Response};

use super::{Exchange, Stage};
use crate::body::ProxyBody;
use crate::problem::Refusal;

/// Replaces the body of upstream server errors.
pub struct ErrorMasking;

impl Stage for ErrorMasking {
    fn name(&self) -> &'static str {
        "error_masking"
    }

    fn on_response(&self, exchange: &Exchange<'_>, response: &mut Response<ProxyBody>) {
        if response.status().is_server_error() {
            replace_body(response, Refusal::UpstreamError, exchange.request_id);
        }
    }
}

/// Replaces a response's body (and the headers that describe it) with `refusal`'s problem
/// body, keeping the status.
pub fn replace_body(response: &mut Response<ProxyBody>, refusal: Refusal, request_id: &str) {
    let status = response.status();
    let masked = refusal.respond_with_status(status, request_id);
    let (parts, body) = masked.into_parts();
    *response.body_mut() = body;
    let headers = response.headers_mut();
    for name in [
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::CONTENT_LANGUAGE,
        header::CONTENT_DISPOSITION,
        header::ETAG,
        header::LAST_MODIFIED,
    ] {
        headers.remove(name);
    }
    headers.insert(
        header::CONTENT_TYPE,
        parts
            .headers
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or(HeaderValue::from_static("application/problem+json")),
    );
}
