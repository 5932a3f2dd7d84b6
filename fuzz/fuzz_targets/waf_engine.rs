//! Any bytes as a request (method, target, headers, body with a content type chosen from the
//! input) through the built-in rules: every phase runs, nothing panics.
#![no_main]
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use portcullis_waf::engine::{RequestHead, Waf};
use portcullis_waf::ruleset::{self, Profile, Source};

static WAF: OnceLock<Arc<Waf>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let waf = WAF.get_or_init(|| ruleset::load(&Source::Baseline, &Profile::default()).unwrap());
    let mut parts = data.splitn(4, |b| *b == 0);
    let target = parts.next().unwrap_or(b"/").to_vec();
    let header_block = parts.next().unwrap_or(b"");
    let kind = parts.next().and_then(|k| k.first().copied()).unwrap_or(0);
    let body = parts.next().unwrap_or(b"");
    let content_type: &[u8] = match kind % 5 {
        0 => b"application/json",
        1 => b"application/x-www-form-urlencoded",
        2 => b"multipart/form-data; boundary=b",
        3 => b"text/xml",
        _ => b"text/plain",
    };
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = header_block
        .split(|b| *b == b'\n')
        .filter_map(|l| {
            let colon = l.iter().position(|b| *b == b':')?;
            Some((l[..colon].to_vec(), l[colon + 1..].to_vec()))
        })
        .collect();
    headers.push((b"Content-Type".to_vec(), content_type.to_vec()));
    let head = RequestHead {
        method: "POST".into(),
        target,
        protocol: "HTTP/1.1".into(),
        headers,
        remote_addr: "127.0.0.1".into(),
    };
    let mut tx = waf.transaction(head);
    tx.request_headers();
    tx.request_body(body);
    tx.response_headers(200, &[(b"Content-Type".to_vec(), b"text/html".to_vec())]);
    tx.response_body(body);
    tx.logging();
});
