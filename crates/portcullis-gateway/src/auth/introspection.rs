//! Opaque access tokens checked with the authorization server (RFC 7662 token introspection).
//! The gateway authenticates to the server with client credentials from secret references;
//! answers are cached by token hash for at most the token's remaining lifetime.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::{header, Request, StatusCode, Uri};
use http_body_util::Full;

use super::jwt::remaining;
use super::token_cache::{self, TokenCache};
use super::{Failure, Principal};
use crate::config::Secret;
use crate::outbound::HttpClient;

/// Checks opaque tokens with an introspection endpoint.
pub struct IntrospectionProvider {
    /// Provider name.
    pub name: Arc<str>,
    /// Introspection endpoint.
    pub url: Uri,
    /// Client id used to authenticate to the endpoint.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// HTTP client (timeout, CA).
    pub client: HttpClient,
    /// Longest time a result is cached.
    pub cache_ttl: Duration,
    /// Claim holding roles.
    pub roles_claim: String,
    /// Active tokens.
    pub cache: TokenCache<Arc<Principal>>,
}

impl IntrospectionProvider {
    /// Asks the endpoint about `token` (or answers from the cache).
    pub async fn verify(&self, token: &str) -> Result<Arc<Principal>, Failure> {
        if token.len() > super::jwt::MAX_TOKEN_BYTES {
            return Err(Failure::invalid("token_too_large"));
        }
        let key = token_cache::hash(token.as_bytes());
        if let Some(p) = self.cache.get(&key) {
            return Ok(p);
        }
        let form = format!("token={}&token_type_hint=access_token", form_encode(token));
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            form_encode(&self.client_id),
            form_encode(self.client_secret.secret_str())
        ));
        let req = Request::post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, format!("Basic {credentials}"))
            .body(Full::new(Bytes::from(form)))
            .map_err(|_| Failure::unavailable())?;
        let answer = self.client.send(req).await.map_err(|e| {
            tracing::warn!(event = "introspection_failed", provider = %self.name, "{e}");
            Failure::unavailable()
        })?;
        if answer.status != StatusCode::OK {
            tracing::warn!(event = "introspection_failed", provider = %self.name, status = %answer.status, "introspection endpoint refused the gateway");
            return Err(Failure::unavailable());
        }
        let claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&answer.body).map_err(|_| Failure::unavailable())?;
        if claims.get("active").and_then(serde_json::Value::as_bool) != Some(true) {
            return Err(Failure::invalid("inactive"));
        }
        let exp = claims.get("exp").and_then(serde_json::Value::as_u64);
        let ttl = exp.map_or(self.cache_ttl, |e| remaining(e).min(self.cache_ttl));
        if exp.is_some() && ttl.is_zero() {
            return Err(Failure::invalid("expired"));
        }
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let principal = Arc::new(Principal {
            id: text("sub")
                .or_else(|| text("username"))
                .or_else(|| text("client_id"))
                .unwrap_or_default(),
            provider: self.name.clone(),
            roles: Principal::strings_claim(&claims, &self.roles_claim),
            scopes: Principal::strings_claim(&claims, "scope"),
            amr: Principal::strings_claim(&claims, "amr"),
            acr: text("acr"),
            cert: None,
            claims,
            header_values: Default::default(),
        });
        self.cache.insert(key, principal.clone(), ttl);
        Ok(principal)
    }
}

/// `application/x-www-form-urlencoded` encoding of a value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
