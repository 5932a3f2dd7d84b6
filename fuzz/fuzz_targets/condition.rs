//! Any text as a CEL condition: compiled and evaluated, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portcullis_gateway::auth::Principal;
use portcullis_gateway::condition::{Condition, RequestFacts};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(condition) = Condition::compile(text) else { return };
    let headers = http::HeaderMap::new();
    let facts = RequestFacts {
        method: "GET",
        path_params: vec![("id".into(), "1".into())],
        url_path: "/x/1",
        query: Some("a=1"),
        headers: &headers,
        ip: std::net::IpAddr::from([127, 0, 0, 1]),
    };
    let _ = condition.evaluate(&facts, &Principal::default());
});
