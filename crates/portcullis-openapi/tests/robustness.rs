//! What the fuzz targets (fuzz/fuzz_targets/openapi_*.rs) do, on a stable toolchain and in every
//! test run: mutated specs and mutated, hostile request and response bodies, deterministic
//! pseudo-random, asserting only that nothing panics and that stripping is idempotent.

use std::path::Path;

use portcullis_openapi::pii::{Kind, Masker};
use portcullis_openapi::{Options, RequestParts, ResponseMode, ResponsePlan, Spec};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to YAML, JSON, forms and multipart.
const SPICE: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\"",
    b"'",
    b"\n",
    b"  ",
    b"- ",
    b"$ref: '#/'",
    b"&a",
    b"*a",
    b"null",
    b"1e999",
    b"-0",
    b"\\u0000",
    b"%",
    b"%zz",
    b"&",
    b"=",
    b"+",
    b"--b\r\n",
    b"\r\n\r\n",
    b"\xff",
    b"{\"a\":",
    b"[[[[[[",
    b"9999999999999999999999",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(3) {
            0 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            1 => {
                let s = SPICE[rng.below(SPICE.len())];
                out.splice(at..at, s.iter().copied());
            }
            _ => {
                if let Some(b) = out.get_mut(at) {
                    *b = rng.next() as u8;
                }
            }
        }
    }
    out
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

#[test]
fn mutated_specs_never_panic() {
    let mut rng = Rng(0x5eed_0001);
    let base = fixture("v31.yaml");
    let mut compiled = 0;
    for _ in 0..1_500 {
        let text = mutate(&mut rng, base.as_bytes());
        let Ok(text) = String::from_utf8(text) else {
            continue;
        };
        if let Ok(spec) = Spec::parse(&text, Path::new("m.yaml"), &Options::default()) {
            compiled += 1;
            let headers = http::HeaderMap::new();
            for op in &spec.operations {
                let _ = op.check_parameters(&RequestParts {
                    path_params: &[("id", "1")],
                    query: Some("limit=1&tags=a"),
                    headers: &headers,
                });
                let _ = op.check_body(Some("application/json"), br#"{"name": "x", "price": 1}"#);
            }
        }
    }
    assert!(
        compiled > 50,
        "mutations too destructive: {compiled} compiled"
    );
}

#[test]
fn mutated_requests_and_responses_never_panic() {
    let mut rng = Rng(0x5eed_0002);
    let spec = Spec::parse(
        &fixture("v31.yaml"),
        Path::new("v31.yaml"),
        &Options::default(),
    )
    .unwrap();
    let masker = Masker::new(&Kind::DETECTED, &["/*/name".into(), "/owner/*".into()]).unwrap();
    let bodies: [&[u8]; 4] = [
        br#"{"name": "pen", "price": 1.5, "note": null, "owner": {"name": "ann", "email": "a@b.io"}}"#,
        b"name=pen&price=2&tags=a&tags=b",
        b"--b\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\npen\r\n--b--\r\n",
        br#"[{"id": 1, "name": "x", "price": 2, "secret": "s", "extra": {"card": "4111111111111111"}}]"#,
    ];
    let types = [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=b",
        "text/plain",
    ];
    let headers = http::HeaderMap::new();
    for round in 0..20_000 {
        let body = mutate(&mut rng, bodies[round % bodies.len()]);
        let query = String::from_utf8_lossy(&mutate(&mut rng, b"limit=10&tags=a&filter[size]=3"))
            .into_owned();
        for op in &spec.operations {
            let _ = op.check_body(Some(types[rng.below(types.len())]), &body);
            let _ = op.check_parameters(&RequestParts {
                path_params: &[("id", &query)],
                query: Some(&query),
                headers: &headers,
            });
            if let ResponsePlan::Json(schema) = op.response_plan(200, Some("application/json")) {
                let first = op.check_response(schema, &body, ResponseMode::Strip);
                // Stripping twice removes nothing more.
                if let Some(stripped) = &first.rewritten {
                    let again = op.check_response(schema, stripped, ResponseMode::Strip);
                    assert_eq!(again.removed, 0, "{}", String::from_utf8_lossy(stripped));
                }
            }
        }
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) {
            masker.mask(&mut v);
            // Masking is idempotent too.
            let once = v.clone();
            masker.mask(&mut v);
            assert_eq!(v, once);
        }
    }
}
