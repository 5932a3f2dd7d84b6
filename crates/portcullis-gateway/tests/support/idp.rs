//! A real identity provider for tests, on loopback: OIDC discovery, a JWKS whose keys the test
//! rotates, an RFC 7662 introspection endpoint, and signing keys of each kind (RSA, P-256,
//! Ed25519) to mint tokens, good and hostile.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

pub const AUDIENCE: &str = "portcullis-test";
pub const CLIENT_ID: &str = "gateway";
pub const CLIENT_SECRET: &str = "introspection-secret-0123";

#[derive(Default)]
struct IdpState {
    issuer: String,
    keys: Mutex<Vec<Value>>,
    jwks_fetches: AtomicUsize,
    opaque: Mutex<HashMap<String, Value>>,
    failing: std::sync::atomic::AtomicBool,
    introspections: AtomicUsize,
}

/// A running identity provider.
pub struct Idp {
    pub addr: SocketAddr,
    state: Arc<IdpState>,
}

impl Idp {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(IdpState {
            issuer: format!("http://{addr}"),
            ..IdpState::default()
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks.json", get(jwks))
            .route("/introspect", post(introspect))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state }
    }

    pub fn issuer(&self) -> String {
        self.state.issuer.clone()
    }

    /// Replaces the published keys.
    pub fn publish(&self, signers: &[&Signer]) {
        *self.state.keys.lock().unwrap() = signers.iter().map(|s| s.jwk.clone()).collect();
    }

    /// Makes the JWKS endpoint answer 503 (an identity provider outage).
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn introspections(&self) -> usize {
        self.state.introspections.load(Ordering::SeqCst)
    }

    /// Registers an opaque token and what introspection says about it.
    pub fn opaque_token(&self, token: &str, answer: Value) {
        self.state
            .opaque
            .lock()
            .unwrap()
            .insert(token.into(), answer);
    }

    /// Standard claims for `sub`, valid for an hour.
    pub fn claims(&self, sub: &str) -> Value {
        let now = now();
        json!({"iss": self.issuer(), "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 3600})
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn discovery(State(s): State<Arc<IdpState>>) -> impl IntoResponse {
    Json(json!({"issuer": s.issuer, "jwks_uri": format!("{}/jwks.json", s.issuer)}))
}

async fn jwks(State(s): State<Arc<IdpState>>) -> axum::response::Response {
    s.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if s.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = s.keys.lock().unwrap().clone();
    (
        [(header::CACHE_CONTROL, "max-age=300")],
        Json(json!({"keys": keys})),
    )
        .into_response()
}

async fn introspect(
    State(s): State<Arc<IdpState>>,
    headers: HeaderMap,
    body: String,
) -> impl IntoResponse {
    s.introspections.fetch_add(1, Ordering::SeqCst);
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        );
    }
    let token = body
        .split('&')
        .find_map(|p| p.strip_prefix("token="))
        .unwrap_or_default()
        .to_owned();
    let answer = s
        .opaque
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or(json!({"active": false}));
    (StatusCode::OK, Json(answer))
}

/// A signing key with its public JWK.
pub struct Signer {
    pub kid: String,
    pub alg: Algorithm,
    key: EncodingKey,
    pub jwk: Value,
    /// PEM of the public key (what an algorithm-confusion attacker uses as an HMAC secret).
    pub public_pem: String,
}

impl Signer {
    pub fn rsa(kid: &str) -> Self {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = pair.as_der().unwrap();
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let spki = public.as_der().unwrap();
        Self {
            kid: kid.into(),
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_der(&pkcs1_from_pkcs8(pkcs8.as_ref())),
            jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "n": n, "e": e}),
            public_pem: pem("PUBLIC KEY", spki.as_ref()),
        }
    }

    pub fn ec(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        Self {
            kid: kid.into(),
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}),
            public_pem: String::new(),
        }
    }

    pub fn ed(kid: &str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        Self {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())}),
            public_pem: String::new(),
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

/// A token signed with HS256 using `secret`, naming `kid`.
pub fn hs256(kid: &str, secret: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// An unsigned `alg: none` token.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `token` with its payload replaced (signature kept).
pub fn tampered(token: &str, claims: &Value) -> String {
    let mut parts = token.split('.');
    let header = parts.next().unwrap();
    parts.next();
    let sig = parts.next().unwrap();
    format!(
        "{header}.{}.{sig}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The PKCS#1 RSAPrivateKey inside a PKCS#8 PrivateKeyInfo
/// (SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING key }).
fn pkcs1_from_pkcs8(der: &[u8]) -> Vec<u8> {
    fn tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = input[0];
        let (len, head) = if input[1] < 0x80 {
            (usize::from(input[1]), 2)
        } else {
            let n = usize::from(input[1] & 0x7f);
            let len = input[2..2 + n]
                .iter()
                .fold(0usize, |a, b| (a << 8) | usize::from(*b));
            (len, 2 + n)
        };
        (tag, &input[head..head + len], &input[head + len..])
    }
    let (_, body, _) = tlv(der);
    let (_, _, rest) = tlv(body); // version
    let (_, _, rest) = tlv(rest); // algorithm
    let (tag, key, _) = tlv(rest);
    assert_eq!(tag, 0x04, "PKCS#8 key is an OCTET STRING");
    key.to_vec()
}
