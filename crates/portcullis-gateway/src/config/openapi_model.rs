//! The config's OpenAPI shape: the spec an API enforces, the policies of its operations (by
//! `operationId`), and PII masking of responses.

use schemars::JsonSchema;
use serde::Deserialize;

use super::auth_model::RuleConfig;
use super::model::{ConcurrencyConfig, RouteConfig};
use super::rate_limit_model::{QuotaConfig, RateLimitConfig};
use super::units::ByteSize;

/// An OpenAPI spec used as the API's allow-list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenApiConfig {
    /// The spec file (YAML or JSON, OpenAPI 3.0 or 3.1), relative to the config file. Local
    /// `$ref`s to files beside it are followed; remote ones are refused.
    pub spec: String,
    /// Object schemas that do not say what else they accept, and undocumented query parameters:
    /// `closed` (refused, the default) or `open`.
    #[serde(default)]
    pub unknown_fields: UnknownFieldsMode,
    /// JSON responses that do not match their schema: `strip` (remove undeclared properties,
    /// the default), `block` (502) or `report` (pass, with a security event).
    #[serde(default)]
    pub responses: ResponseModeConfig,
    /// A response whose status the spec does not document: `replace` its body with a
    /// problem+json body (the default) or `pass` it.
    #[serde(default)]
    pub undocumented_responses: UndocumentedResponses,
    /// Largest response body read for checking; larger JSON responses are refused (502) in
    /// `strip` and `block` modes rather than passed unchecked.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: ByteSize,
    /// Most errors listed in a 400 answer.
    #[serde(default = "default_max_errors")]
    pub max_errors: usize,
    /// Shape limits on request bodies, applied whatever the spec says.
    #[serde(default)]
    pub limits: ShapeLimitsConfig,
    /// Refuse deprecated operations (410) once their sunset date (`x-sunset` in the spec or
    /// `sunset` under `operations`) has passed.
    #[serde(default = "yes")]
    pub refuse_after_sunset: bool,
}

fn default_max_response_bytes() -> ByteSize {
    ByteSize::mib(8)
}

fn default_max_errors() -> usize {
    10
}

fn yes() -> bool {
    true
}

/// Unknown properties and query parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnknownFieldsMode {
    /// Refused.
    #[default]
    Closed,
    /// Accepted.
    Open,
}

/// What happens to a JSON response that does not match its schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResponseModeConfig {
    /// Remove undeclared properties; report other mismatches.
    #[default]
    Strip,
    /// Refuse the response (502).
    Block,
    /// Pass it unchanged; report mismatches.
    Report,
}

/// What happens to a response with an undocumented status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UndocumentedResponses {
    /// Its body is replaced by a problem+json body (status kept).
    #[default]
    Replace,
    /// It passes unchanged.
    Pass,
}

/// Shape limits on JSON, form and multipart request bodies.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ShapeLimitsConfig {
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
    /// Most items in one array.
    pub max_array_items: usize,
    /// Longest string (characters).
    pub max_string_length: usize,
    /// Most properties in one object.
    pub max_properties: usize,
}

impl Default for ShapeLimitsConfig {
    fn default() -> Self {
        let d = portcullis_openapi::ShapeLimits::default();
        Self {
            max_depth: d.max_depth,
            max_array_items: d.max_array_items,
            max_string_length: d.max_string_length,
            max_properties: d.max_properties,
        }
    }
}

/// The policy of one spec operation, keyed by its `operationId` under the API's `operations`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperationConfig {
    /// Upstream for this operation (overrides the API's).
    #[serde(default)]
    pub upstream: Option<String>,
    /// Largest request body (overrides `limits.max_body_bytes`).
    #[serde(default)]
    pub max_body_bytes: Option<ByteSize>,
    /// Pass upstream 5xx bodies unchanged.
    #[serde(default)]
    pub expose_upstream_errors: bool,
    /// Access rule (replaces the API's `auth.default`).
    #[serde(default)]
    pub auth: Option<RuleConfig>,
    /// Rate limits of this operation.
    #[serde(default)]
    pub rate_limits: Vec<RateLimitConfig>,
    /// Caps on requests in flight.
    #[serde(default)]
    pub concurrency: Option<ConcurrencyConfig>,
    /// Quotas of this operation.
    #[serde(default)]
    pub quotas: Vec<QuotaConfig>,
    /// Mask PII in this operation's responses when the API has a `pii` block (default true;
    /// turn it off for an endpoint whose job is to return a token).
    #[serde(default = "yes")]
    pub pii_masking: bool,
    /// Sunset date (`2027-01-31` or an RFC 3339 time), overriding the spec's `x-sunset`.
    #[serde(default)]
    pub sunset: Option<String>,
}

impl OperationConfig {
    /// The route this operation becomes: its path and method from the spec, its policy from here.
    pub fn to_route(&self, name: String, path: String, method: &str) -> RouteConfig {
        RouteConfig {
            name: Some(name),
            path,
            methods: vec![method.to_owned()],
            upstream: self.upstream.clone(),
            max_body_bytes: self.max_body_bytes,
            strip_prefix: None,
            expose_upstream_errors: self.expose_upstream_errors,
            auth: self.auth.clone(),
            rate_limits: self.rate_limits.clone(),
            concurrency: self.concurrency.clone(),
            quotas: self.quotas.clone(),
            pii_masking: self.pii_masking,
        }
    }
}

/// Masking of personal data and secrets in JSON responses.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PiiConfig {
    /// What is detected in string values: `email`, `card` (Luhn-checked), `iban`, `ssn`,
    /// `phone`, `jwt`, `secret` (default: all of them).
    #[serde(default = "all_kinds")]
    pub detect: Vec<String>,
    /// JSON pointers whose values are always masked; `*` stands for any key or index (e.g.
    /// `/*/password_hash`).
    #[serde(default)]
    pub fields: Vec<String>,
}

fn all_kinds() -> Vec<String> {
    portcullis_openapi::pii::Kind::DETECTED
        .iter()
        .map(|k| k.name().to_owned())
        .collect()
}
