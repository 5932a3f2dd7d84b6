//! Request bodies by content type: the documented media type is found for the request's
//! `Content-Type` (exact, then `type/*`, then `*/*`), and the body is parsed into a JSON value
//! the schema can judge: JSON as is, `application/x-www-form-urlencoded` and
//! `multipart/form-data` as objects whose fields are typed by the schema's properties.

use memchr::memmem;
use serde_json::{Map, Value};

use crate::params::{coerce, form_pairs};
use crate::schema::{types, SchemaId, Schemas};
use crate::violation::Violations;

/// How a documented media type is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaKind {
    Json,
    Form,
    Multipart,
    /// Anything else: accepted by type, not parsed.
    Other,
}

/// A documented media type.
#[derive(Debug, Clone)]
pub(crate) struct Media {
    /// Lowercase `type/subtype`, possibly `type/*` or `*/*`.
    pub range: String,
    pub kind: MediaKind,
    pub schema: Option<SchemaId>,
}

/// The lowercase `type/subtype` of a Content-Type value.
pub(crate) fn essence(content_type: &str) -> String {
    raw_essence(content_type).to_ascii_lowercase()
}

/// The `type/subtype` of a Content-Type value as written (compare it ignoring case).
fn raw_essence(content_type: &str) -> &str {
    // A byte loop: content types are short, and `split` sets up a memchr search per call.
    let end = content_type
        .bytes()
        .position(|b| b == b';')
        .unwrap_or(content_type.len());
    content_type[..end].trim()
}

/// How a media type is parsed (case ignored; parameters allowed).
pub(crate) fn kind_of(content_type: &str) -> MediaKind {
    let e = raw_essence(content_type);
    let ends_with = |suffix: &str| {
        e.len() >= suffix.len() && e[e.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    if e.eq_ignore_ascii_case("application/json") || ends_with("+json") {
        MediaKind::Json
    } else if e.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        MediaKind::Form
    } else if e.eq_ignore_ascii_case("multipart/form-data") {
        MediaKind::Multipart
    } else {
        MediaKind::Other
    }
}

/// The documented media type that takes `content_type` (exact, then `type/*`, then `*/*`).
/// Ranges are stored lowercase; the request's type is compared ignoring case, without copying.
pub(crate) fn find<'m>(media: &'m [Media], content_type: &str) -> Option<&'m Media> {
    let e = raw_essence(content_type);
    let major = &e[..e.bytes().position(|b| b == b'/').unwrap_or(e.len())];
    media
        .iter()
        // Ranges are lowercase, as content types are usually written: try the exact bytes first.
        .find(|m| m.range == e || m.range.eq_ignore_ascii_case(e))
        .or_else(|| {
            media.iter().find(|m| {
                !major.is_empty()
                    && m.range
                        .strip_suffix("/*")
                        .is_some_and(|r| r.eq_ignore_ascii_case(major))
            })
        })
        .or_else(|| media.iter().find(|m| m.range == "*/*"))
}

/// Parses `body` as `media` says, recording why it cannot be parsed.
pub(crate) fn parse(
    media: &Media,
    kind: MediaKind,
    content_type: &str,
    body: &[u8],
    schemas: &Schemas,
    out: &mut Violations,
) -> Option<Value> {
    match kind {
        MediaKind::Json => match serde_json::from_slice::<Value>(body) {
            Ok(v) => Some(v),
            Err(e) => {
                out.push(
                    "/body",
                    format!("not valid JSON (line {}, column {})", e.line(), e.column()),
                );
                None
            }
        },
        MediaKind::Form => {
            let Ok(text) = std::str::from_utf8(body) else {
                out.push("/body", "form body is not valid UTF-8");
                return None;
            };
            Some(fields(
                schemas,
                media.schema,
                form_pairs(text).into_iter().map(|(k, v)| (k, v, false)),
            ))
        }
        MediaKind::Multipart => {
            let Some(boundary) = boundary(content_type) else {
                out.push("/body", "multipart body without a boundary parameter");
                return None;
            };
            match multipart_fields(body, &boundary) {
                Some(parts) => Some(fields(schemas, media.schema, parts.into_iter())),
                None => {
                    out.push("/body", "malformed multipart body");
                    None
                }
            }
        }
        MediaKind::Other => None,
    }
}

/// An object from named text fields, each typed by its property schema; repeated names make
/// arrays where the schema asks for one.
fn fields(
    schemas: &Schemas,
    schema: Option<SchemaId>,
    pairs: impl Iterator<Item = (String, String, bool)>,
) -> Value {
    let mut obj = Map::new();
    for (name, text, _is_file) in pairs {
        let prop = schema.and_then(|s| schemas.property_schema(s, &name));
        let is_array = prop.is_some_and(|p| schemas.types_of(p) & types::ARRAY != 0);
        if is_array {
            let items = prop.and_then(|p| schemas.node(p).items);
            let v = coerce(schemas, items, &text);
            match obj.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(a) => a.push(v),
                other => *other = Value::Array(vec![v]),
            }
        } else {
            let v = coerce(schemas, prop, &text);
            obj.entry(name).or_insert(v);
        }
    }
    Value::Object(obj)
}

fn boundary(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .skip(1)
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim().eq_ignore_ascii_case("boundary"))
                .then(|| v.trim().trim_matches('"').to_owned())
        })
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

/// Most parts read from one multipart body.
const MAX_PARTS: usize = 1_000;

/// The (name, text, is-file) fields of a multipart/form-data body; None when malformed.
fn multipart_fields(body: &[u8], boundary: &str) -> Option<Vec<(String, String, bool)>> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let start = memmem::find(body, delimiter.as_bytes())?;
    let mut rest = &body[start + delimiter.len()..];
    let mut out = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(out);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let end = memmem::find(rest, next_delimiter.as_bytes())?;
        let part = &rest[..end];
        rest = &rest[end + next_delimiter.len()..];
        let split = memmem::find(part, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&part[..split]).ok()?;
        let content = &part[split + 4..];
        let disposition = head.split("\r\n").find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(value)
        })?;
        let name = disposition_param(disposition, "name")?;
        let file = disposition_param(disposition, "filename").is_some();
        out.push((name, String::from_utf8_lossy(content).into_owned(), file));
        if out.len() > MAX_PARTS {
            return None;
        }
    }
}

fn disposition_param(disposition: &str, key: &str) -> Option<String> {
    disposition.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().trim_matches('"').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_ranges_match_most_specific_first() {
        let media = vec![
            Media {
                range: "application/json".into(),
                kind: MediaKind::Json,
                schema: None,
            },
            Media {
                range: "text/*".into(),
                kind: MediaKind::Other,
                schema: None,
            },
        ];
        assert_eq!(
            find(&media, "Application/JSON; charset=utf-8").map(|m| m.kind),
            Some(MediaKind::Json)
        );
        assert_eq!(
            find(&media, "text/csv").map(|m| m.kind),
            Some(MediaKind::Other)
        );
        assert!(find(&media, "application/xml").is_none());
    }

    #[test]
    fn multipart_fields_are_read() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--xyz--\r\n";
        let parts = multipart_fields(body, "xyz").unwrap();
        assert_eq!(parts[0], ("a".into(), "1".into(), false));
        assert_eq!(parts[1], ("f".into(), "hello".into(), true));
        assert!(multipart_fields(b"--xyz\r\nno end", "xyz").is_none());
        assert!(multipart_fields(b"garbage", "xyz").is_none());
    }
}
