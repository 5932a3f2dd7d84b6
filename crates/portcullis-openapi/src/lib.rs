//! OpenAPI 3.0/3.1 as a positive security model.
//!
//! A spec is loaded once ([`Spec::load`]): its files are read (local `$ref`s only), its
//! structure checked (every mistake reported with `file:line:column`), and its schemas compiled
//! into one table. Each [`Operation`] then answers, per request, whether the parameters and body
//! match what is documented, and, per response, what to remove or refuse. [`pii`] masks personal
//! data and secrets in JSON responses.
//!
//! Nothing here does I/O on the request path, allocates per schema keyword, or runs a
//! backtracking regex.

mod body;
mod document;
pub mod error;
pub mod limits;
mod operation;
pub mod params;
pub mod pii;
mod schema;
pub mod source_map;
mod spec;
pub mod violation;

pub use error::{SpecError, SpecErrors};
pub use limits::ShapeLimits;
pub use operation::{
    Operation, RequestRefusal, ResponseMode, ResponsePlan, ResponseSchema, ResponseVerdict,
};
pub use params::RequestParts;
pub use spec::Spec;
pub use violation::Violation;

/// Whether a Content-Type value names JSON (`application/json` or `*/*+json`, any case and
/// parameters).
pub fn is_json_media_type(content_type: &str) -> bool {
    body::kind_of(content_type) == body::MediaKind::Json
}

/// Deepest nesting of a JSON body that can be allowed (`ShapeLimits::max_depth`).
pub const MAX_DEPTH: usize = schema::MAX_SCAN_DEPTH;

/// The OpenAPI version family of a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// 3.0.x (JSON Schema draft 4 subset, `nullable`, boolean `exclusiveMinimum`).
    V30,
    /// 3.1.x (JSON Schema 2020-12).
    V31,
}

/// What an object schema that does not say accepts beyond its declared properties (and
/// whether undocumented query parameters are accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownFields {
    /// Refused (the default: the mass-assignment defence).
    #[default]
    Closed,
    /// Accepted, as plain JSON Schema would.
    Open,
}

/// How a spec is compiled and enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Unknown properties and query parameters.
    pub unknown_fields: UnknownFields,
    /// Shape limits on request bodies.
    pub limits: ShapeLimits,
    /// Most violations listed in one refusal.
    pub max_errors: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            unknown_fields: UnknownFields::Closed,
            limits: ShapeLimits::default(),
            max_errors: 10,
        }
    }
}
