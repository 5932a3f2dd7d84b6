//! The per-route pipeline: stages that see each exchange in a fixed order and either let it
//! continue or answer it.
//!
//! Order (docs/architecture.md draws it): request stages run after routing and before the
//! upstream; response stages run on the upstream's response, in the same order; the global
//! security headers ([`security_headers::SecurityHeaders`]) are applied last to every response,
//! including refusals. [`build_stages`] is the one function that decides the order, and a test
//! pins it.

pub mod default_deny;
pub mod error_masking;
pub mod security_headers;

use std::net::IpAddr;

use http::request::Parts;
use http::Response;

use crate::body::ProxyBody;
use crate::config::model::{ApiConfig, RouteConfig};
use crate::problem::Refusal;

/// What a request stage decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flow {
    /// Go on to the next stage (and finally the upstream).
    Continue,
    /// Answer now with this refusal.
    Respond(Refusal),
}

/// What a stage may read about the exchange.
pub struct Exchange<'a> {
    /// The request head (after hygiene: hop-by-hop removed, forwarding headers set).
    pub request: &'a Parts,
    /// The client's IP (after trusted-proxy processing).
    pub client_ip: IpAddr,
    /// The request id.
    pub request_id: &'a str,
}

/// One protection on a route. Both hooks default to doing nothing.
pub trait Stage: Send + Sync {
    /// Name used in logs, events and the order test.
    fn name(&self) -> &'static str;

    /// Runs before the request is proxied. Returning [`Flow::Respond`] stops the pipeline.
    fn on_request(&self, _exchange: &Exchange<'_>) -> Flow {
        Flow::Continue
    }

    /// Runs on the upstream's response before it is sent to the client.
    fn on_response(&self, _exchange: &Exchange<'_>, _response: &mut Response<ProxyBody>) {}
}

/// Builds a route's stages in pipeline order.
pub fn build_stages(api: &ApiConfig, route: &RouteConfig) -> Vec<Box<dyn Stage>> {
    let mut stages: Vec<Box<dyn Stage>> = Vec::new();
    if !api.public {
        stages.push(Box::new(default_deny::DefaultDeny));
    }
    if !route.expose_upstream_errors {
        stages.push(Box::new(error_masking::ErrorMasking));
    }
    stages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(public: bool, expose: bool) -> (ApiConfig, RouteConfig) {
        let yaml = format!(
            "name: a\npublic: {public}\nroutes:\n  - path: /x\n    expose_upstream_errors: {expose}\n"
        );
        let mut api: ApiConfig = serde_saphyr::from_str(&yaml).unwrap();
        let route = api.routes.remove(0);
        (api, route)
    }

    #[test]
    fn stage_order_is_fixed() {
        let (api, route) = cfg(false, false);
        let names: Vec<_> = build_stages(&api, &route)
            .iter()
            .map(|s| s.name())
            .collect();
        assert_eq!(names, ["default_deny", "error_masking"]);
        let (api, route) = cfg(true, true);
        assert!(build_stages(&api, &route).is_empty());
    }
}
