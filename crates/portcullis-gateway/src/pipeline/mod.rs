//! The per-route pipeline: stages that see each exchange in a fixed order and either let it
//! continue or answer it.
//!
//! Order (docs/architecture.md draws it): request stages run after routing and before the
//! upstream; response stages run on the upstream's response, in the same order; the global
//! security headers ([`security_headers::SecurityHeaders`]) are applied last to every response,
//! including refusals. [`build_stages`] is the one function that decides the order, and a test
//! pins it.

pub mod authenticate;
pub mod authorize;
pub mod concurrency;
pub mod default_deny;
pub mod deprecation;
pub mod error_masking;
pub mod ip_filter;
pub mod limit_key;
pub mod path_params;
pub mod pii_masking;
pub mod quota;
pub mod rate_limit;
pub mod request_validation;
pub mod response_validation;
pub mod security_headers;
pub mod waf;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::model::{ApiConfig, RouteConfig};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::response::Parts as ResponseParts;
use http::Response;

use crate::auth::{ClientCert, Principal};
use crate::body::ProxyBody;
use crate::problem::Refusal;

/// An answer a stage gives instead of proxying: a refusal and the headers that go with it
/// (`WWW-Authenticate`, `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The refusal (status, problem type).
    pub refusal: Refusal,
    /// Extra response headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The problem body's `errors` member (what failed validation, and where).
    pub errors: Option<Box<serde_json::Value>>,
}

impl From<Refusal> for Answer {
    fn from(refusal: Refusal) -> Self {
        Self {
            refusal,
            headers: Vec::new(),
            errors: None,
        }
    }
}

impl Answer {
    /// Adds a header (values that are not valid header text are skipped).
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }
}

/// What a request stage decided.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flow {
    /// Go on to the next stage (and finally the upstream).
    Continue,
    /// Answer now.
    Respond(Answer),
}

impl From<Refusal> for Flow {
    fn from(r: Refusal) -> Self {
        Self::Respond(r.into())
    }
}

/// A stage's decision, now or after waiting (a JWKS fetch, an introspection call). Stages that
/// never wait always return [`Step::Done`], so the common path allocates nothing.
pub enum Step<'a> {
    /// Decided.
    Done(Flow),
    /// Decided when this future completes.
    Wait(Pin<Box<dyn Future<Output = Flow> + Send + 'a>>),
}

/// What a stage may read (and, for the request head, change) about the exchange.
pub struct Exchange<'a> {
    /// The request head (after hygiene: hop-by-hop removed). Stages may set or remove headers.
    pub request: &'a mut Parts,
    /// The client's IP (after trusted-proxy processing).
    pub client_ip: IpAddr,
    /// The request id.
    pub request_id: &'a str,
    /// The verified client certificate of the connection, if any.
    pub client_cert: Option<&'a Arc<ClientCert>>,
    /// The authenticated principal, once a stage has set it.
    pub principal: Option<Arc<Principal>>,
    /// Headers request stages want on the response (rate-limit headers), whatever it is.
    pub response_headers: Vec<(HeaderName, HeaderValue)>,
    /// Values kept alive until the response is done (in-flight slots).
    pub guards: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

impl<'a> Exchange<'a> {
    /// An exchange with no principal yet.
    pub fn new(
        request: &'a mut Parts,
        client_ip: IpAddr,
        request_id: &'a str,
        client_cert: Option<&'a Arc<ClientCert>>,
    ) -> Self {
        Self {
            request,
            client_ip,
            request_id,
            client_cert,
            principal: None,
            response_headers: Vec::new(),
            guards: Vec::new(),
        }
    }
}

/// One protection on a route. Both hooks default to doing nothing.
pub trait Stage: Send + Sync {
    /// Name used in logs, events and the order test.
    fn name(&self) -> &'static str;

    /// Runs before the request is proxied. Returning [`Flow::Respond`] stops the pipeline.
    fn on_request<'a>(&'a self, _exchange: &'a mut Exchange<'_>) -> Step<'a> {
        Step::Done(Flow::Continue)
    }

    /// Runs on the upstream's response before it is sent to the client.
    fn on_response(&self, _exchange: &Exchange<'_>, _response: &mut Response<ProxyBody>) {}

    /// Whether this stage judges the request body. The body of such a route is then read
    /// whole (up to the route's limit) after every `on_request`, handed to
    /// [`Stage::on_request_body`], and forwarded from memory.
    fn reads_request_body(&self) -> bool {
        false
    }

    /// Runs on the whole request body (empty when none was sent).
    fn on_request_body(&self, _exchange: &mut Exchange<'_>, _body: &Bytes) -> Flow {
        Flow::Continue
    }

    /// Whether this stage needs the body of this upstream response (asked after every
    /// `on_response`, and only for bodies that come from the upstream).
    fn reads_response_body(&self, _exchange: &Exchange<'_>, _response: &ResponseParts) -> bool {
        false
    }

    /// Whether the start of a response body is enough for this stage when the body is too
    /// large to hold whole (the WAF inspects up to its own limit, as ModSecurity's
    /// `ProcessPartial` does). Such a body is then handed over by its start, and streams on
    /// unchanged; a body too large for a stage that answers `false` is refused (502).
    fn reads_partial_response_body(&self) -> bool {
        false
    }

    /// Runs on the whole response body (or, for a stage that
    /// [reads partial bodies](Stage::reads_partial_response_body), on the start of one too
    /// large to hold, where a rewrite has no effect); may rewrite it (and its headers) or
    /// refuse the response with [`Flow::Respond`].
    fn on_response_body(
        &self,
        _exchange: &Exchange<'_>,
        _response: &mut ResponseParts,
        _body: &mut Bytes,
    ) -> Flow {
        Flow::Continue
    }
}

/// What building a route's stages needs besides its config.
pub struct StageContext<'a> {
    /// API name.
    pub api: &'a Arc<str>,
    /// Route name.
    pub route: &'a Arc<str>,
    /// The route's full path template (base path included).
    pub path: &'a str,
    /// The API's compiled authentication, if it has any.
    pub auth: Option<&'a Arc<crate::auth::ApiAuth>>,
    /// Global IP lists.
    pub global_ip_filter: &'a ip_filter::IpLists,
    /// Global rate limits.
    pub global_rate_limits: &'a [crate::config::model::RateLimitConfig],
    /// When rate-limit refusals lead to a ban (absent: no automatic bans).
    pub ban_policy: Option<crate::state::lockout::LockoutPolicy>,
    /// The in-flight counter of the route's upstream, when it has `max_in_flight`.
    pub upstream_in_flight: Option<Arc<concurrency::InFlight>>,
    /// Long-lived services (events, lockout counters).
    pub services: &'a crate::services::Services,
    /// The spec operation this route enforces (APIs with `openapi`).
    pub contract: Option<&'a crate::contract::Contract>,
    /// The API's PII masker (APIs with `pii`).
    pub pii: Option<&'a Arc<portcullis_openapi::pii::Masker>>,
    /// The API's WAF (APIs with `waf`).
    pub waf: Option<&'a Arc<crate::waf::ApiWaf>>,
}

/// Adds the rate-limit and quota stages (built together, as one step of the order).
fn push_rate_limit(
    stages: &mut Vec<Box<dyn Stage>>,
    errors: &mut StageErrors,
    built: Result<Vec<Box<dyn Stage>>, (String, String)>,
) {
    match built {
        Ok(r) => stages.extend(r),
        Err(e) => errors.push(e),
    }
}

/// Errors found while building a route's stages: (config key relative to the route, message).
pub type StageErrors = Vec<(String, String)>;

/// Builds a route's stages in pipeline order: concurrency, deprecation, ip filter, authenticate,
/// rate limit, authorize, request validation, WAF; then the response stages: WAF (outbound),
/// response validation, PII masking, error masking. Errors (e.g. a condition that does not compile) are returned as messages
/// with the config key they concern, relative to the route.
pub fn build_stages(
    api: &ApiConfig,
    route: &RouteConfig,
    ctx: &StageContext<'_>,
) -> Result<Vec<Box<dyn Stage>>, StageErrors> {
    let mut stages: Vec<Box<dyn Stage>> = Vec::new();
    let mut errors = Vec::new();
    if let Some(c) = concurrency::Concurrency::new(route, ctx) {
        stages.push(Box::new(c));
    }
    if let Some(d) = ctx.contract.and_then(|c| {
        deprecation::Deprecation::new(c.operation.deprecated, c.sunset, c.refuse_after_sunset)
    }) {
        stages.push(Box::new(d));
    }
    let rule = route
        .auth
        .as_ref()
        .or(api.auth.as_ref().map(|a| &a.default));
    let route_ips = rule.map(|r| &r.ip_filter);
    match ip_filter::IpFilter::new(ctx, route_ips) {
        Ok(Some(f)) => stages.push(Box::new(f)),
        Ok(None) => {}
        Err(m) => errors.push(("auth.ip_filter".to_owned(), m)),
    }
    let rate_limit = rate_limit::RateLimit::new(api, route, ctx).and_then(|r| {
        let q = quota::Quotas::new(api, route, ctx)?;
        let mut built: Vec<Box<dyn Stage>> = Vec::new();
        if let Some(r) = r {
            built.push(Box::new(r));
        }
        if let Some(q) = q {
            built.push(Box::new(q));
        }
        Ok(built)
    });
    match (ctx.auth, rule) {
        (Some(auth), Some(rule)) => {
            match authenticate::Authenticate::new(auth, rule, ctx) {
                Ok(a) => stages.push(Box::new(a)),
                Err(m) => errors.push(("auth.providers".to_owned(), m)),
            }
            push_rate_limit(&mut stages, &mut errors, rate_limit);
            if !rule.anonymous {
                match authorize::Authorize::new(auth, rule, ctx) {
                    Ok(Some(a)) => stages.push(Box::new(a)),
                    Ok(None) => {}
                    Err(e) => errors.push(e),
                }
            }
        }
        _ if !api.public => stages.push(Box::new(default_deny::DefaultDeny)),
        _ => push_rate_limit(&mut stages, &mut errors, rate_limit),
    }
    if let Some(c) = ctx.contract {
        stages.push(Box::new(request_validation::RequestValidation::new(
            c.operation.clone(),
            ctx,
        )));
    }
    if let Some(w) = ctx.waf {
        stages.push(Box::new(waf::WafStage::new(w.clone(), ctx)));
    }
    if let Some(c) = ctx.contract {
        stages.push(Box::new(response_validation::ResponseValidation::new(
            c.operation.clone(),
            c.responses,
            c.undocumented,
            ctx,
        )));
    }
    if let Some(masker) = ctx.pii.filter(|_| route.pii_masking) {
        stages.push(Box::new(pii_masking::PiiMasking::new(masker.clone(), ctx)));
    }
    if !route.expose_upstream_errors {
        stages.push(Box::new(error_masking::ErrorMasking));
    }
    if errors.is_empty() {
        Ok(stages)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::Services;

    fn names(api_yaml: &str) -> Vec<&'static str> {
        let mut api: ApiConfig = serde_saphyr::from_str(api_yaml).unwrap();
        let services = Services::for_check();
        let auth = api.auth.as_ref().map(|a| {
            crate::auth::compile::compile(
                "a",
                a,
                "apis.0.auth",
                std::path::Path::new("."),
                &services,
            )
            .unwrap()
        });
        let route = api.routes.remove(0);
        let ctx = StageContext {
            api: &Arc::from("a"),
            route: &Arc::from("r"),
            path: &route.path,
            auth: auth.as_ref(),
            global_ip_filter: &ip_filter::IpLists::default(),
            global_rate_limits: &[],
            ban_policy: None,
            upstream_in_flight: None,
            services: &services,
            contract: None,
            pii: None,
            waf: None,
        };
        build_stages(&api, &route, &ctx)
            .unwrap()
            .iter()
            .map(|s| s.name())
            .collect()
    }

    #[test]
    fn stage_order_is_fixed() {
        assert_eq!(
            names("name: a\nroutes:\n  - path: /x\n"),
            ["default_deny", "error_masking"]
        );
        assert!(names(
            "name: a\npublic: true\nroutes:\n  - path: /x\n    expose_upstream_errors: true\n"
        )
        .is_empty());
        let auth = "name: a
auth:
  providers:
    m:
      mtls: {}
routes:
  - path: /x
    auth:
      roles: [admin]
      ip_filter: { deny: [10.0.0.0/8] }
";
        assert_eq!(
            names(auth),
            ["ip_filter", "authenticate", "authorize", "error_masking"]
        );
    }
}
