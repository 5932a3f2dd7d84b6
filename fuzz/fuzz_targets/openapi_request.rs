//! Arbitrary requests and responses against the demo API's spec: query string, content type and
//! body from the input; parameters, body, response filtering and PII masking never panic.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_openapi::pii::{Kind, Masker};
use portcullis_openapi::{Options, RequestParts, ResponseMode, ResponsePlan, Spec};

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text = include_str!("../../examples/demo-openapi.yaml");
        Spec::parse(text, std::path::Path::new("demo-openapi.yaml"), &Options::default())
            .expect("the demo spec compiles")
    })
}

fuzz_target!(|data: &[u8]| {
    // query \0 content-type \0 body
    let mut parts = data.splitn(3, |b| *b == 0);
    let query = std::str::from_utf8(parts.next().unwrap_or_default()).unwrap_or("");
    let content_type = std::str::from_utf8(parts.next().unwrap_or_default()).ok();
    let body = parts.next().unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(query) {
        headers.insert(http::header::COOKIE, v);
    }
    let masker = Masker::new(&Kind::DETECTED, &["/*/email".into()]).expect("masker");
    for op in &spec().operations {
        let _ = op.check_parameters(&RequestParts {
            path_params: &[("id", query)],
            query: Some(query),
            headers: &headers,
        });
        let _ = op.check_body(content_type, body);
        if let ResponsePlan::Json(schema) = op.response_plan(200, Some("application/json")) {
            for mode in [ResponseMode::Strip, ResponseMode::Block, ResponseMode::Report] {
                let _ = op.check_response(schema, body, mode);
            }
        }
    }
    if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = masker.mask(&mut v);
    }
});
