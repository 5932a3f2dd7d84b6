//! The two ends of a go-ftw exchange, in-process: the request bytes go-ftw would send (header
//! autocompletion, form-data escaping, CRLF multipart bodies, `encoded_request`), and a strict
//! HTTP/1.1 server reading them back the way Apache does (a malformed request is a 400 before
//! any rule runs).

use std::collections::BTreeMap;

use crate::engine::RequestHead;

/// One stage's request, as the test file describes it.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Method (default GET).
    pub method: Option<String>,
    /// Request target (default `/`).
    pub uri: Option<String>,
    /// Protocol (default HTTP/1.1).
    pub version: Option<String>,
    /// Headers (go-ftw keeps one value per exact name and writes them sorted).
    pub headers: BTreeMap<String, String>,
    /// Body.
    pub data: Option<String>,
    /// The whole request, base64.
    pub encoded_request: Option<String>,
    /// Whether go-ftw completes the headers (default true).
    pub autocomplete_headers: Option<bool>,
}

/// The bytes go-ftw sends for `input`.
pub fn build(input: &Input) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    if let Some(encoded) = &input.encoded_request {
        return base64::engine::general_purpose::STANDARD
            .decode(encoded.split_ascii_whitespace().collect::<String>())
            .map_err(|e| format!("encoded_request: {e}"));
    }
    let method = input.method.as_deref().unwrap_or("GET");
    let mut out = format!(
        "{} {} {}\r\n",
        method,
        input.uri.as_deref().unwrap_or("/"),
        input.version.as_deref().unwrap_or("HTTP/1.1")
    )
    .into_bytes();
    let mut headers = input.headers.clone();
    let autocomplete = input.autocomplete_headers.unwrap_or(true);
    let mut data = input.data.clone().unwrap_or_default().into_bytes();
    if !data.is_empty() && autocomplete {
        headers
            .entry("Content-Type".into())
            .or_insert_with(|| "application/x-www-form-urlencoded".into());
        if headers.get("Content-Type").map(String::as_str)
            == Some("application/x-www-form-urlencoded")
        {
            data = escape_form(&data);
        }
    }
    if headers
        .get("Content-Type")
        .is_some_and(|ct| ct.starts_with("multipart/form-data;"))
    {
        let mut crlf = Vec::with_capacity(data.len());
        for b in data {
            if b == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        data = crlf;
    }
    if autocomplete {
        headers
            .entry("Connection".into())
            .or_insert_with(|| "close".into());
        let body_method = method.starts_with("POST")
            || method.contains("PUT")
            || method.contains("PATCH")
            || method.ends_with("DELETE");
        if !data.is_empty() || body_method {
            headers
                .entry("Content-Length".into())
                .or_insert_with(|| data.len().to_string());
        }
    }
    for (name, value) in &headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&data);
    Ok(out)
}

/// go-ftw escapes `key=value` pairs of form data that is not escaped yet (unescaping would
/// change nothing and succeed).
fn escape_form(data: &[u8]) -> Vec<u8> {
    if !unescape_is_identity(data) {
        return data.to_vec();
    }
    let mut out = Vec::new();
    for (i, token) in data.split(|b| *b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        match token.iter().position(|b| *b == b'=') {
            Some(eq) => {
                query_escape(&token[..eq], &mut out);
                out.push(b'=');
                query_escape(&token[eq + 1..], &mut out);
            }
            None => query_escape(token, &mut out),
        }
    }
    out
}

/// Whether Go's `url.QueryUnescape` returns `data` unchanged and without error.
fn unescape_is_identity(data: &[u8]) -> bool {
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'+' => return false,
            b'%' => {
                // A valid escape changes the text; an invalid one is an error.
                return false;
            }
            _ => i += 1,
        }
    }
    true
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &[u8], out: &mut Vec<u8>) {
    for &b in s {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b),
            b' ' => out.push(b'+'),
            _ => out.extend_from_slice(format!("%{b:02X}").as_bytes()),
        }
    }
}

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Line and headers.
    pub head: RequestHead,
    /// The body (by Content-Length or chunked).
    pub body: Vec<u8>,
    /// The request could not be answered as HTTP (e.g. no protocol version): the client sees
    /// a connection error, though the rules still ran.
    pub broken: bool,
}

/// Reads `raw` like a strict HTTP/1.1 server; `Err(400)` for what Apache refuses.
pub fn receive(raw: &[u8]) -> Result<Received, u16> {
    let head_end = find(raw, b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| find(raw, b"\n\n").map(|i| (i, i + 2)))
        .unwrap_or((raw.len(), raw.len()));
    let mut lines = raw[..head_end.0]
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let line = lines.next().ok_or(400u16)?;
    let parts: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
    let (method, target, version, broken) = match parts.as_slice() {
        [m, t, b""] | [m, t] => (*m, *t, &b""[..], true),
        [m, t, v] => (*m, *t, *v, false),
        _ => return Err(400),
    };
    if method.is_empty() || !method.iter().all(|b| is_tchar(*b)) {
        return Err(400);
    }
    if target.is_empty()
        || target
            .iter()
            .any(|b| *b <= b' ' || *b == 0x7f || *b == b'#')
    {
        return Err(400);
    }
    if !broken && !valid_version(version) {
        return Err(400);
    }
    let mut headers = Vec::new();
    for l in lines {
        if l.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            return Err(400); // obs-fold
        }
        let colon = l.iter().position(|b| *b == b':').ok_or(400u16)?;
        let name = &l[..colon];
        if name.is_empty() || !name.iter().all(|b| is_tchar(*b)) {
            return Err(400);
        }
        headers.push((name.to_vec(), l[colon + 1..].trim_ascii().to_vec()));
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n.as_bytes()))
            .map(|(_, v)| v.as_slice())
    };
    if let Some(host) = get("host") {
        if !host
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(b))
        {
            return Err(400);
        }
    }
    let rest = &raw[head_end.1.min(raw.len())..];
    let chunked = get("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case(b"chunked"));
    let body = if chunked {
        dechunk(rest).ok_or(400u16)?
    } else if let Some(cl) = get("content-length") {
        let n: usize = std::str::from_utf8(cl)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or(400u16)?;
        rest[..n.min(rest.len())].to_vec()
    } else {
        Vec::new()
    };
    Ok(Received {
        head: RequestHead {
            method: String::from_utf8_lossy(method).into_owned(),
            target: target.to_vec(),
            // A request line without a version is HTTP/0.9 to Apache.
            protocol: if broken {
                "HTTP/0.9".into()
            } else {
                String::from_utf8_lossy(version).into_owned()
            },
            headers,
            remote_addr: "127.0.0.1".into(),
        },
        body,
        broken,
    })
}

fn valid_version(v: &[u8]) -> bool {
    matches!(
        v,
        b"HTTP/1.0" | b"HTTP/1.1" | b"HTTP/2" | b"HTTP/2.0" | b"HTTP/3" | b"HTTP/3.0"
    )
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = find(rest, b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_like_go_ftw() {
        let mut input = Input {
            method: Some("POST".into()),
            data: Some("a=b c&d".into()),
            ..Input::default()
        };
        input.headers.insert("Host".into(), "localhost".into());
        let raw = String::from_utf8(build(&input).unwrap()).unwrap();
        assert_eq!(
            raw,
            "POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 7\r\nContent-Type: application/x-www-form-urlencoded\r\nHost: localhost\r\n\r\na=b+c&d"
        );
        let r = receive(raw.as_bytes()).unwrap();
        assert_eq!(r.body, b"a=b+c&d");
        assert_eq!(r.head.method, "POST");
    }

    #[test]
    fn strict_server() {
        assert_eq!(receive(b"\tGET / HTTP/1.1\r\n\r\n").unwrap_err(), 400);
        assert_eq!(receive(b"GET /#x HTTP/1.1\r\n\r\n").unwrap_err(), 400);
        assert_eq!(receive(b"GET / HTTP/0.9\r\n\r\n").unwrap_err(), 400);
        assert_eq!(
            receive(b"GET / HTTP/1.1\r\nContent-Length: 3;\r\n\r\nabc").unwrap_err(),
            400
        );
        assert!(receive(b"GET / \r\nHost: x\r\n\r\n").unwrap().broken);
        let chunked =
            receive(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
                .unwrap();
        assert_eq!(chunked.body, b"abc");
    }
}
