//! Path, query, header and cookie parameters: taken out of the request by their `style` and
//! `explode` (the common forms: simple, label, matrix, form, spaceDelimited, pipeDelimited,
//! deepObject), turned into typed values by their schema, and validated.
//!
//! A parameter that is not an array but arrives several times is refused (HTTP parameter
//! pollution: the gateway and the service might read different copies). Undocumented query
//! parameters are refused when the API's unknown-field rule is `closed`.

use serde_json::{Map, Number, Value};

use crate::schema::{types, Direction, SchemaId, Schemas, Validator};
use crate::violation::{safe_segment, Violations};
use crate::UnknownFields;

/// Where a parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A path template segment.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
}

impl Location {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "path" => Self::Path,
            "query" => Self::Query,
            "header" => Self::Header,
            "cookie" => Self::Cookie,
            _ => return None,
        })
    }

    /// Name as written in specs (and the first pointer segment of violations).
    pub fn name(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Header => "header",
            Self::Cookie => "cookie",
        }
    }
}

/// How a parameter's value is serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Simple,
    Label,
    Matrix,
    Form,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
}

impl Style {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "simple" => Self::Simple,
            "label" => Self::Label,
            "matrix" => Self::Matrix,
            "form" => Self::Form,
            "spaceDelimited" => Self::SpaceDelimited,
            "pipeDelimited" => Self::PipeDelimited,
            "deepObject" => Self::DeepObject,
            _ => return None,
        })
    }

    pub(crate) fn default_for(location: Location) -> Self {
        match location {
            Location::Path | Location::Header => Self::Simple,
            Location::Query | Location::Cookie => Self::Form,
        }
    }
}

/// A compiled parameter.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub name: String,
    pub location: Location,
    pub required: bool,
    pub style: Style,
    pub explode: bool,
    pub schema: SchemaId,
    /// Serialised as JSON (`content: application/json`) rather than by style.
    pub json: bool,
}

/// The parts of a request that parameters come from.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// Path parameters as matched, still percent-encoded: (template name, raw segment).
    pub path_params: &'a [(&'a str, &'a str)],
    /// The raw query string (without `?`).
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a http::HeaderMap,
}

/// Validates every parameter of an operation.
pub(crate) fn check(
    params: &[Param],
    schemas: &Schemas,
    req: &RequestParts<'_>,
    unknown: UnknownFields,
    out: &mut Violations,
) {
    let query = req.query.map(form_pairs).unwrap_or_default();
    let cookies = cookie_pairs(req.headers);
    for p in params {
        if out.is_full() {
            return;
        }
        let at = format!("/{}/{}", p.location.name(), safe_segment(&p.name));
        let value = match p.location {
            Location::Path => path_value(p, schemas, req.path_params, &at, out),
            Location::Query => pairs_value(p, schemas, &query, &at, out),
            Location::Cookie => pairs_value(p, schemas, &cookies, &at, out),
            Location::Header => header_value(p, schemas, req.headers),
        };
        match value {
            Some(v) => {
                Validator::new(schemas, Direction::Request, out, &at).check(p.schema, &v);
            }
            None if p.required => out.push(&at, "required parameter is missing"),
            None => {}
        }
    }
    if unknown == UnknownFields::Closed {
        for (key, _) in &query {
            if !params.iter().any(|p| claims(p, schemas, key)) {
                out.push(
                    &format!("/query/{}", safe_segment(key)),
                    "query parameter not documented",
                );
            }
        }
    }
}

/// Whether query key `key` belongs to parameter `p`.
fn claims(p: &Param, schemas: &Schemas, key: &str) -> bool {
    if p.location != Location::Query {
        return false;
    }
    if key == p.name {
        return true;
    }
    match p.style {
        Style::DeepObject => key
            .strip_prefix(p.name.as_str())
            .is_some_and(|rest| rest.starts_with('[') && rest.ends_with(']')),
        Style::Form if p.explode && is_object(schemas, p.schema) => {
            schemas.node(p.schema).declares(key)
        }
        _ => false,
    }
}

fn is_object(schemas: &Schemas, id: SchemaId) -> bool {
    schemas.types_of(id) & types::OBJECT != 0
}

fn is_array(schemas: &Schemas, id: SchemaId) -> bool {
    schemas.types_of(id) & types::ARRAY != 0
}

fn path_value(
    p: &Param,
    schemas: &Schemas,
    path_params: &[(&str, &str)],
    at: &str,
    out: &mut Violations,
) -> Option<Value> {
    let raw = path_params.iter().find(|(n, _)| *n == p.name)?.1;
    let decoded = percent_decode(raw, false);
    if p.json {
        return json_value(&decoded, at, out);
    }
    let text = match p.style {
        Style::Label => decoded.strip_prefix('.').unwrap_or(&decoded).to_owned(),
        Style::Matrix => {
            let prefix = format!(";{}=", p.name);
            decoded.strip_prefix(&prefix).unwrap_or(&decoded).to_owned()
        }
        _ => decoded,
    };
    let sep = if p.style == Style::Label && p.explode {
        '.'
    } else {
        ','
    };
    Some(delimited(schemas, p.schema, &text, sep, p.explode))
}

fn header_value(p: &Param, schemas: &Schemas, headers: &http::HeaderMap) -> Option<Value> {
    let mut joined = String::new();
    for v in headers.get_all(p.name.as_str()) {
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(&String::from_utf8_lossy(v.as_bytes()));
    }
    if joined.is_empty() && !headers.contains_key(p.name.as_str()) {
        return None;
    }
    if p.json {
        let mut scratch = Violations::new(1);
        return json_value(&joined, "", &mut scratch).or(Some(Value::String(joined)));
    }
    Some(delimited(schemas, p.schema, &joined, ',', p.explode))
}

/// A query or cookie parameter from decoded (key, value) pairs.
fn pairs_value(
    p: &Param,
    schemas: &Schemas,
    pairs: &[(String, String)],
    at: &str,
    out: &mut Violations,
) -> Option<Value> {
    if p.style == Style::DeepObject {
        let mut obj = Map::new();
        for (k, v) in pairs {
            let Some(prop) = k
                .strip_prefix(p.name.as_str())
                .and_then(|r| r.strip_prefix('['))
                .and_then(|r| r.strip_suffix(']'))
            else {
                continue;
            };
            let schema = schemas.property_schema(p.schema, prop);
            obj.insert(prop.to_owned(), coerce(schemas, schema, v));
        }
        return (!obj.is_empty()).then_some(Value::Object(obj));
    }
    if p.style == Style::Form && p.explode && is_object(schemas, p.schema) {
        let node = schemas.node(p.schema);
        let mut obj = Map::new();
        for (k, v) in pairs.iter().filter(|(k, _)| node.declares(k)) {
            let schema = schemas.property_schema(p.schema, k);
            obj.insert(k.clone(), coerce(schemas, schema, v));
        }
        return (!obj.is_empty()).then_some(Value::Object(obj));
    }
    let mut values = pairs.iter().filter(|(k, _)| *k == p.name).map(|(_, v)| v);
    let first = values.next()?;
    if p.json {
        return json_value(first, at, out);
    }
    if is_array(schemas, p.schema) {
        let items = schemas.node(p.schema).items;
        let sep = match p.style {
            Style::SpaceDelimited => Some(' '),
            Style::PipeDelimited => Some('|'),
            _ if p.explode => None,
            _ => Some(','),
        };
        let list: Vec<Value> = match sep {
            None => std::iter::once(first)
                .chain(values)
                .map(|v| coerce(schemas, items, v))
                .collect(),
            Some(sep) => first
                .split(sep)
                .map(|v| coerce(schemas, items, v))
                .collect(),
        };
        return Some(Value::Array(list));
    }
    if values.next().is_some() {
        out.push(at, "given more than once");
    }
    Some(delimited(schemas, p.schema, first, ',', p.explode))
}

/// A value in `simple`/`form` serialisation: primitive, `a,b,c` array, or `k,v,k,v` / `k=v,k=v`
/// object.
fn delimited(schemas: &Schemas, id: SchemaId, text: &str, sep: char, explode: bool) -> Value {
    let t = schemas.types_of(id);
    if t & types::ARRAY != 0 {
        let items = schemas.node(id).items;
        if text.is_empty() {
            return Value::Array(Vec::new());
        }
        return Value::Array(text.split(sep).map(|v| coerce(schemas, items, v)).collect());
    }
    if t & types::OBJECT != 0 && t & types::STRING == 0 {
        let mut obj = Map::new();
        if explode {
            for pair in text.split(sep) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                obj.insert(
                    k.to_owned(),
                    coerce(schemas, schemas.property_schema(id, k), v),
                );
            }
        } else {
            let parts: Vec<&str> = text.split(sep).collect();
            for kv in parts.chunks(2) {
                let v = kv.get(1).copied().unwrap_or("");
                let schema = schemas.property_schema(id, kv[0]);
                obj.insert(kv[0].to_owned(), coerce(schemas, schema, v));
            }
        }
        return Value::Object(obj);
    }
    coerce(schemas, Some(id), text)
}

/// Turns parameter text into the JSON value its schema expects, when it can; otherwise keeps
/// the text as a string (and validation says what was expected).
pub(crate) fn coerce(schemas: &Schemas, id: Option<SchemaId>, raw: &str) -> Value {
    let t = id.map_or(0, |id| schemas.types_of(id));
    if t == 0
        || t & types::STRING != 0 && t & (types::INTEGER | types::NUMBER | types::BOOLEAN) == 0
    {
        return Value::String(raw.to_owned());
    }
    if t & types::INTEGER != 0 {
        if let Ok(i) = raw.parse::<i64>() {
            return Value::Number(i.into());
        }
    }
    if t & types::NUMBER != 0 {
        if let Some(n) = raw
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(Number::from_f64)
        {
            return Value::Number(n);
        }
    }
    if t & types::BOOLEAN != 0 {
        match raw {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
    }
    if t & types::NULL != 0 && raw.is_empty() {
        return Value::Null;
    }
    Value::String(raw.to_owned())
}

fn json_value(text: &str, at: &str, out: &mut Violations) -> Option<Value> {
    match serde_json::from_str(text) {
        Ok(v) => Some(v),
        Err(_) => {
            out.push(at, "not valid JSON");
            Some(Value::Null)
        }
    }
}

/// Decoded `key=value` pairs of a query string or form body (`+` is a space).
pub(crate) fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

fn cookie_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for h in headers.get_all(http::header::COOKIE) {
        let text = String::from_utf8_lossy(h.as_bytes());
        for c in text.split(';') {
            let c = c.trim();
            if c.is_empty() {
                continue;
            }
            let (k, v) = c.split_once('=').unwrap_or((c, ""));
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

/// Decodes `%XX` (and `+` as a space in forms). Invalid escapes stay as written; invalid UTF-8
/// becomes U+FFFD.
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    if !b
        .iter()
        .any(|c| *c == b'%' || (plus_is_space && *c == b'+'))
    {
        return s.to_owned();
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                if let (Some(h), Some(l)) = (
                    crate::document::hex(b[i + 1]),
                    crate::document::hex(b[i + 2]),
                ) {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
