//! Any request target and Host: the request guard answers, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (target, host) = data.split_at(split);
    let Ok(uri) = http::Uri::try_from(target) else { return };
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(host.get(1..).unwrap_or_default()) {
        headers.insert(http::header::HOST, v);
    }
    let _ = portcullis_gateway::request_guard::check_head(&uri, &headers, http::Version::HTTP_11, 8192);
});
