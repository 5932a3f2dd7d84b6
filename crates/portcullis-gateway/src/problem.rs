//! Every refusal the gateway writes, and the one place that turns it into an RFC 9457
//! `application/problem+json` response.
//!
//! Each [`Refusal`] has a fixed status, a stable `type` URI and a title. The body carries the
//! request id so an operator can find the log line; details stay in the log. docs/errors.md lists
//! every type (a test keeps them in step).

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::body::ProxyBody;

/// Base of every problem `type` URI.
pub const PROBLEM_BASE: &str = "https://portcullis.dev/problems/";

/// Why the gateway answered a request itself instead of proxying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// No route for this host and path.
    NotFound,
    /// A route matches the path but not the method.
    MethodNotAllowed,
    /// The request is malformed or ambiguous (smuggling attempts, bad headers).
    BadRequest,
    /// The request body did not arrive in time.
    RequestTimeout,
    /// The request body is larger than the route allows.
    PayloadTooLarge,
    /// The request target is too long.
    UriTooLong,
    /// The request head is too large.
    HeadersTooLarge,
    /// The API is not public and has no authentication configured (default deny).
    AccessDenied,
    /// No valid credential was presented (401 with `WWW-Authenticate`).
    Unauthenticated,
    /// The credential is valid but too weak for this operation: MFA or another `acr` needed.
    StepUpRequired,
    /// The principal may not perform this operation (roles, scopes, conditions).
    Forbidden,
    /// The client IP is not allowed.
    IpDenied,
    /// Too many failed authentications from this client or for this identity.
    LockedOut,
    /// A rate limit is exhausted.
    RateLimited,
    /// The rate-limit backend cannot answer and the limit fails closed.
    RateLimitUnavailable,
    /// The client IP is banned (it kept exceeding rate limits, or an operator banned it).
    Banned,
    /// Too many requests in flight on the route, from the client, or to the upstream.
    Overloaded,
    /// The quota of this period is used up.
    QuotaExceeded,
    /// No upstream target could be reached, or it failed.
    UpstreamUnavailable,
    /// The upstream did not answer in time.
    UpstreamTimeout,
    /// The upstream answered with a server error; its body was replaced.
    UpstreamError,
    /// The gateway itself failed; details are in the log.
    Internal,
    /// Parameters or body do not match the API's OpenAPI contract (the body lists where).
    InvalidRequest,
    /// The body's content type is not one the operation documents.
    UnsupportedMediaType,
    /// The operation's sunset date has passed.
    Sunset,
    /// The upstream's response did not match the spec and was refused.
    InvalidResponse,
    /// The upstream answered with a status the spec does not document; its body was replaced.
    UndocumentedResponse,
    /// The web application firewall refused the request (or the response).
    WafBlocked,
}

impl Refusal {
    /// Every refusal, for docs and tests.
    pub const ALL: [Refusal; 28] = [
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::BadRequest,
        Self::RequestTimeout,
        Self::PayloadTooLarge,
        Self::UriTooLong,
        Self::HeadersTooLarge,
        Self::AccessDenied,
        Self::Unauthenticated,
        Self::StepUpRequired,
        Self::Forbidden,
        Self::IpDenied,
        Self::LockedOut,
        Self::RateLimited,
        Self::RateLimitUnavailable,
        Self::Banned,
        Self::Overloaded,
        Self::QuotaExceeded,
        Self::UpstreamUnavailable,
        Self::UpstreamTimeout,
        Self::UpstreamError,
        Self::Internal,
        Self::InvalidRequest,
        Self::UnsupportedMediaType,
        Self::Sunset,
        Self::InvalidResponse,
        Self::UndocumentedResponse,
        Self::WafBlocked,
    ];

    /// HTTP status of this refusal.
    pub fn status(self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::AccessDenied => StatusCode::FORBIDDEN,
            Self::Unauthenticated | Self::StepUpRequired => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::IpDenied | Self::Banned => StatusCode::FORBIDDEN,
            Self::LockedOut | Self::RateLimited | Self::QuotaExceeded => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::RateLimitUnavailable | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::UpstreamError => StatusCode::BAD_GATEWAY,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Sunset => StatusCode::GONE,
            Self::InvalidResponse | Self::UndocumentedResponse => StatusCode::BAD_GATEWAY,
            Self::WafBlocked => StatusCode::FORBIDDEN,
        }
    }

    /// Stable short name: the last segment of the `type` URI, a metric label and a log field.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::BadRequest => "bad-request",
            Self::RequestTimeout => "request-timeout",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UriTooLong => "uri-too-long",
            Self::HeadersTooLarge => "headers-too-large",
            Self::AccessDenied => "access-denied",
            Self::Unauthenticated => "unauthenticated",
            Self::StepUpRequired => "step-up-required",
            Self::Forbidden => "forbidden",
            Self::IpDenied => "ip-denied",
            Self::LockedOut => "locked-out",
            Self::RateLimited => "rate-limited",
            Self::RateLimitUnavailable => "rate-limit-unavailable",
            Self::Banned => "banned",
            Self::Overloaded => "overloaded",
            Self::QuotaExceeded => "quota-exceeded",
            Self::UpstreamUnavailable => "upstream-unavailable",
            Self::UpstreamTimeout => "upstream-timeout",
            Self::UpstreamError => "upstream-error",
            Self::Internal => "internal-error",
            Self::InvalidRequest => "invalid-request",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::Sunset => "sunset",
            Self::InvalidResponse => "invalid-response",
            Self::UndocumentedResponse => "undocumented-response",
            Self::WafBlocked => "waf-blocked",
        }
    }

    /// Short human title.
    pub fn title(self) -> &'static str {
        match self {
            Self::NotFound => "No route matches this request",
            Self::MethodNotAllowed => "Method not allowed on this route",
            Self::BadRequest => "Malformed request",
            Self::RequestTimeout => "Request not received in time",
            Self::PayloadTooLarge => "Request body too large",
            Self::UriTooLong => "Request target too long",
            Self::HeadersTooLarge => "Request headers too large",
            Self::AccessDenied => "Access denied",
            Self::Unauthenticated => "Authentication required",
            Self::StepUpRequired => "Stronger authentication required",
            Self::Forbidden => "Not allowed",
            Self::IpDenied => "Client address not allowed",
            Self::LockedOut => "Too many failed attempts",
            Self::RateLimited => "Rate limit exceeded",
            Self::RateLimitUnavailable => "Rate limiting unavailable",
            Self::Banned => "Client temporarily banned",
            Self::Overloaded => "Too many requests in progress",
            Self::QuotaExceeded => "Quota exceeded for this period",
            Self::UpstreamUnavailable => "Upstream service unavailable",
            Self::UpstreamTimeout => "Upstream service timed out",
            Self::UpstreamError => "Upstream service failed",
            Self::Internal => "Internal gateway error",
            Self::InvalidRequest => "Request does not match the API contract",
            Self::UnsupportedMediaType => "Content type not accepted by this operation",
            Self::Sunset => "This operation has been retired",
            Self::InvalidResponse => "Upstream response refused",
            Self::UndocumentedResponse => "Upstream response not documented",
            Self::WafBlocked => "Blocked by the web application firewall",
        }
    }

    /// The full problem `type` URI.
    pub fn type_uri(self) -> String {
        format!("{PROBLEM_BASE}{}", self.code())
    }

    /// The problem+json response for this refusal. `request_id` goes into the body; the caller
    /// adds headers such as `Allow` and the security headers.
    pub fn respond(self, request_id: &str) -> Response<ProxyBody> {
        self.respond_with_status(self.status(), request_id)
    }

    /// Like [`Refusal::respond`] with another status (masking keeps the upstream's 5xx code).
    pub fn respond_with_status(self, status: StatusCode, request_id: &str) -> Response<ProxyBody> {
        self.respond_with_errors(status, request_id, None)
    }

    /// Like [`Refusal::respond_with_status`], with an `errors` member (validation failures:
    /// pointers and reasons, never the offending values).
    pub fn respond_with_errors(
        self,
        status: StatusCode,
        request_id: &str,
        errors: Option<&serde_json::Value>,
    ) -> Response<ProxyBody> {
        let mut body = serde_json::json!({
            "type": self.type_uri(),
            "title": self.title(),
            "status": status.as_u16(),
            "request_id": request_id,
        });
        if let (Some(errors), Some(map)) = (errors, body.as_object_mut()) {
            map.insert("errors".to_owned(), errors.clone());
        }
        let bytes = Bytes::from(body.to_string());
        let mut resp = Response::new(ProxyBody::full(bytes));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_url_safe() {
        let mut seen = std::collections::HashSet::new();
        for r in Refusal::ALL {
            assert!(seen.insert(r.code()), "duplicate code {}", r.code());
            assert!(r
                .code()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-'));
        }
    }

    #[test]
    fn docs_list_every_problem_type() {
        let docs = include_str!("../../../docs/errors.md");
        for r in Refusal::ALL {
            assert!(
                docs.contains(&r.type_uri()),
                "docs/errors.md lacks {}",
                r.type_uri()
            );
        }
    }
}
