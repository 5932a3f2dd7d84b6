//! One compiled operation (a method on a path) and the checks the gateway runs with it:
//! parameters, request body, and the response.

use std::sync::Arc;

use serde_json::Value;

use crate::body::{self, Media, MediaKind};
use crate::params::{self, Param, RequestParts};
use crate::schema::{self, Direction, SchemaId, Schemas, Validator};
use crate::violation::{Violation, Violations};
use crate::{Options, ShapeLimits};

/// Shape limits for responses: the service is trusted to send sane shapes, so only the
/// scanner's own nesting bound applies.
const RESPONSE_LIMITS: ShapeLimits = ShapeLimits {
    max_depth: usize::MAX,
    max_array_items: usize::MAX,
    max_string_length: usize::MAX,
    max_properties: usize::MAX,
};

/// Why a request does not match its operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestRefusal {
    /// The body's content type is not documented for the operation (415).
    UnsupportedMediaType,
    /// Parameters or body are invalid (400): what and where, bounded.
    Invalid {
        /// The violations found (at most the configured number).
        violations: Vec<Violation>,
        /// More were found than kept.
        truncated: bool,
    },
}

impl RequestRefusal {
    fn from(out: Violations) -> Result<(), Self> {
        if out.is_empty() {
            return Ok(());
        }
        let truncated = out.truncated();
        Err(Self::Invalid {
            violations: out.into_vec(),
            truncated,
        })
    }
}

/// What happens to a response that does not match its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseMode {
    /// Undeclared properties are removed; other mismatches are reported.
    #[default]
    Strip,
    /// Any mismatch refuses the response (502).
    Block,
    /// The response passes unchanged; mismatches are reported.
    Report,
}

/// How a response should be checked, decided from its status and content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePlan {
    /// The spec documents no response for this status.
    Undocumented,
    /// Documented, but not as JSON with a schema: passes as is.
    Unchecked,
    /// A JSON body to check against this schema.
    Json(ResponseSchema),
}

/// The schema of one documented JSON response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSchema(SchemaId);

/// The outcome of checking a JSON response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseVerdict {
    /// The body to send instead (properties were removed).
    pub rewritten: Option<Vec<u8>>,
    /// How many properties were removed.
    pub removed: usize,
    /// Mismatches found (bounded).
    pub violations: Vec<Violation>,
    /// The response must not be sent (block mode, or unparseable JSON that cannot be stripped).
    pub refuse: bool,
}

/// Which statuses a documented response covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusKey {
    Exact(u16),
    /// `2XX`: the hundreds digit.
    Class(u16),
    Default,
}

/// A documented response.
#[derive(Debug, Clone)]
pub(crate) struct ResponseSpec {
    pub status: StatusKey,
    pub media: Vec<Media>,
}

/// A documented request body.
#[derive(Debug, Clone)]
pub(crate) struct RequestBodySpec {
    pub required: bool,
    pub media: Vec<Media>,
}

/// One operation of a spec.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `operationId`, if the spec gives one.
    pub id: Option<String>,
    /// The method.
    pub method: http::Method,
    /// The path template as the spec writes it (e.g. `/users/{id}`).
    pub path: String,
    /// `summary`.
    pub summary: Option<String>,
    /// `deprecated: true`.
    pub deprecated: bool,
    /// `x-sunset`: when the operation stops being served (a date, as written).
    pub sunset: Option<String>,
    /// Whether the spec's `security` for the operation requires a credential (None: unsaid).
    pub spec_security: Option<bool>,
    pub(crate) params: Vec<Param>,
    pub(crate) body: Option<RequestBodySpec>,
    pub(crate) responses: Vec<ResponseSpec>,
    pub(crate) schemas: Arc<Schemas>,
    pub(crate) options: Options,
}

impl Operation {
    /// A stable name: the operationId, or `METHOD path`.
    pub fn name(&self) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.method, self.path))
    }

    /// Validates path, query, header and cookie parameters.
    pub fn check_parameters(&self, req: &RequestParts<'_>) -> Result<(), RequestRefusal> {
        let mut out = Violations::new(self.options.max_errors);
        params::check(
            &self.params,
            &self.schemas,
            req,
            self.options.unknown_fields,
            &mut out,
        );
        RequestRefusal::from(out)
    }

    /// Whether the operation documents a request body.
    pub fn accepts_body(&self) -> bool {
        self.body.is_some()
    }

    /// Validates a request body (empty: none was sent).
    pub fn check_body(
        &self,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), RequestRefusal> {
        let mut out = Violations::new(self.options.max_errors);
        let Some(spec) = &self.body else {
            return if body.is_empty() {
                Ok(())
            } else {
                Err(RequestRefusal::UnsupportedMediaType)
            };
        };
        if body.is_empty() {
            if spec.required {
                out.push("/body", "request body is required");
            }
            return RequestRefusal::from(out);
        }
        let Some(ct) = content_type else {
            return Err(RequestRefusal::UnsupportedMediaType);
        };
        let Some(media) = body::find(&spec.media, ct) else {
            return Err(RequestRefusal::UnsupportedMediaType);
        };
        // A range such as `*/*` documents the body's own type.
        let kind = match media.kind {
            MediaKind::Other if media.range.contains('*') => body::kind_of(ct),
            k => k,
        };
        if kind == MediaKind::Json {
            // Checked while scanned: no tree is built for a valid body.
            schema::validate_json(
                &self.schemas,
                media.schema,
                body,
                Direction::Request,
                &self.options.limits,
                &mut out,
            );
            return RequestRefusal::from(out);
        }
        let Some(value) = body::parse(media, kind, ct, body, &self.schemas, &mut out) else {
            return RequestRefusal::from(out);
        };
        if !self.options.limits.check(&value, "/body", &mut out) {
            return RequestRefusal::from(out);
        }
        if let Some(schema) = media.schema {
            Validator::new(&self.schemas, Direction::Request, &mut out, "/body")
                .check(schema, &value);
        }
        RequestRefusal::from(out)
    }

    /// How a response with `status` and `content_type` is checked.
    pub fn response_plan(&self, status: u16, content_type: Option<&str>) -> ResponsePlan {
        let spec = self
            .responses
            .iter()
            .find(|r| r.status == StatusKey::Exact(status))
            .or_else(|| {
                self.responses
                    .iter()
                    .find(|r| r.status == StatusKey::Class(status / 100))
            })
            .or_else(|| {
                self.responses
                    .iter()
                    .find(|r| r.status == StatusKey::Default)
            });
        let Some(spec) = spec else {
            return ResponsePlan::Undocumented;
        };
        let Some(ct) = content_type else {
            return ResponsePlan::Unchecked;
        };
        if body::kind_of(ct) != MediaKind::Json {
            return ResponsePlan::Unchecked;
        }
        match body::find(&spec.media, ct).and_then(|m| m.schema) {
            Some(s) => ResponsePlan::Json(ResponseSchema(s)),
            None => ResponsePlan::Unchecked,
        }
    }

    /// Checks a JSON response body against `schema` in `mode`. The body is scanned first; only
    /// a response with something to strip is parsed into a tree and rewritten.
    pub fn check_response(
        &self,
        schema: ResponseSchema,
        body: &[u8],
        mode: ResponseMode,
    ) -> ResponseVerdict {
        let mut out = Violations::new(self.options.max_errors);
        schema::validate_json(
            &self.schemas,
            Some(schema.0),
            body,
            Direction::Response,
            &RESPONSE_LIMITS,
            &mut out,
        );
        let unparseable = out
            .as_slice()
            .first()
            .is_some_and(|v| v.pointer == "/body" && v.reason.starts_with("not valid JSON"));
        if unparseable {
            return ResponseVerdict {
                rewritten: None,
                removed: 0,
                violations: vec![Violation {
                    pointer: "/body".into(),
                    reason: "response is not valid JSON".into(),
                }],
                refuse: mode != ResponseMode::Report,
            };
        }
        if mode != ResponseMode::Strip || out.is_empty() {
            let refuse = mode == ResponseMode::Block && !out.is_empty();
            return ResponseVerdict {
                rewritten: None,
                removed: 0,
                violations: out.into_vec(),
                refuse,
            };
        }
        // Something to report, perhaps to strip: parse, strip, and judge what is left.
        let Ok(mut value) = serde_json::from_slice::<Value>(body) else {
            return ResponseVerdict {
                rewritten: None,
                removed: 0,
                violations: out.into_vec(),
                refuse: true,
            };
        };
        let removed = schema::strip(&self.schemas, schema.0, &mut value);
        let mut out = Violations::new(self.options.max_errors);
        Validator::new(&self.schemas, Direction::Response, &mut out, "/body")
            .check(schema.0, &value);
        ResponseVerdict {
            rewritten: (removed > 0).then(|| value.to_string().into_bytes()),
            removed,
            violations: out.into_vec(),
            refuse: false,
        }
    }
}
