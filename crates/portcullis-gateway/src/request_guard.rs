//! Request hygiene checked before routing: the things a proxy must refuse so that it and the
//! upstream can never disagree about where a request starts, ends or goes.
//!
//! hyper already refuses at parse time (400, connection closed): obs-fold, invalid bytes in
//! header names and values, differing duplicate Content-Length, a Transfer-Encoding that does
//! not end in `chunked`, and oversized heads (431). This module refuses the rest: Content-Length
//! together with Transfer-Encoding, repeated Content-Length or Host, a Host that is not a host, a
//! request target that is too long or not in origin form, and paths with dot-segments or encoded
//! separators (`%2e%2e`, `%2f`, `%5c`, `%00`) that upstreams would normalise differently.

use http::request::Parts;
use http::{header, HeaderMap, Uri, Version};

use crate::problem::Refusal;

/// Checks a request head; returns the lowercase host (without port) to route on.
pub fn check(parts: &Parts, max_uri_bytes: usize) -> Result<String, Refusal> {
    check_head(&parts.uri, &parts.headers, parts.version, max_uri_bytes)
}

/// [`check`] on the pieces of a request head.
pub fn check_head(
    uri: &Uri,
    headers: &HeaderMap,
    version: Version,
    max_uri_bytes: usize,
) -> Result<String, Refusal> {
    // One pass over the headers: framing and Host must each appear at most once, and
    // Content-Length never together with Transfer-Encoding.
    let (mut content_length, mut transfer_encoding, mut host_count) = (0u32, 0u32, 0u32);
    for (name, value) in headers.iter() {
        if name == header::CONTENT_LENGTH {
            content_length += 1;
        } else if name == header::TRANSFER_ENCODING {
            transfer_encoding += 1;
            if !value.as_bytes().eq_ignore_ascii_case(b"chunked") {
                return Err(Refusal::BadRequest);
            }
        } else if name == header::HOST {
            host_count += 1;
        }
    }
    if content_length > 1
        || transfer_encoding > 1
        || host_count > 1
        || (content_length > 0 && transfer_encoding > 0)
    {
        return Err(Refusal::BadRequest);
    }
    let target_len = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_len > max_uri_bytes {
        return Err(Refusal::UriTooLong);
    }
    check_path(uri.path())?;
    host(uri, headers, version)
}

/// Refuses paths an upstream could read differently from the router.
fn check_path(path: &str) -> Result<(), Refusal> {
    if !path.starts_with('/') || path.contains('\\') {
        return Err(Refusal::BadRequest);
    }
    let bytes = path.as_bytes();
    // Encoded separators and NUL: %2f, %5c, %00 (any case).
    for (i, _) in path.match_indices('%') {
        let pair = bytes.get(i + 1..i + 3).unwrap_or_default();
        if pair.eq_ignore_ascii_case(b"2f") || pair.eq_ignore_ascii_case(b"5c") || pair == b"00" {
            return Err(Refusal::BadRequest);
        }
    }
    // Dot-segments, also percent-encoded: ".", "..", "%2e", "%2e%2e", ".%2e", ...
    for segment in path.split('/') {
        if is_dot_segment(segment) {
            return Err(Refusal::BadRequest);
        }
    }
    Ok(())
}

/// True for a segment made of one or two dots, each written `.` or `%2e`.
fn is_dot_segment(segment: &str) -> bool {
    let mut rest = segment.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        if rest[0] == b'.' {
            rest = &rest[1..];
        } else if rest.len() >= 3 && rest[0] == b'%' && rest[1..3].eq_ignore_ascii_case(b"2e") {
            rest = &rest[3..];
        } else {
            return false;
        }
        dots += 1;
    }
    dots == 1 || dots == 2
}

/// The host to route on: the URI authority (HTTP/2, absolute form) or the Host header,
/// lowercased, port removed, syntax checked.
fn host(uri: &Uri, headers: &HeaderMap, version: Version) -> Result<String, Refusal> {
    let header_host = headers
        .get(header::HOST)
        .map(|h| h.to_str().map_err(|_| Refusal::BadRequest))
        .transpose()?;
    let raw = match (uri.authority(), header_host) {
        (Some(a), Some(h)) if !a.as_str().eq_ignore_ascii_case(h) => {
            return Err(Refusal::BadRequest)
        }
        (Some(a), _) => a.as_str(),
        (None, Some(h)) => h,
        (None, None) => {
            // HTTP/1.0 without Host: route as the empty host ("*" routes still match).
            return if version == Version::HTTP_11 {
                Err(Refusal::BadRequest)
            } else {
                Ok(String::new())
            };
        }
    };
    let name = strip_port(raw).ok_or(Refusal::BadRequest)?;
    Ok(name.to_ascii_lowercase())
}

fn strip_port(raw: &str) -> Option<&str> {
    if raw.contains('@') {
        return None;
    }
    let (name, port) = if let Some(rest) = raw.strip_prefix('[') {
        let end = rest.find(']')?;
        let after = &rest[end + 1..];
        (&raw[..end + 2], after.strip_prefix(':'))
    } else {
        match raw.rsplit_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (raw, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
        });
    ok.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn framing_conflicts_are_refused() {
        let p = parts(
            "/a",
            &[
                ("host", "x"),
                ("content-length", "3"),
                ("transfer-encoding", "chunked"),
            ],
        );
        assert_eq!(check(&p, 100), Err(Refusal::BadRequest));
        let p = parts(
            "/a",
            &[
                ("host", "x"),
                ("content-length", "3"),
                ("content-length", "3"),
            ],
        );
        assert_eq!(check(&p, 100), Err(Refusal::BadRequest));
        let p = parts("/a", &[("host", "x"), ("host", "y")]);
        assert_eq!(check(&p, 100), Err(Refusal::BadRequest));
        let p = parts(
            "/a",
            &[("host", "x"), ("transfer-encoding", "gzip, chunked")],
        );
        assert_eq!(check(&p, 100), Err(Refusal::BadRequest));
    }

    #[test]
    fn sneaky_paths_are_refused() {
        for path in [
            "/a/../b",
            "/a/%2e%2E/b",
            "/a/./b",
            "/a%2fb",
            "/a%5Cb",
            "/a%00",
            "/..",
        ] {
            assert_eq!(
                check(&parts(path, &[("host", "x")]), 100),
                Err(Refusal::BadRequest),
                "{path}"
            );
        }
        assert_eq!(
            check(&parts("/a/b.c/..d", &[("host", "x")]), 100),
            Ok("x".into())
        );
    }

    #[test]
    fn hosts_are_normalised_or_refused() {
        assert_eq!(
            check(&parts("/", &[("host", "API.Example.com:8443")]), 100),
            Ok("api.example.com".into())
        );
        assert_eq!(
            check(&parts("/", &[("host", "[::1]:80")]), 100),
            Ok("[::1]".into())
        );
        for bad in ["a b", "x:99999999", "user@host", "a:", "a/b"] {
            assert_eq!(
                check(&parts("/", &[("host", bad)]), 100),
                Err(Refusal::BadRequest),
                "{bad}"
            );
        }
        assert_eq!(check(&parts("/", &[]), 100), Err(Refusal::BadRequest));
    }

    #[test]
    fn long_targets_get_414() {
        let long = format!("/{}", "a".repeat(200));
        assert_eq!(
            check(&parts(&long, &[("host", "x")]), 100),
            Err(Refusal::UriTooLong)
        );
    }
}
