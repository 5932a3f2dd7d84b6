//! Any bytes as a bearer token, an API key and a JWKS document: verification answers, never
//! panics.
#![no_main]
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;
use portcullis_gateway::auth::jwks::{parse_key_set, Jwks};
use portcullis_gateway::auth::jwt::{unverified_issuer, JwtProvider};
use portcullis_gateway::auth::{api_key, token_cache::TokenCache};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let algorithms = vec![Algorithm::HS256, Algorithm::EdDSA];
    let _ = parse_key_set(data, &algorithms);
    let _ = unverified_issuer(&text);
    let _ = api_key::prefix_of(&text);
    let keys = parse_key_set(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"k"}]}"#, &algorithms)
        .expect("fixed JWKS parses");
    let provider = JwtProvider {
        name: Arc::from("fuzz"),
        issuer: "iss".into(),
        audiences: vec!["aud".into()],
        algorithms,
        leeway: Duration::ZERO,
        required_claims: vec!["sub".into()],
        roles_claim: "roles".into(),
        scopes_claim: "scope".into(),
        cookie: None,
        jwks: Jwks::fixed(keys),
        cache: TokenCache::new(16),
    };
    let mut fut = std::pin::pin!(provider.verify(&text));
    let _ = matches!(fut.as_mut().poll(&mut Context::from_waker(Waker::noop())), Poll::Ready(_));
});
