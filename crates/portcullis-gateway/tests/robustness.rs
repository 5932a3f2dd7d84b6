//! No panic on hostile input: the parsers fed with deterministic pseudo-random and mutated
//! inputs (the stable stand-in for the cargo-fuzz targets in fuzz/), and garbage thrown at a
//! live listener.

mod support;

use std::path::Path;
use std::time::Duration;

use portcullis_gateway::config::{load_str, validate};
use portcullis_gateway::framing_sniffer::FramingSniffer;
use portcullis_gateway::request_guard::check_head;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, max: usize, alphabet: &[u8]) -> Vec<u8> {
        let n = self.below(max);
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}

const YAML_ALPHABET: &[u8] = b"abcdefgilmnoprstuxy_-:{}[],'\"*&!|>#%@` \n\t0123456789.$/\\";

#[test]
fn config_loading_never_panics_on_mutated_configs() {
    let seed = include_str!("../../../examples/demo.yaml").as_bytes();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let mut input = seed.to_vec();
        for _ in 0..=rng.below(8) {
            let at = rng.below(input.len());
            match rng.below(3) {
                0 => input[at] = YAML_ALPHABET[rng.below(YAML_ALPHABET.len())],
                1 => {
                    input.remove(at);
                }
                _ => input.insert(at, YAML_ALPHABET[rng.below(YAML_ALPHABET.len())]),
            }
        }
        if let Ok(text) = std::str::from_utf8(&input) {
            if let Ok(loaded) = load_str(text, Path::new("m.yaml"), Path::new("/nonexistent")) {
                let report = validate::check(&loaded);
                let _ = loaded.diagnose(&report.findings);
            }
        }
    }
    for _ in 0..3000 {
        let input = rng.bytes(300, YAML_ALPHABET);
        let _ = load_str(
            &String::from_utf8_lossy(&input),
            Path::new("r.yaml"),
            Path::new("/"),
        );
    }
}

#[test]
fn request_guard_never_panics() {
    let alphabet = b"/%.2eEfF5cC0aZ?#:@[]\\ \x7f\xff-_~";
    let mut rng = Rng(42);
    for _ in 0..100_000 {
        let target = rng.bytes(40, alphabet);
        let host = rng.bytes(20, b"abc.:[]0123456789@-_/ \x00\xff");
        let Ok(uri) = http::Uri::try_from(target.as_slice()) else {
            continue;
        };
        let mut headers = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_bytes(&host) {
            headers.insert(http::header::HOST, v);
        }
        let _ = check_head(&uri, &headers, http::Version::HTTP_11, 64);
    }
}

#[test]
fn framing_sniffer_never_panics() {
    let alphabet = b"\r\n :content-lngthrasfcodiu0123456789PRI*HTTP/2.";
    let mut rng = Rng(7);
    for _ in 0..20_000 {
        let mut s = FramingSniffer::default();
        let stream = rng.bytes(400, alphabet);
        let mut rest = stream.as_slice();
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len());
            let _ = s.feed(&rest[..n]);
            rest = &rest[n..];
        }
    }
}

#[tokio::test]
async fn garbage_on_the_wire_does_not_hurt_the_gateway() {
    let api = demo_api().await;
    let env = Env::start(&config(
        api,
        DEMO_ROUTES,
        "limits: { header_read_timeout: 1s }\n",
    ))
    .await;
    let mut rng = Rng(99);
    for i in 0..200 {
        let addr = if i % 2 == 0 { env.http() } else { env.https() };
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut junk = rng.bytes(2000, &(0u8..=255).collect::<Vec<_>>());
        if i % 3 == 0 {
            junk.splice(0..0, b"GET / HTTP/1.1\r\n".iter().copied());
        }
        let _ = tcp.write_all(&junk).await;
        let _ = tcp.shutdown().await;
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), tcp.read_to_end(&mut sink)).await;
    }
    let r = get(env.http(), "/health", "").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = env
        .https_raw("GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

#[test]
fn token_and_key_parsing_never_panics_on_garbage() {
    use portcullis_gateway::auth::jwks::parse_key_set;
    use portcullis_gateway::auth::jwt::{unverified_issuer, JwtProvider};
    use portcullis_gateway::auth::{api_key, token_cache::TokenCache};
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    let signer = portcullis_demo::signers::Signer::ed("k1");
    let algorithms = vec![
        jsonwebtoken::Algorithm::EdDSA,
        jsonwebtoken::Algorithm::RS256,
    ];
    let jwks = serde_json::json!({"keys": [signer.jwk.clone()]}).to_string();
    let provider = JwtProvider {
        name: Arc::from("p"),
        issuer: "iss".into(),
        audiences: vec!["aud".into()],
        algorithms: algorithms.clone(),
        leeway: Duration::from_secs(0),
        required_claims: vec![],
        roles_claim: "roles".into(),
        scopes_claim: "scope".into(),
        cookie: None,
        jwks: portcullis_gateway::auth::jwks::Jwks::fixed(
            parse_key_set(jwks.as_bytes(), &algorithms).unwrap(),
        ),
        cache: TokenCache::new(16),
    };
    let good = signer.sign(
        &serde_json::json!({"iss": "iss", "aud": "aud", "sub": "s", "exp": 4_000_000_000u64}),
    );
    let alphabet: Vec<u8> = (b'0'..=b'z')
        .chain([b'.', b'-', b'_', b'=', b'%', b' '])
        .collect();
    let mut rng = Rng(0x51_7cc1_b727_220a);
    let mut verified = 0;
    for i in 0..20_000 {
        let token = if i % 2 == 0 {
            // A real token with a few bytes changed.
            let mut t = good.clone().into_bytes();
            for _ in 0..=rng.below(3) {
                let at = rng.below(t.len());
                t[at] = alphabet[rng.below(alphabet.len())];
            }
            String::from_utf8(t).unwrap()
        } else {
            String::from_utf8(rng.bytes(200, &alphabet)).unwrap()
        };
        let _ = unverified_issuer(&token);
        let _ = api_key::prefix_of(&token);
        let mut fut = std::pin::pin!(provider.verify(&token));
        if let Poll::Ready(Ok(_)) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            verified += 1;
        }
        let _ = parse_key_set(token.as_bytes(), &algorithms);
    }
    assert!(verified < 200, "mutated tokens verified {verified} times");
}

#[test]
fn condition_compilation_never_panics_on_garbage() {
    use portcullis_gateway::condition::Condition;
    let seed = b"request.path.user == principal.sub || 'admin' in principal.roles && size(request.query) > 0";
    let alphabet = b"abcdeprqstu.=!|&()[]'\"0123456789 <>+-*/%?:,{}";
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..3000 {
        let mut input = seed.to_vec();
        for _ in 0..=rng.below(6) {
            let at = rng.below(input.len());
            match rng.below(3) {
                0 => input[at] = alphabet[rng.below(alphabet.len())],
                1 => {
                    input.remove(at);
                }
                _ => input.insert(at, alphabet[rng.below(alphabet.len())]),
            }
        }
        let _ = Condition::compile(std::str::from_utf8(&input).unwrap());
    }
}
