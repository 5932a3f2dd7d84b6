//! JSON Web Key Sets: where a JWT provider's verification keys come from, each key pinned to the
//! algorithms it may verify.
//!
//! Remote sets (a `jwks_uri`, or one found by OIDC discovery) are fetched on first use, kept for
//! the server's `Cache-Control: max-age` (bounded), and refreshed when a token names an unknown
//! `kid`. Refreshes are single-flight and at most one per `min_refresh`, so a flood of tokens
//! with random `kid`s cannot turn the gateway against the identity provider. A failed refresh
//! keeps the previous keys.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{header, Request, StatusCode, Uri};
use http_body_util::Full;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::outbound::HttpClient;

/// Longest time a fetched set is trusted without asking again.
pub const MAX_CACHE_AGE: Duration = Duration::from_secs(24 * 3600);
/// Largest JWKS or discovery document accepted.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// A verification key and the algorithms it may verify.
pub struct PinnedKey {
    /// The key id, when the set gives one.
    pub kid: Option<String>,
    /// Algorithms this key verifies: the JWK's `alg`, or those its type allows among the
    /// configured ones.
    pub algorithms: Vec<Algorithm>,
    /// The key.
    pub key: DecodingKey,
}

/// One version of a key set.
pub struct KeySet {
    /// The keys.
    pub keys: Vec<PinnedKey>,
    fetched: Option<Instant>,
    max_age: Duration,
}

impl KeySet {
    fn empty() -> Self {
        Self {
            keys: Vec::new(),
            fetched: None,
            max_age: Duration::ZERO,
        }
    }

    /// The key for `kid`; a token without `kid` may use the only key of a one-key set.
    pub fn find(&self, kid: Option<&str>) -> Option<&PinnedKey> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }

    fn is_fresh(&self) -> bool {
        self.fetched.is_some_and(|t| t.elapsed() < self.max_age)
    }
}

/// Parses a JWKS document, pinning each usable key to algorithms among `allowed`. Keys that are
/// for encryption, malformed, or of a type no allowed algorithm verifies are skipped; a set with
/// no usable key is an error.
pub fn parse_key_set(document: &[u8], allowed: &[Algorithm]) -> Result<Vec<PinnedKey>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(document).map_err(|e| format!("JWKS is not JSON: {e}"))?;
    let Some(keys) = value.get("keys").and_then(|k| k.as_array()) else {
        return Err("JWKS has no \"keys\" array".into());
    };
    let mut out = Vec::new();
    for k in keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(k.clone()) else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let algorithms = pinned_algorithms(&jwk, allowed);
        if algorithms.is_empty() {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        out.push(PinnedKey {
            kid: jwk.common.key_id.clone(),
            algorithms,
            key,
        });
    }
    if out.is_empty() {
        return Err("JWKS has no key usable with the configured algorithms".into());
    }
    Ok(out)
}

/// The algorithms a key may verify: its declared `alg`, else what its type and curve allow;
/// always intersected with the configured ones. An RSA key never verifies HMAC.
fn pinned_algorithms(jwk: &Jwk, allowed: &[Algorithm]) -> Vec<Algorithm> {
    use Algorithm::*;
    let by_type: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![RS256, RS384, RS512, PS256, PS384, PS512],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![ES256],
            EllipticCurve::P384 => vec![ES384],
            _ => vec![],
        },
        AlgorithmParameters::OctetKeyPair(_) => vec![EdDSA],
        AlgorithmParameters::OctetKey(_) => vec![HS256, HS384, HS512],
    };
    let declared = jwk.common.key_algorithm.and_then(signing_algorithm);
    by_type
        .into_iter()
        .filter(|a| declared.is_none_or(|d| d == *a))
        .filter(|a| allowed.contains(a))
        .collect()
}

fn signing_algorithm(k: KeyAlgorithm) -> Option<Algorithm> {
    use Algorithm as A;
    Some(match k {
        KeyAlgorithm::HS256 => A::HS256,
        KeyAlgorithm::HS384 => A::HS384,
        KeyAlgorithm::HS512 => A::HS512,
        KeyAlgorithm::ES256 => A::ES256,
        KeyAlgorithm::ES384 => A::ES384,
        KeyAlgorithm::RS256 => A::RS256,
        KeyAlgorithm::RS384 => A::RS384,
        KeyAlgorithm::RS512 => A::RS512,
        KeyAlgorithm::PS256 => A::PS256,
        KeyAlgorithm::PS384 => A::PS384,
        KeyAlgorithm::PS512 => A::PS512,
        KeyAlgorithm::EdDSA => A::EdDSA,
        _ => return None,
    })
}

/// Where remote keys are found.
enum Location {
    /// A JWKS URL.
    Jwks(Uri),
    /// An issuer whose discovery document names the JWKS URL.
    Discovery {
        issuer: String,
        jwks: std::sync::Mutex<Option<Uri>>,
    },
}

/// A provider's keys: fixed (from a file) or fetched and refreshed.
pub struct Jwks {
    keys: ArcSwap<KeySet>,
    remote: Option<Remote>,
}

struct Remote {
    client: HttpClient,
    location: Location,
    allowed: Vec<Algorithm>,
    min_refresh: Duration,
    default_max_age: Duration,
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
}

/// How a remote set is found and cached.
pub struct RemoteOptions {
    /// HTTP client (CA, timeout, size cap).
    pub client: HttpClient,
    /// Algorithms keys may be pinned to.
    pub allowed: Vec<Algorithm>,
    /// Least time between two fetches.
    pub min_refresh: Duration,
    /// Cache lifetime when the server sends no `max-age`.
    pub default_max_age: Duration,
}

impl Jwks {
    /// Keys fixed at load (a JWKS file).
    pub fn fixed(keys: Vec<PinnedKey>) -> Self {
        Self {
            keys: ArcSwap::from_pointee(KeySet {
                keys,
                fetched: None,
                max_age: Duration::MAX,
            }),
            remote: None,
        }
    }

    /// Keys fetched from `jwks_uri`.
    pub fn from_uri(uri: Uri, options: RemoteOptions) -> Self {
        Self::remote(Location::Jwks(uri), options)
    }

    /// Keys found through the issuer's OIDC discovery document.
    pub fn from_discovery(issuer: String, options: RemoteOptions) -> Self {
        Self::remote(
            Location::Discovery {
                issuer,
                jwks: std::sync::Mutex::new(None),
            },
            options,
        )
    }

    fn remote(location: Location, o: RemoteOptions) -> Self {
        Self {
            keys: ArcSwap::from_pointee(KeySet::empty()),
            remote: Some(Remote {
                client: o.client,
                location,
                allowed: o.allowed,
                min_refresh: o.min_refresh,
                default_max_age: o.default_max_age,
                last_attempt: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The current set, refreshed first when it is stale or lacks `kid`.
    pub async fn keys_for(&self, kid: Option<&str>) -> Arc<KeySet> {
        let set = self.keys.load_full();
        let Some(remote) = &self.remote else {
            return set;
        };
        if set.is_fresh() && set.find(kid).is_some() {
            return set;
        }
        remote.refresh(&self.keys, set.fetched).await;
        self.keys.load_full()
    }
}

impl Remote {
    /// Fetches a new set unless another task just did or the last attempt was too recent.
    async fn refresh(&self, keys: &ArcSwap<KeySet>, seen: Option<Instant>) {
        let mut last = self.last_attempt.lock().await;
        if keys.load().fetched != seen {
            return; // another request refreshed while this one waited
        }
        if last.is_some_and(|t| t.elapsed() < self.min_refresh) {
            return;
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok(set) => {
                tracing::info!(
                    event = "jwks_refreshed",
                    keys = set.keys.len(),
                    "JWKS fetched"
                );
                keys.store(Arc::new(set));
            }
            Err(e) => tracing::warn!(
                event = "jwks_refresh_failed",
                "{e}; keeping the previous keys"
            ),
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let uri = self.jwks_uri().await?;
        let fetched = self.get(&uri).await?;
        let keys = parse_key_set(&fetched.body, &self.allowed)?;
        let max_age = cache_max_age(&fetched.headers)
            .unwrap_or(self.default_max_age)
            .clamp(self.min_refresh, MAX_CACHE_AGE);
        Ok(KeySet {
            keys,
            fetched: Some(Instant::now()),
            max_age,
        })
    }

    async fn jwks_uri(&self) -> Result<Uri, String> {
        match &self.location {
            Location::Jwks(uri) => Ok(uri.clone()),
            Location::Discovery { issuer, jwks } => {
                if let Some(uri) = jwks.lock().unwrap_or_else(|p| p.into_inner()).clone() {
                    return Ok(uri);
                }
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                let uri: Uri = url.parse().map_err(|e| format!("discovery URL: {e}"))?;
                let doc = self.get(&uri).await?;
                let doc: serde_json::Value = serde_json::from_slice(&doc.body)
                    .map_err(|e| format!("discovery document is not JSON: {e}"))?;
                if doc.get("issuer").and_then(|i| i.as_str()) != Some(issuer.as_str()) {
                    return Err("discovery document names another issuer".into());
                }
                let found: Uri = doc
                    .get("jwks_uri")
                    .and_then(|u| u.as_str())
                    .ok_or("discovery document has no jwks_uri")?
                    .parse()
                    .map_err(|e| format!("discovery jwks_uri: {e}"))?;
                *jwks.lock().unwrap_or_else(|p| p.into_inner()) = Some(found.clone());
                Ok(found)
            }
        }
    }

    async fn get(&self, uri: &Uri) -> Result<crate::outbound::Fetched, String> {
        let req = Request::get(uri.clone())
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let fetched = self.client.send(req).await.map_err(|e| e.to_string())?;
        if fetched.status != StatusCode::OK {
            return Err(format!("{uri} answered {}", fetched.status));
        }
        Ok(fetched)
    }
}

/// `max-age` from Cache-Control; `no-store`/`no-cache` count as zero.
fn cache_max_age(headers: &http::HeaderMap) -> Option<Duration> {
    let cc = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    let mut age = None;
    for directive in cc.split(',').map(str::trim) {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return Some(Duration::ZERO);
        }
        if let Some(v) = directive.strip_prefix("max-age=") {
            age = v
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_is_read() {
        let mut h = http::HeaderMap::new();
        assert_eq!(cache_max_age(&h), None);
        h.insert(
            header::CACHE_CONTROL,
            "public, max-age=600".parse().unwrap(),
        );
        assert_eq!(cache_max_age(&h), Some(Duration::from_secs(600)));
        h.insert(header::CACHE_CONTROL, "no-store".parse().unwrap());
        assert_eq!(cache_max_age(&h), Some(Duration::ZERO));
    }

    #[test]
    fn keys_are_pinned_by_type_and_declared_alg() {
        let doc = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kid": "ed"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "EC", "crv": "P-256", "use": "enc", "kid": "enc",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "alg": "RS256", "kid": "rsa"},
            {"kty": "nonsense"}
        ]});
        let keys = parse_key_set(
            doc.to_string().as_bytes(),
            &[Algorithm::EdDSA, Algorithm::RS256, Algorithm::PS256],
        )
        .unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid.clone().unwrap()).collect();
        assert_eq!(kids, ["ed", "rsa"], "HMAC not allowed, enc key skipped");
        assert_eq!(
            keys[1].algorithms,
            [Algorithm::RS256],
            "declared alg pins RSA key"
        );
        assert!(parse_key_set(b"{}", &[Algorithm::EdDSA]).is_err());
        assert!(parse_key_set(b"not json", &[Algorithm::EdDSA]).is_err());
    }
}
