//! OAuth 2.0 / OIDC access tokens as JWTs.
//!
//! The verification key comes from the provider's key set by `kid`, and the algorithm from that
//! key, never from the token: a token whose header names another algorithm (`none`, HMAC with an
//! RSA public key as secret, ...) is refused. Headers that carry their own key material (`jku`,
//! `x5u`, `jwk`) are refused outright. Issuer, audience, expiry and not-before are always
//! checked. A verified token is cached by its hash until it expires.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header, Algorithm, Validation};

use super::jwks::Jwks;
use super::token_cache::{self, TokenCache};
use super::{Failure, Principal};

/// Longest token accepted (bytes); anything longer is refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Claims JWT libraries validate themselves; others are checked for presence here.
const SPEC_CLAIMS: [&str; 5] = ["exp", "nbf", "aud", "iss", "sub"];

/// Verifies JWT access tokens for one provider.
pub struct JwtProvider {
    /// Provider name.
    pub name: Arc<str>,
    /// Expected `iss`.
    pub issuer: String,
    /// Accepted `aud` values (one must match).
    pub audiences: Vec<String>,
    /// Algorithms tokens may use.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Claims that must be present.
    pub required_claims: Vec<String>,
    /// Claim holding roles.
    pub roles_claim: String,
    /// Claim holding scopes.
    pub scopes_claim: String,
    /// Cookie that may carry the token (besides `Authorization: Bearer`).
    pub cookie: Option<String>,
    /// Key set.
    pub jwks: Jwks,
    /// Verified tokens.
    pub cache: TokenCache<Arc<Principal>>,
}

impl JwtProvider {
    /// Verifies `token` and returns its principal.
    pub async fn verify(&self, token: &str) -> Result<Arc<Principal>, Failure> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Failure::invalid("token_too_large"));
        }
        let hash = token_cache::hash(token.as_bytes());
        if let Some(p) = self.cache.get(&hash) {
            return Ok(p);
        }
        let header = decode_header(token).map_err(|e| Failure::invalid(decode_reason(e.kind())))?;
        if header.jku.is_some() || header.x5u.is_some() || header.jwk.is_some() {
            return Err(Failure::invalid("key_in_header"));
        }
        if !self.algorithms.contains(&header.alg) {
            return Err(Failure::invalid("algorithm_not_allowed"));
        }
        let keys = self.jwks.keys_for(header.kid.as_deref()).await;
        let key = keys
            .find(header.kid.as_deref())
            .ok_or(Failure::invalid("unknown_key"))?;
        if !key.algorithms.contains(&header.alg) {
            return Err(Failure::invalid("algorithm_mismatch"));
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        let mut spec: Vec<&str> = vec!["exp", "iss", "aud"];
        spec.extend(
            self.required_claims
                .iter()
                .map(String::as_str)
                .filter(|c| SPEC_CLAIMS.contains(c)),
        );
        validation.set_required_spec_claims(&spec);
        let data =
            decode::<serde_json::Map<String, serde_json::Value>>(token, &key.key, &validation)
                .map_err(|e| Failure::invalid(decode_reason(e.kind())))?;
        let claims = data.claims;
        if let Some(missing) = self
            .required_claims
            .iter()
            .find(|c| !claims.contains_key(c.as_str()))
        {
            tracing::debug!(claim = %missing, "token lacks a required claim");
            return Err(Failure::invalid("missing_claim"));
        }
        let principal = Arc::new(self.principal(claims));
        let exp = principal
            .claims
            .get("exp")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        self.cache.insert(hash, principal.clone(), remaining(exp));
        Ok(principal)
    }

    fn principal(&self, claims: serde_json::Map<String, serde_json::Value>) -> Principal {
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        Principal {
            id: text("sub").unwrap_or_default(),
            provider: self.name.clone(),
            roles: Principal::strings_claim(&claims, &self.roles_claim),
            scopes: Principal::strings_claim(&claims, &self.scopes_claim),
            amr: Principal::strings_claim(&claims, "amr"),
            acr: text("acr"),
            cert: None,
            claims,
            header_values: Default::default(),
        }
    }
}

/// The `iss` of a JWT, read without verifying anything: only used to pick which provider
/// verifies it.
pub fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine;
    #[derive(serde::Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    let payload = token.split('.').nth(1)?;
    if payload.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok()?.iss
}

/// Time left until the Unix time `exp` (zero when past).
pub fn remaining(exp: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Duration::from_secs(exp.saturating_sub(now))
}

/// A stable reason code for each way a token can fail.
fn decode_reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "not_yet_valid",
        ErrorKind::InvalidIssuer => "wrong_issuer",
        ErrorKind::InvalidAudience => "wrong_audience",
        ErrorKind::InvalidSignature => "bad_signature",
        ErrorKind::MissingRequiredClaim(_) => "missing_claim",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "algorithm_not_allowed",
        _ => "malformed",
    }
}
