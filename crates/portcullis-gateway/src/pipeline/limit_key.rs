//! What rate limits and quotas count by: the client IP, the principal, the API key, the route,
//! a header, or a combination, turned into one counter key per request.

use std::fmt::Write as _;

use http::header::HeaderName;

use super::Exchange;

/// One part of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// Client IP (after trusted proxies).
    Ip,
    /// Principal id; the client IP when anonymous.
    Principal,
    /// API key prefix; the client IP otherwise.
    ApiKey,
    /// The route name.
    Route,
    /// A header's value (first 256 bytes; `-` when absent).
    Header(HeaderName),
}

/// Parses a configured key (`ip`, `principal`, `api_key`, `route`, `header:NAME`).
pub fn parse_key(parts: &[String]) -> Result<Vec<KeyPart>, String> {
    if parts.is_empty() {
        return Err(
            "key: list what is counted (ip, principal, api_key, route, header:NAME)".into(),
        );
    }
    parts
        .iter()
        .map(|p| match p.as_str() {
            "ip" => Ok(KeyPart::Ip),
            "principal" => Ok(KeyPart::Principal),
            "api_key" => Ok(KeyPart::ApiKey),
            "route" => Ok(KeyPart::Route),
            other => match other.strip_prefix("header:") {
                Some(h) => HeaderName::from_bytes(h.trim().as_bytes())
                    .map(KeyPart::Header)
                    .map_err(|_| format!("key: {h:?} is not a header name")),
                None => Err(format!(
                    "key: unknown part {other:?} (ip, principal, api_key, route, header:NAME)"
                )),
            },
        })
        .collect()
}

/// The counter key of a request: `counter|part|part...`.
pub fn build(counter: &str, parts: &[KeyPart], route: &str, ex: &Exchange<'_>) -> String {
    let mut key = String::with_capacity(counter.len() + 48);
    key.push_str(counter);
    for part in parts {
        key.push('|');
        match part {
            KeyPart::Ip => {
                let _ = write!(key, "{}", ex.client_ip);
            }
            KeyPart::Principal => match &ex.principal {
                Some(p) => {
                    key.push_str("p=");
                    key.push_str(&p.id);
                }
                None => {
                    let _ = write!(key, "ip={}", ex.client_ip);
                }
            },
            KeyPart::ApiKey => match ex
                .principal
                .as_ref()
                .and_then(|p| p.claims.get("key_prefix"))
                .and_then(|v| v.as_str())
            {
                Some(prefix) => key.push_str(prefix),
                None => {
                    let _ = write!(key, "ip={}", ex.client_ip);
                }
            },
            KeyPart::Route => key.push_str(route),
            KeyPart::Header(h) => match ex.request.headers.get(h) {
                Some(v) => {
                    key.push_str(&String::from_utf8_lossy(&v.as_bytes()[..v.len().min(256)]))
                }
                None => key.push('-'),
            },
        }
    }
    key
}
