//! Request body processors: they turn a body into the arguments and files rules inspect, the
//! way ModSecurity names them, and report a body they cannot parse as `REQBODY_ERROR`.

mod json;
mod multipart;
pub mod urlencoded;
mod xml;

use crate::engine::collections::{Pairs, XmlBody};

/// Most arguments a body may carry; more is a body error.
pub const MAX_ARGUMENTS: usize = 4096;
/// Deepest JSON nesting followed.
pub const MAX_JSON_DEPTH: usize = 128;

/// A body processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processor {
    /// `application/x-www-form-urlencoded`.
    UrlEncoded,
    /// `multipart/form-data`.
    Multipart,
    /// JSON, flattened (`json.a.b`, `json.list.array_0`).
    Json,
    /// XML (`XML:/*` text, `XML://@*` attributes).
    Xml,
}

impl Processor {
    /// Parses a `ctl:requestBodyProcessor` value.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name.to_ascii_uppercase().as_str() {
            "URLENCODED" => Ok(Self::UrlEncoded),
            "MULTIPART" => Ok(Self::Multipart),
            "JSON" => Ok(Self::Json),
            "XML" => Ok(Self::Xml),
            _ => Err(format!("unknown body processor {name:?}")),
        }
    }

    /// The name `REQBODY_PROCESSOR` holds.
    pub fn name(self) -> &'static str {
        match self {
            Self::UrlEncoded => "URLENCODED",
            Self::Multipart => "MULTIPART",
            Self::Json => "JSON",
            Self::Xml => "XML",
        }
    }

    /// The processor chosen by a request's Content-Type before any rule runs (JSON and XML
    /// are switched on by rules, as in ModSecurity).
    pub fn for_content_type(content_type: &[u8]) -> Option<Self> {
        let ct = content_type.trim_ascii_start().to_ascii_lowercase();
        if ct.starts_with(b"application/x-www-form-urlencoded") {
            Some(Self::UrlEncoded)
        } else if ct.starts_with(b"multipart/form-data") {
            Some(Self::Multipart)
        } else {
            None
        }
    }
}

/// What a body yields.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// Arguments (`ARGS_POST`).
    pub args: Pairs,
    /// Uploaded files: field name to file name.
    pub files: Pairs,
    /// Uploaded file sizes.
    pub files_sizes: Pairs,
    /// Multipart part headers: part name to header line.
    pub part_headers: Pairs,
    /// The XML document.
    pub xml: Option<XmlBody>,
    /// Why the body could not be parsed.
    pub error: Option<String>,
    /// Multipart only: whether a strict check failed.
    pub multipart_strict_error: Option<bool>,
}

/// Runs `processor` over `body` (`content_type` carries the multipart boundary).
pub fn process(processor: Processor, body: &[u8], content_type: &[u8], separator: u8) -> Parsed {
    let mut out = match processor {
        Processor::UrlEncoded => Parsed {
            args: urlencoded::parse(body, separator),
            ..Parsed::default()
        },
        Processor::Json => json::parse(body),
        Processor::Multipart => multipart::parse(body, content_type),
        Processor::Xml => xml::parse(body),
    };
    if out.args.len() > MAX_ARGUMENTS && out.error.is_none() {
        out.error = Some(format!("more than {MAX_ARGUMENTS} arguments"));
    }
    out
}
