//! The CRS benchmark's rule set and requests, shared by the criterion bench and the
//! `crs_transactions` example (instruction counts).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_waf::engine::{RequestHead, Waf};

pub fn crs_dir() -> PathBuf {
    std::env::var("PORTCULLIS_CRS").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs"),
        PathBuf::from,
    )
}

pub fn waf(level: u8) -> Arc<Waf> {
    let dir = crs_dir();
    let setup = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../bench/waf/engine-pl{level}.conf"));
    let waf = Waf::load(&[
        setup,
        dir.join("crs-setup.conf.example"),
        dir.join("rules/*.conf"),
    ])
    .unwrap_or_else(|e| {
        panic!(
            "CRS at {} does not load (set PORTCULLIS_CRS): {e}",
            dir.display()
        )
    });
    Arc::new(waf)
}

pub fn headers(extra: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut h: Vec<(Vec<u8>, Vec<u8>)> = [
        ("Host", "api.example.com"),
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        ),
        ("Accept", "application/json"),
        ("Accept-Language", "en-US,en;q=0.5"),
        ("Accept-Encoding", "gzip, deflate, br"),
        (
            "Authorization",
            "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJl",
        ),
        (
            "Cookie",
            "session=3fa85f64-5717-4562-b3fc-2c963f66afa6; theme=dark",
        ),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
    .collect();
    h.shrink_to_fit();
    h
}

/// A 1 KB JSON order.
pub fn json_body() -> Vec<u8> {
    let items: Vec<String> = (0..9)
        .map(|i| {
            format!(
                r#"{{"sku":"ABC-{i:04}","quantity":{},"price":{}.5,"gift":false}}"#,
                i + 1,
                10 + i
            )
        })
        .collect();
    format!(
        r#"{{"customer":{{"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","email":"ann@example.com","name":"Ann Example"}},"currency":"EUR","note":"Leave at the door, please.","items":[{}]}}"#,
        items.join(",")
    )
    .into_bytes()
}

/// One transaction, every phase; the number of rules that logged a match.
#[inline(never)]
pub fn transaction(waf: &Arc<Waf>, head: &RequestHead, body: &[u8]) -> usize {
    let mut tx = waf.transaction(head.clone());
    tx.request_headers();
    tx.request_body(body);
    tx.response_headers(
        200,
        vec![(b"Content-Type".to_vec(), b"application/json".to_vec())],
    );
    tx.logging();
    tx.logged().len()
}

/// CRS at PL1 as the gateway loads it for an API (`portcullis_waf::ruleset`'s prelude: blocking,
/// request and response bodies inspected), the rule set of `bench/run.sh waf`'s gateway run.
pub fn gateway_waf() -> Arc<Waf> {
    let source = portcullis_waf::ruleset::Source::Crs {
        dir: crs_dir(),
        setup: None,
    };
    portcullis_waf::ruleset::load(&source, &portcullis_waf::ruleset::Profile::default())
        .unwrap_or_else(|e| panic!("CRS does not load (set PORTCULLIS_CRS): {e}"))
}

/// The gateway benchmark's exchange as its WAF stage sees it: wrk's bare GET (only a numeric
/// `Host`), then the origin's (nginx's) response headers and 1 KB JSON body, every phase.
#[inline(never)]
pub fn proxied_exchange(waf: &Arc<Waf>, response_body: &[u8]) -> usize {
    let head = RequestHead {
        method: "GET".into(),
        target: b"/data.json".to_vec(),
        protocol: "HTTP/1.1".into(),
        headers: vec![(b"host".to_vec(), b"127.0.0.1:18083".to_vec())],
        remote_addr: "127.0.0.1".into(),
    };
    let mut tx = waf.transaction(head);
    tx.request_headers();
    tx.request_body(b"");
    let length = response_body.len().to_string();
    let headers: Vec<(Vec<u8>, Vec<u8>)> = [
        ("server", "nginx/1.22.1"),
        ("date", "Tue, 24 Nov 2026 22:00:00 GMT"),
        ("content-type", "application/json"),
        ("content-length", length.as_str()),
        ("last-modified", "Tue, 24 Nov 2026 21:59:00 GMT"),
        ("etag", "\"6743a1b4-400\""),
        ("accept-ranges", "bytes"),
    ]
    .iter()
    .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
    .collect();
    tx.response_headers(200, headers);
    tx.response_body(response_body);
    tx.logging();
    tx.logged().len()
}

/// The gateway benchmark's 1 KB response body.
pub fn proxied_response() -> Vec<u8> {
    format!(r#"{{"data":"{}"}}"#, "a".repeat(1013)).into_bytes()
}

/// The GET with a query string.
pub fn get() -> (RequestHead, Vec<u8>) {
    let head = RequestHead {
        method: "GET".into(),
        target: b"/api/v1/orders?status=shipped&page=2&sort=-created_at&q=blue+shoes".to_vec(),
        protocol: "HTTP/1.1".into(),
        headers: headers(&[]),
        remote_addr: "192.0.2.10".into(),
    };
    (head, Vec::new())
}

/// The 1 KB JSON POST.
pub fn post() -> (RequestHead, Vec<u8>) {
    let body = json_body();
    let len = body.len().to_string();
    let head = RequestHead {
        method: "POST".into(),
        target: b"/api/v1/orders".to_vec(),
        protocol: "HTTP/1.1".into(),
        headers: headers(&[
            ("Content-Type", "application/json"),
            ("Content-Length", &len),
        ]),
        remote_addr: "192.0.2.10".into(),
    };
    (head, body)
}
