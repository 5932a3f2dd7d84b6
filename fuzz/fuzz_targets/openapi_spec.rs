//! Any text as an OpenAPI spec: refused with errors or compiled, never a panic; a compiled spec
//! then judges a request of every operation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portcullis_openapi::{Options, RequestParts, Spec};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(spec) = Spec::parse(text, std::path::Path::new("fuzz.yaml"), &Options::default()) else {
        return;
    };
    let headers = http::HeaderMap::new();
    for op in &spec.operations {
        let _ = op.check_parameters(&RequestParts {
            path_params: &[("id", "1")],
            query: Some("a=1&b=x&a=2"),
            headers: &headers,
        });
        let _ = op.check_body(Some("application/json"), br#"{"a": [1, {"b": null}]}"#);
    }
});
