//! Cost of authentication on the request path, per credential kind:
//! - cold JWT verification (signature and claims, cache off) for RS256, PS256, ES256, EdDSA;
//! - a warm JWT (cache hit), an API key check, and a CEL object-level condition.
//!
//!     cargo bench -p portcullis-gateway --bench auth

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::Algorithm;
use portcullis_demo::signers::Signer;
use portcullis_gateway::auth::api_key::{self, ApiKeyProvider, KeyEntry};
use portcullis_gateway::auth::jwks::{parse_key_set, Jwks};
use portcullis_gateway::auth::jwt::JwtProvider;
use portcullis_gateway::auth::token_cache::TokenCache;
use portcullis_gateway::auth::Principal;
use portcullis_gateway::condition::{Condition, RequestFacts};
use portcullis_gateway::state::key_store::KeyRecord;
use serde_json::json;

/// Runs a future that never waits (fixed keys, no I/O) to completion.
fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("verification waited"),
    }
}

fn provider(signers: &[&Signer], cache: usize) -> JwtProvider {
    let algorithms = vec![
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ];
    let doc = json!({"keys": signers.iter().map(|s| s.jwk.clone()).collect::<Vec<_>>()});
    JwtProvider {
        name: Arc::from("bench"),
        issuer: "bench".into(),
        audiences: vec!["bench".into()],
        algorithms: algorithms.clone(),
        leeway: Duration::from_secs(30),
        required_claims: vec!["sub".into()],
        roles_claim: "roles".into(),
        scopes_claim: "scope".into(),
        cookie: None,
        jwks: Jwks::fixed(parse_key_set(doc.to_string().as_bytes(), &algorithms).unwrap()),
        cache: TokenCache::new(cache),
    }
}

fn jwt(c: &mut Criterion) {
    let claims = json!({"iss": "bench", "aud": "bench", "sub": "alice", "exp": 4_000_000_000u64,
        "roles": ["user"], "scope": "a b"});
    let rsa = Signer::rsa("rsa");
    let signers = [
        ("RS256", Signer::rsa("rs")),
        ("PS256", Signer::rsa("ps").with_alg(Algorithm::PS256)),
        ("ES256", Signer::ec("es")),
        ("EdDSA", Signer::ed("ed")),
    ];
    let all: Vec<&Signer> = signers.iter().map(|(_, s)| s).chain([&rsa]).collect();
    let cold = provider(&all, 0);
    let mut group = c.benchmark_group("jwt_cold_verify");
    for (name, signer) in &signers {
        let token = signer.sign(&claims);
        assert!(now(cold.verify(&token)).is_ok(), "{name}");
        group.bench_function(*name, |b| b.iter(|| now(cold.verify(&token)).unwrap()));
    }
    group.finish();
    let warm = provider(&all, 1000);
    let token = rsa.sign(&claims);
    now(warm.verify(&token)).unwrap();
    c.bench_function("jwt_warm_cache_hit", |b| {
        b.iter(|| now(warm.verify(&token)).unwrap())
    });
}

fn api_keys(c: &mut Criterion) {
    let pepper = "bench-pepper-0123456789";
    let (prefix, key) = api_key::generate();
    let record = KeyRecord {
        prefix: prefix.clone(),
        namespace: "bench/keys".into(),
        hash: api_key::hash(pepper.as_bytes(), &key),
        owner: "acme".into(),
        scopes: vec![],
        roles: vec![],
        created: 0,
        expires: None,
        revoked: false,
        last_used: None,
        rotated_to: None,
    };
    let provider = ApiKeyProvider {
        name: Arc::from("keys"),
        header: http::HeaderName::from_static("x-api-key"),
        query_param: None,
        pepper: api_key::Pepper::new(pepper.as_bytes()),
        declared: [(prefix, Arc::new(KeyEntry::new(record, Arc::from("keys"))))].into(),
        store: None,
    };
    c.bench_function("api_key_verify", |b| {
        b.iter(|| provider.verify(&key).unwrap())
    });
}

fn condition(c: &mut Criterion) {
    let cond =
        Condition::compile("request.path.user == principal.sub || 'admin' in principal.roles")
            .unwrap();
    let headers = http::HeaderMap::new();
    let principal = Principal {
        id: "alice".into(),
        roles: vec!["user".into()],
        ..Principal::default()
    };
    c.bench_function("cel_object_level_condition", |b| {
        b.iter(|| {
            let facts = RequestFacts {
                method: "GET",
                path_params: vec![("user".into(), "alice".into())],
                url_path: "/users/alice/orders",
                query: None,
                headers: &headers,
                ip: "127.0.0.1".parse().unwrap(),
            };
            assert!(cond.evaluate(&facts, &principal).unwrap());
        })
    });
}

criterion_group!(benches, jwt, api_keys, condition);
criterion_main!(benches);
