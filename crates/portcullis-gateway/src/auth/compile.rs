//! Compiles an API's `auth` block into [`ApiAuth`]: providers built and checked (keys parsed,
//! hashes validated, secrets resolved), errors reported at their config keys.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use http::header::HeaderName;
use jsonwebtoken::Algorithm;

use super::api_key::{ApiKeyProvider, KeyEntry};
use super::basic::BasicProvider;
use super::introspection::IntrospectionProvider;
use super::jwks::{parse_key_set, Jwks, RemoteOptions};
use super::jwt::JwtProvider;
use super::mtls::{CertIdentity, MtlsProvider};
use super::token_cache::TokenCache;
use super::{ApiAuth, IdentityHeaders, Provider};
use crate::config::model::{AuthConfig, CertIdentityField, ProviderConfig};
use crate::config::Finding;
use crate::outbound::HttpClient;
use crate::services::Services;
use crate::state::key_store::{unix_now, KeyRecord};
use crate::state::lockout::LockoutPolicy;

/// Largest introspection answer accepted.
const MAX_INTROSPECTION_BYTES: usize = 64 * 1024;

/// Builds the authentication of API `api` (config key prefix `at`).
pub fn compile(
    api: &str,
    cfg: &AuthConfig,
    at: &str,
    base_dir: &Path,
    services: &Services,
) -> Result<Arc<ApiAuth>, Vec<Finding>> {
    let mut errors = Vec::new();
    if cfg.providers.is_empty() {
        errors.push(Finding::error(
            format!("{at}.providers"),
            "an auth block needs at least one provider",
        ));
    }
    let mut providers = Vec::new();
    for (name, pc) in &cfg.providers {
        let pat = format!("{at}.providers.{name}");
        match provider(api, name, pc, &pat, base_dir, services) {
            Ok(p) => providers.push(p),
            Err((key, m)) => errors.push(Finding::error(key, m)),
        }
    }
    providers.sort_by_key(|p| (p.priority(), p.name().clone()));
    let mut header = |key: &str, value: &str| -> Option<HeaderName> {
        if value.is_empty() {
            return None;
        }
        HeaderName::from_str(value)
            .map_err(|_| {
                errors.push(Finding::error(
                    format!("{at}.identity_headers.{key}"),
                    format!("{value:?} is not a valid header name"),
                ))
            })
            .ok()
    };
    let ih = &cfg.identity_headers;
    let identity_headers = IdentityHeaders {
        subject: header("subject", &ih.subject),
        provider: header("provider", &ih.provider),
        roles: header("roles", &ih.roles),
        scopes: header("scopes", &ih.scopes),
    };
    let l = &cfg.lockout;
    if l.max_failures == 0 {
        errors.push(Finding::error(
            format!("{at}.lockout.max_failures"),
            "max_failures must be at least 1",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Arc::new(ApiAuth {
        api: Arc::from(api),
        providers,
        identity_headers,
        forward_token: cfg.forward_token,
        lockout: LockoutPolicy {
            max_failures: l.max_failures,
            window: l.window.0,
            lockout: l.lockout.0,
            max_lockout: l.max_lockout.0.max(l.lockout.0),
        },
        mfa_factors: cfg.mfa_factors.clone(),
    }))
}

type BuildError = (String, String);

fn provider(
    api: &str,
    name: &str,
    pc: &ProviderConfig,
    at: &str,
    base_dir: &Path,
    services: &Services,
) -> Result<Provider, BuildError> {
    let name_arc: Arc<str> = Arc::from(name);
    let err = |key: &str, m: String| (format!("{at}.{key}"), m);
    Ok(match pc {
        ProviderConfig::Jwt(c) => {
            let mut algorithms = Vec::new();
            for a in &c.algorithms {
                let alg = Algorithm::from_str(a)
                    .map_err(|_| err("jwt.algorithms", format!("unknown algorithm {a:?}")))?;
                algorithms.push(alg);
            }
            if algorithms.is_empty() {
                return Err(err("jwt.algorithms", "list at least one algorithm".into()));
            }
            if c.audiences.is_empty() {
                return Err(err(
                    "jwt.audiences",
                    "list the accepted audiences: a token minted for another API must not pass"
                        .into(),
                ));
            }
            if c.issuer.is_empty() {
                return Err(err("jwt.issuer", "issuer must not be empty".into()));
            }
            let sources = usize::from(c.discovery)
                + usize::from(c.jwks_uri.is_some())
                + usize::from(c.jwks_file.is_some());
            if sources != 1 {
                return Err(err(
                    "jwt",
                    "set exactly one key source: discovery: true, jwks_uri or jwks_file".into(),
                ));
            }
            let client = || {
                HttpClient::new(
                    c.ca.as_ref().map(|p| base_dir.join(p)),
                    c.timeout.0,
                    super::jwks::MAX_DOCUMENT_BYTES,
                )
                .map_err(|m| err("jwt.ca", m))
            };
            let options = |client| RemoteOptions {
                client,
                allowed: algorithms.clone(),
                min_refresh: c.jwks_min_refresh.0,
                default_max_age: c.jwks_max_age.0,
            };
            let jwks = if let Some(file) = &c.jwks_file {
                let path = base_dir.join(file);
                let doc = std::fs::read(&path).map_err(|e| {
                    err(
                        "jwt.jwks_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                Jwks::fixed(parse_key_set(&doc, &algorithms).map_err(|m| err("jwt.jwks_file", m))?)
            } else if let Some(uri) = &c.jwks_uri {
                let uri = parse_url(uri).map_err(|m| err("jwt.jwks_uri", m))?;
                Jwks::from_uri(uri, options(client()?))
            } else {
                parse_url(&c.issuer).map_err(|m| {
                    err(
                        "jwt.issuer",
                        format!("discovery needs an http(s) issuer: {m}"),
                    )
                })?;
                Jwks::from_discovery(c.issuer.clone(), options(client()?))
            };
            Provider::Jwt(Box::new(JwtProvider {
                name: name_arc,
                issuer: c.issuer.clone(),
                audiences: c.audiences.clone(),
                algorithms,
                leeway: c.leeway.0,
                required_claims: c.required_claims.clone(),
                roles_claim: c.roles_claim.clone(),
                scopes_claim: c.scopes_claim.clone(),
                cookie: c.cookie.clone(),
                jwks,
                cache: TokenCache::new(c.cache_entries),
            }))
        }
        ProviderConfig::Introspection(c) => {
            let url = parse_url(&c.url).map_err(|m| err("introspection.url", m))?;
            let client_secret = c
                .client_secret
                .resolve(base_dir)
                .map_err(|e| err("introspection.client_secret", e.to_string()))?;
            Provider::Introspection(IntrospectionProvider {
                name: name_arc,
                url,
                client_id: c.client_id.clone(),
                client_secret,
                client: HttpClient::new(
                    c.ca.as_ref().map(|p| base_dir.join(p)),
                    c.timeout.0,
                    MAX_INTROSPECTION_BYTES,
                )
                .map_err(|m| err("introspection.ca", m))?,
                cache_ttl: c.cache_ttl.0,
                roles_claim: c.roles_claim.clone(),
                cache: TokenCache::new(c.cache_entries),
            })
        }
        ProviderConfig::ApiKey(c) => {
            let header = HeaderName::from_str(&c.header).map_err(|_| {
                err(
                    "api_key.header",
                    format!("{:?} is not a valid header name", c.header),
                )
            })?;
            let pepper = c
                .pepper
                .resolve(base_dir)
                .map_err(|e| err("api_key.pepper", e.to_string()))?;
            if pepper.secret_str().len() < 16 {
                return Err(err(
                    "api_key.pepper",
                    "the pepper must be at least 16 characters of secret".into(),
                ));
            }
            let namespace = format!("{api}/{name}");
            let mut declared = HashMap::new();
            for (i, k) in c.keys.iter().enumerate() {
                let kat = format!("api_key.keys.{i}");
                let valid_prefix = k.prefix.len() == super::api_key::PREFIX_LEN
                    && k.prefix
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                if !valid_prefix {
                    return Err(err(
                        &format!("{kat}.prefix"),
                        "not a key prefix (12 characters a-z0-9)".into(),
                    ));
                }
                if k.hash.len() != 64 || !k.hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(err(
                        &format!("{kat}.hash"),
                        "not an HMAC-SHA256 hex digest (64 hex characters)".into(),
                    ));
                }
                let expires = match &k.expires {
                    Some(t) => Some(
                        humantime::parse_rfc3339_weak(t)
                            .map_err(|_| {
                                err(
                                    &format!("{kat}.expires"),
                                    format!("{t:?} is not an RFC 3339 time"),
                                )
                            })?
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs()),
                    ),
                    None => None,
                };
                let record = KeyRecord {
                    prefix: k.prefix.clone(),
                    namespace: namespace.clone(),
                    hash: k.hash.to_ascii_lowercase(),
                    owner: k.owner.clone(),
                    scopes: k.scopes.clone(),
                    roles: k.roles.clone(),
                    created: unix_now(),
                    expires,
                    revoked: false,
                    last_used: None,
                    rotated_to: None,
                };
                if declared
                    .insert(
                        k.prefix.clone(),
                        Arc::new(KeyEntry::new(record, name_arc.clone())),
                    )
                    .is_some()
                {
                    return Err(err(
                        &format!("{kat}.prefix"),
                        "prefix declared twice".into(),
                    ));
                }
            }
            let store = match (c.store, &services.key_store) {
                (false, _) => None,
                (true, Some(s)) => Some((s.clone(), namespace)),
                (true, None) if services.serving => {
                    return Err(err(
                        "api_key.store",
                        "store: true needs the state store: set state.path".into(),
                    ))
                }
                (true, None) => None,
            };
            Provider::ApiKey(ApiKeyProvider {
                name: name_arc,
                header,
                query_param: c.query_param.clone(),
                pepper: super::api_key::Pepper::new(pepper.secret_str().as_bytes()),
                declared,
                store,
            })
        }
        ProviderConfig::Basic(c) => {
            let users = c
                .users
                .iter()
                .map(|(u, cfg)| {
                    (
                        u.clone(),
                        cfg.hash.clone(),
                        cfg.roles.clone(),
                        cfg.scopes.clone(),
                    )
                })
                .collect();
            Provider::Basic(
                BasicProvider::new(
                    name_arc,
                    c.realm.clone().unwrap_or_else(|| api.to_owned()),
                    users,
                )
                .map_err(|m| err("basic.users", m))?,
            )
        }
        ProviderConfig::Mtls(c) => Provider::Mtls(MtlsProvider {
            name: name_arc,
            identity: match c.identity {
                CertIdentityField::Dns => CertIdentity::Dns,
                CertIdentityField::Uri => CertIdentity::Uri,
                _ => CertIdentity::CommonName,
            },
            roles: c.roles.clone(),
        }),
    })
}

fn parse_url(text: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = text.parse().map_err(|_| format!("{text:?} is not a URL"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err(format!("{text:?} must be an absolute http(s) URL")),
    }
}
