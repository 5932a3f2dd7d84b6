//! The request line and headers as rules see them: `REQUEST_URI` without scheme and host,
//! `REQUEST_FILENAME` and `REQUEST_BASENAME` percent-decoded, query arguments, cookies.

use super::collections::Collections;
use super::variables::Var;
use crate::body::{urlencoded, Processor};

/// A request's head, as received.
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    /// The method.
    pub method: String,
    /// The request target as sent (`/a/b?c=d`, `http://host/x`, `*`).
    pub target: Vec<u8>,
    /// The protocol (`HTTP/1.1`).
    pub protocol: String,
    /// Headers in arrival order, names as sent.
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The client address.
    pub remote_addr: String,
}

impl RequestHead {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }
}

/// Fills the request variables of `c` from `head` (its headers move into the collection).
pub fn fill(c: &mut Collections, head: RequestHead, separator: u8) {
    let target = head.target.as_slice();
    let mut line = Vec::with_capacity(head.method.len() + target.len() + head.protocol.len() + 2);
    line.extend_from_slice(head.method.as_bytes());
    line.push(b' ');
    line.extend_from_slice(target);
    line.push(b' ');
    line.extend_from_slice(head.protocol.as_bytes());
    c.set(Var::RequestLine, line);
    c.set(Var::RequestMethod, head.method.as_bytes());
    c.set(Var::RequestProtocol, head.protocol.as_bytes());
    c.set(Var::RequestUriRaw, target);
    let uri = without_authority(target);
    c.set(Var::RequestUri, uri);
    let (path, query) = match uri.iter().position(|b| *b == b'?') {
        Some(q) => (&uri[..q], Some(&uri[q + 1..])),
        None => (uri, None),
    };
    let filename = urlencoded::decode(path, false);
    let base_start = filename
        .iter()
        .rposition(|b| *b == b'/' || *b == b'\\')
        .map_or(0, |i| i + 1);
    c.set(Var::RequestBasename, &filename[base_start..]);
    c.set(Var::RequestFilename, filename);
    if let Some(q) = query {
        c.set(Var::QueryString, q);
        c.args_get = c.table(urlencoded::parse(q, separator));
    } else {
        c.set(Var::QueryString, Vec::new());
    }
    let jar = head
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"cookie"))
        .flat_map(|(_, v)| cookies(v))
        .collect();
    c.cookies = c.table(jar);
    c.set(Var::RemoteAddr, head.remote_addr.as_bytes());
    c.set(Var::ReqbodyError, b"0");
    let processor = head
        .header("content-type")
        .and_then(Processor::for_content_type);
    c.set(
        Var::ReqbodyProcessor,
        processor.map_or("", Processor::name).as_bytes(),
    );
    c.request_headers = c.table(head.headers);
}

/// The path and query of a target, without `scheme://authority`.
fn without_authority(target: &[u8]) -> &[u8] {
    let lower_starts =
        |p: &[u8]| target.len() >= p.len() && target[..p.len()].eq_ignore_ascii_case(p);
    if lower_starts(b"http://") || lower_starts(b"https://") {
        let after = &target[target.iter().position(|b| *b == b':').unwrap_or(0) + 3..];
        return after
            .iter()
            .position(|b| *b == b'/' || *b == b'?')
            .map_or(&after[after.len()..], |i| &after[i..]);
    }
    target
}

/// `a=1; b=2` into pairs (names trimmed, values as sent).
fn cookies(header: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    header
        .split(|b| *b == b';')
        .map(<[u8]>::trim_ascii_start)
        .filter(|c| !c.is_empty())
        .map(|c| match c.iter().position(|b| *b == b'=') {
            Some(eq) => (c[..eq].trim_ascii().to_vec(), c[eq + 1..].to_vec()),
            None => (c.trim_ascii().to_vec(), Vec::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_request_variables() {
        let head = RequestHead {
            method: "GET".into(),
            target: b"http://example.com/a%20b/c.php?x=1+2&y".to_vec(),
            protocol: "HTTP/1.1".into(),
            headers: vec![(b"Cookie".to_vec(), b"s=1; t=a=b; flag".to_vec())],
            remote_addr: "127.0.0.1".into(),
        };
        let mut c = Collections::default();
        fill(&mut c, head, b'&');
        assert_eq!(c.get(Var::RequestUri), Some(&b"/a%20b/c.php?x=1+2&y"[..]));
        assert_eq!(c.get(Var::RequestFilename), Some(&b"/a b/c.php"[..]));
        assert_eq!(c.get(Var::RequestBasename), Some(&b"c.php"[..]));
        assert_eq!(c.get(Var::QueryString), Some(&b"x=1+2&y"[..]));
        assert_eq!(c.args_get[0], (b"x".to_vec(), b"1 2".to_vec()));
        assert_eq!(c.cookies.len(), 3);
        assert_eq!(c.cookies[1], (b"t".to_vec(), b"a=b".to_vec()));
    }
}
