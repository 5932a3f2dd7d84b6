//! Authentication: the identity providers of an API and how a request's credential becomes a
//! [`Principal`].
//!
//! Each provider knows where its credential travels ([`Provider::presented`]) and how to verify
//! it. A request is authenticated by the first allowed provider whose credential it carries
//! (providers are ordered JWT, API key, Basic, introspection, mTLS); a credential that is
//! presented but invalid is a 401 and never falls through to another provider or to anonymous
//! access.

pub mod api_key;
pub mod basic;
pub mod compile;
pub mod introspection;
pub mod jwks;
pub mod jwt;
pub mod mtls;
pub mod principal;
pub mod token_cache;

use std::sync::Arc;

use base64::Engine;
use http::header::{self, HeaderName};
use http::request::Parts;

pub use mtls::ClientCert;
pub use principal::Principal;

use crate::state::lockout::LockoutPolicy;

/// Why a credential was refused: a stable reason code for events, and whether it counts as a
/// failed attempt for brute-force protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Reason code (`expired`, `bad_signature`, `revoked`, ...).
    pub reason: &'static str,
    /// False when the gateway could not decide (identity provider down): not the client's fault.
    pub counts: bool,
}

impl Failure {
    /// The credential is invalid.
    pub fn invalid(reason: &'static str) -> Self {
        Self {
            reason,
            counts: true,
        }
    }

    /// The provider could not be asked; the request is refused (fail closed).
    pub fn unavailable() -> Self {
        Self {
            reason: "provider_unavailable",
            counts: false,
        }
    }
}

/// One identity provider.
#[non_exhaustive]
pub enum Provider {
    /// JWT access tokens.
    Jwt(Box<jwt::JwtProvider>),
    /// API keys.
    ApiKey(api_key::ApiKeyProvider),
    /// HTTP Basic.
    Basic(basic::BasicProvider),
    /// Opaque tokens via RFC 7662.
    Introspection(introspection::IntrospectionProvider),
    /// Client certificates.
    Mtls(mtls::MtlsProvider),
}

/// A credential found in a request.
pub enum Presented<'r> {
    /// A bearer token (header or cookie).
    Bearer(&'r str),
    /// An API key.
    ApiKey(String),
    /// Basic user and password.
    Basic(String, String),
    /// The connection's verified client certificate.
    Cert(&'r Arc<ClientCert>),
}

impl Provider {
    /// The provider's configured name.
    pub fn name(&self) -> &Arc<str> {
        match self {
            Self::Jwt(p) => &p.name,
            Self::ApiKey(p) => &p.name,
            Self::Basic(p) => &p.name,
            Self::Introspection(p) => &p.name,
            Self::Mtls(p) => &p.name,
        }
    }

    /// Order in which providers look at a request: explicit credentials before the connection's
    /// certificate, self-contained tokens before introspection.
    pub fn priority(&self) -> u8 {
        match self {
            Self::Jwt(_) => 0,
            Self::ApiKey(_) => 1,
            Self::Basic(_) => 2,
            Self::Introspection(_) => 3,
            Self::Mtls(_) => 4,
        }
    }

    /// The credential this provider would verify, if the request carries one. With several
    /// JWT providers on a route (`by_issuer`), a JWT goes to the provider of its (unverified)
    /// `iss`, as in Envoy's `jwt_authn`; otherwise to the only one.
    pub fn presented<'r>(
        &self,
        parts: &'r Parts,
        cert: Option<&'r Arc<ClientCert>>,
        by_issuer: bool,
    ) -> Option<Presented<'r>> {
        match self {
            Self::Jwt(p) => bearer(parts)
                .filter(|t| memchr::memchr_iter(b'.', t.as_bytes()).take(3).count() == 2)
                .or_else(|| p.cookie.as_deref().and_then(|c| cookie(parts, c)))
                .filter(|t| {
                    !by_issuer || jwt::unverified_issuer(t).as_deref() == Some(p.issuer.as_str())
                })
                .map(Presented::Bearer),
            Self::Introspection(_) => bearer(parts).map(Presented::Bearer),
            Self::ApiKey(p) => {
                if let Some(v) = parts.headers.get(&p.header) {
                    return Some(Presented::ApiKey(
                        String::from_utf8_lossy(v.as_bytes()).trim().to_owned(),
                    ));
                }
                let name = p.query_param.as_deref()?;
                query_value(parts.uri.query()?, name).map(Presented::ApiKey)
            }
            Self::Basic(_) => basic(parts).map(|(u, pw)| Presented::Basic(u, pw)),
            Self::Mtls(_) => cert.map(Presented::Cert),
        }
    }

    /// The identity a credential claims before it is verified (for lockout), e.g. a key prefix.
    pub fn claimed_identity(&self, presented: &Presented<'_>) -> Option<String> {
        let claimed = match presented {
            Presented::ApiKey(k) => format!("key:{}", api_key::prefix_of(k)?),
            Presented::Basic(user, _) => {
                format!("user:{}", user.chars().take(128).collect::<String>())
            }
            _ => return None,
        };
        Some(format!("{}/{claimed}", self.name()))
    }

    /// Verifies without waiting, when possible (cache hits, API keys, certificates).
    pub fn verify_now(&self, presented: &Presented<'_>) -> Option<Result<Arc<Principal>, Failure>> {
        match (self, presented) {
            (Self::Jwt(p), Presented::Bearer(t)) => {
                p.cache.get(&token_cache::hash(t.as_bytes())).map(Ok)
            }
            (Self::Introspection(p), Presented::Bearer(t)) => {
                p.cache.get(&token_cache::hash(t.as_bytes())).map(Ok)
            }
            (Self::ApiKey(p), Presented::ApiKey(k)) => Some(p.verify(k)),
            (Self::Mtls(p), Presented::Cert(c)) => Some(
                p.principal(c)
                    .ok_or(Failure::invalid("certificate_without_identity")),
            ),
            _ => None,
        }
    }

    /// Verifies `presented`, calling out (JWKS, introspection, argon2) when needed.
    pub async fn verify(&self, presented: &Presented<'_>) -> Result<Arc<Principal>, Failure> {
        if let Some(done) = self.verify_now(presented) {
            return done;
        }
        match (self, presented) {
            (Self::Jwt(p), Presented::Bearer(t)) => p.verify(t).await,
            (Self::Introspection(p), Presented::Bearer(t)) => p.verify(t).await,
            (Self::Basic(p), Presented::Basic(u, pw)) => p.verify(u, pw).await,
            _ => Err(Failure::invalid("wrong_credential_type")),
        }
    }

    /// The `WWW-Authenticate` challenge of this provider; `error` is an RFC 6750 code.
    pub fn challenge(&self, realm: &str, error: Option<&str>) -> String {
        let realm = realm.replace(['"', '\\'], "");
        let mut c = match self {
            Self::Basic(b) => {
                return format!(
                    "Basic realm=\"{}\", charset=\"UTF-8\"",
                    b.realm.replace(['"', '\\'], "")
                )
            }
            Self::ApiKey(k) => format!("ApiKey realm=\"{realm}\", header=\"{}\"", k.header),
            Self::Mtls(_) => format!("Mutual realm=\"{realm}\""),
            Self::Jwt(_) | Self::Introspection(_) => format!("Bearer realm=\"{realm}\""),
        };
        if let (Some(e), Self::Jwt(_) | Self::Introspection(_)) = (error, self) {
            c.push_str(&format!(", error=\"{e}\""));
        }
        c
    }

    /// Headers that carry this provider's credential (removed before proxying unless the API
    /// forwards tokens).
    pub fn credential_header(&self) -> Option<&HeaderName> {
        match self {
            Self::Jwt(_) | Self::Introspection(_) | Self::Basic(_) => Some(&header::AUTHORIZATION),
            Self::ApiKey(p) => Some(&p.header),
            Self::Mtls(_) => None,
        }
    }
}

/// The identity headers sent upstream; client-sent headers with these names are removed.
#[derive(Debug, Clone, Default)]
pub struct IdentityHeaders {
    /// Principal id.
    pub subject: Option<HeaderName>,
    /// Provider name.
    pub provider: Option<HeaderName>,
    /// Roles, comma-separated.
    pub roles: Option<HeaderName>,
    /// Scopes, space-separated.
    pub scopes: Option<HeaderName>,
}

impl IdentityHeaders {
    /// Every configured name.
    pub fn names(&self) -> impl Iterator<Item = &HeaderName> {
        [&self.subject, &self.provider, &self.roles, &self.scopes]
            .into_iter()
            .flatten()
    }
}

/// An API's compiled authentication.
pub struct ApiAuth {
    /// API name (the realm).
    pub api: Arc<str>,
    /// Providers, in [`Provider::priority`] order.
    pub providers: Vec<Provider>,
    /// Identity headers.
    pub identity_headers: IdentityHeaders,
    /// Send the client's credential upstream too.
    pub forward_token: bool,
    /// Brute-force policy.
    pub lockout: LockoutPolicy,
    /// `amr` values that count as multi-factor.
    pub mfa_factors: Vec<String>,
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn basic(parts: &Parts) -> Option<(String, String)> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn cookie<'r>(parts: &'r Parts, name: &str) -> Option<&'r str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The first value of query parameter `name`, percent-decoded.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| percent_decode(k).as_deref() == Some(name))
        .and_then(|(_, v)| percent_decode(v))
}

/// Decodes `%XX` and `+`; `None` on malformed escapes or non-UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(headers: &[(&str, &str)], uri: &str) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn credentials_are_found_where_they_travel() {
        let p = parts(&[("authorization", "bearer  abc.def.ghi ")], "/");
        assert_eq!(bearer(&p), Some("abc.def.ghi"));
        let p = parts(&[("authorization", "Basic YWxpY2U6cHc6eA==")], "/");
        assert_eq!(basic(&p), Some(("alice".into(), "pw:x".into())));
        let p = parts(
            &[("cookie", "a=1; session=tok.en.x"), ("cookie", "b=2")],
            "/",
        );
        assert_eq!(cookie(&p, "session"), Some("tok.en.x"));
        assert_eq!(cookie(&p, "b"), Some("2"));
        assert_eq!(
            query_value("a=1&api%5Fkey=k%2B1+2&x", "api_key").as_deref(),
            Some("k+1 2")
        );
        assert_eq!(query_value("key=%zz", "key"), None);
        assert_eq!(bearer(&parts(&[("authorization", "Bearer ")], "/")), None);
    }
}
