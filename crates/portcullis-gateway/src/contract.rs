//! An API's OpenAPI contract in the gateway: the spec loaded once per config, its operations
//! turned into routes (policies from `operations`, by operationId), and what each route enforces.

use std::path::Path;
use std::sync::Arc;

use jiff::Timestamp;
use portcullis_openapi::{Operation, Options, ResponseMode, ShapeLimits, Spec, UnknownFields};

use crate::config::model::{
    ApiConfig, OpenApiConfig, OperationConfig, ResponseModeConfig, RouteConfig,
    UndocumentedResponses, UnknownFieldsMode,
};
use crate::config::Finding;
use crate::pipeline::deprecation::parse_sunset;

/// What one route enforces from its API's spec.
pub struct Contract {
    /// The spec operation.
    pub operation: Arc<Operation>,
    /// What happens to mismatching JSON responses.
    pub responses: ResponseMode,
    /// What happens to responses with undocumented statuses.
    pub undocumented: UndocumentedResponses,
    /// When the operation retires.
    pub sunset: Option<Timestamp>,
    /// Whether requests are refused (410) after the sunset.
    pub refuse_after_sunset: bool,
}

/// A route made from a spec operation.
pub struct SpecRoute {
    /// The route (path and method from the spec, policy from `operations`).
    pub config: RouteConfig,
    /// What it enforces.
    pub contract: Contract,
    /// Config path of its policy (`apis.N.operations.ID`, or the API's `openapi` block).
    pub at: String,
}

/// Loads the spec of `api` (at config path `at`) and makes its routes.
pub fn spec_routes(
    api: &ApiConfig,
    openapi: &OpenApiConfig,
    at: &str,
    base_dir: &Path,
) -> Result<(Spec, Vec<SpecRoute>), Vec<Finding>> {
    let spec_at = format!("{at}.openapi.spec");
    let mut errors = Vec::new();
    if !api.routes.is_empty() {
        errors.push(Finding::error(
            format!("{at}.routes"),
            "an API with `openapi` takes its routes from the spec: set per-operation policy under `operations` (by operationId)",
        ));
    }
    if openapi.limits.max_depth > portcullis_openapi::MAX_DEPTH {
        errors.push(Finding::error(
            format!("{at}.openapi.limits.max_depth"),
            format!(
                "max_depth is at most {} (the body scanner recurses)",
                portcullis_openapi::MAX_DEPTH
            ),
        ));
    }
    let options = Options {
        unknown_fields: match openapi.unknown_fields {
            UnknownFieldsMode::Open => UnknownFields::Open,
            _ => UnknownFields::Closed,
        },
        limits: ShapeLimits {
            max_depth: openapi.limits.max_depth,
            max_array_items: openapi.limits.max_array_items,
            max_string_length: openapi.limits.max_string_length,
            max_properties: openapi.limits.max_properties,
        },
        max_errors: openapi.max_errors.max(1),
    };
    let spec = Spec::load(&base_dir.join(&openapi.spec), &options).map_err(|e| {
        vec![Finding::error(
            spec_at.clone(),
            format!("OpenAPI spec refused:\n{e}"),
        )]
    })?;
    let responses = match openapi.responses {
        ResponseModeConfig::Block => ResponseMode::Block,
        ResponseModeConfig::Report => ResponseMode::Report,
        _ => ResponseMode::Strip,
    };
    for id in api.operations.keys() {
        if !spec.operations.iter().any(|o| o.id.as_deref() == Some(id)) {
            errors.push(Finding::error(
                format!("{at}.operations.{id}"),
                format!("the spec has no operation with operationId {id:?}"),
            ));
        }
    }
    let default_policy = OperationConfig {
        pii_masking: true,
        ..OperationConfig::default()
    };
    let mut routes = Vec::new();
    for op in &spec.operations {
        let (policy, policy_at) = match op.id.as_ref().and_then(|id| api.operations.get(id)) {
            Some(p) => (
                p,
                format!("{at}.operations.{}", op.id.as_deref().unwrap_or("")),
            ),
            None => (&default_policy, format!("{at}.openapi")),
        };
        let sunset = match (&policy.sunset, &op.sunset) {
            (Some(s), _) => parse_sunset(s)
                .map_err(|m| errors.push(Finding::error(format!("{policy_at}.sunset"), m)))
                .ok(),
            (None, Some(s)) => parse_sunset(s)
                .map_err(|m| {
                    errors.push(Finding::error(
                        spec_at.clone(),
                        format!("operation {}: x-sunset: {m}", op.name()),
                    ))
                })
                .ok(),
            (None, None) => None,
        };
        routes.push(SpecRoute {
            config: policy.to_route(op.name(), op.path.clone(), op.method.as_str()),
            contract: Contract {
                operation: op.clone(),
                responses,
                undocumented: openapi.undocumented_responses,
                sunset,
                refuse_after_sunset: openapi.refuse_after_sunset,
            },
            at: policy_at,
        });
    }
    if errors.is_empty() {
        Ok((spec, routes))
    } else {
        Err(errors)
    }
}
