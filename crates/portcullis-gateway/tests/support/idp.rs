//! A real identity provider for tests, on loopback: OIDC discovery, a JWKS whose keys the test
//! rotates and an RFC 7662 introspection endpoint. Signing keys come from
//! `portcullis_demo::signers`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

#[allow(unused_imports)]
pub use portcullis_demo::signers::{hs256, tampered, unsigned, Signer};

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
